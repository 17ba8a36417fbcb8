//! function_graph events into ftrace's call-graph text, line for line as the kernel's
//! `trace` file prints them: leaf calls on one line (`func();`), nested calls opened
//! with `func() {` and closed with `}` (or `} /* func */` when the opening was not
//! seen), durations with their overhead marks, irq entry/exit arrows around functions
//! in the irq entry text, and a separator when a CPU switches tasks (pure).

use super::call_graph_columns::{FILL_FULL, INDENT, cpu_column, duration_column, task_column};
use crate::graph::{GraphEvent, GraphSymbols};

/// Per-CPU state the kernel keeps while printing.
#[derive(Debug, Clone, Default)]
struct CpuState {
    last_pid: Option<i32>,
    depth: i64,
    /// The function printed opened at each depth (0: none).
    open: Vec<u64>,
}

/// Renders `events` (merged in time order) as ftrace's function_graph text. `cpus` is
/// the number of CPUs (for the width of the CPU column).
pub fn render(events: &[GraphEvent], cpus: u32, symbols: &dyn GraphSymbols) -> String {
    let width = super::call_graph_columns::cpu_width(cpus.max(1));
    // For leaf detection: the next event of the same CPU.
    let mut next_on_cpu = vec![None; events.len()];
    let mut last_seen: std::collections::HashMap<u32, usize> = Default::default();
    for (index, event) in events.iter().enumerate().rev() {
        next_on_cpu[index] = last_seen.get(&event.cpu()).copied();
        last_seen.insert(event.cpu(), index);
    }
    let mut consumed = vec![false; events.len()];
    let mut states: std::collections::HashMap<u32, CpuState> = Default::default();
    let mut out = String::new();
    for (index, event) in events.iter().enumerate() {
        if consumed[index] {
            continue;
        }
        let cpu = event.cpu();
        let state = states.entry(cpu).or_default();
        match event {
            GraphEvent::Entry {
                pid, func, depth, ..
            } => {
                switch_separator(&mut out, state, cpu, *pid, width, symbols);
                if symbols.is_irq_entry(*func) {
                    irq_arrow(&mut out, cpu, width, "==========>");
                }
                let leaf = next_on_cpu[index].filter(|&next| {
                    matches!(&events[next], GraphEvent::Exit { pid: p, func: f, .. } if p == pid && f == func)
                });
                cpu_column(&mut out, cpu, width);
                match leaf.map(|next| (next, &events[next])) {
                    Some((
                        next,
                        GraphEvent::Exit {
                            calltime, rettime, ..
                        },
                    )) => {
                        consumed[next] = true;
                        state.depth = i64::from(*depth) - 1;
                        duration_column(&mut out, rettime.saturating_sub(*calltime));
                        indent(&mut out, *depth);
                        out.push_str(&symbols.function(*func));
                        out.push_str("();\n");
                        if symbols.is_irq_entry(*func) {
                            irq_arrow(&mut out, cpu, width, "<==========");
                        }
                    }
                    _ => {
                        state.depth = i64::from(*depth);
                        let slot = *depth as usize;
                        if state.open.len() <= slot {
                            state.open.resize(slot + 1, 0);
                        }
                        state.open[slot] = *func;
                        out.push_str(FILL_FULL);
                        indent(&mut out, *depth);
                        out.push_str(&symbols.function(*func));
                        out.push_str("() {\n");
                    }
                }
            }
            GraphEvent::Exit {
                pid,
                func,
                depth,
                calltime,
                rettime,
                ..
            } => {
                switch_separator(&mut out, state, cpu, *pid, width, symbols);
                state.depth = i64::from(*depth) - 1;
                let slot = *depth as usize;
                let matched = state.open.get(slot) == Some(func);
                if let Some(open) = state.open.get_mut(slot) {
                    *open = 0;
                }
                cpu_column(&mut out, cpu, width);
                duration_column(&mut out, rettime.saturating_sub(*calltime));
                indent(&mut out, *depth);
                if matched {
                    out.push_str("}\n");
                } else {
                    out.push_str("} /* ");
                    out.push_str(&symbols.function(*func));
                    out.push_str(" */\n");
                }
                if symbols.is_irq_entry(*func) {
                    irq_arrow(&mut out, cpu, width, "<==========");
                }
            }
            GraphEvent::Comment { pid, text, .. } => {
                switch_separator(&mut out, state, cpu, *pid, width, symbols);
                cpu_column(&mut out, cpu, width);
                out.push_str(FILL_FULL);
                if state.depth > 0 {
                    out.extend(std::iter::repeat_n(
                        ' ',
                        (state.depth as usize + 1) * INDENT,
                    ));
                }
                out.push_str("/* ");
                out.push_str(text.trim_end());
                out.push_str(" */\n");
            }
            GraphEvent::Lost { count, .. } => {
                // ftrace's own line for a loss.
                match count {
                    Some(count) => out.push_str(&format!("CPU:{cpu} [LOST {count} EVENTS]\n")),
                    None => out.push_str(&format!("CPU:{cpu} [LOST EVENTS]\n")),
                }
                // What was open may have closed unseen.
                state.open.clear();
            }
        }
    }
    out
}

fn indent(out: &mut String, depth: u32) {
    out.extend(std::iter::repeat_n(' ', depth as usize * INDENT));
}

fn irq_arrow(out: &mut String, cpu: u32, width: usize, arrow: &str) {
    cpu_column(out, cpu, width);
    out.push_str("  ");
    out.push_str(arrow);
    out.push_str(" |\n");
}

/// The kernel's context-switch lines, when a CPU's events change task.
fn switch_separator(
    out: &mut String,
    state: &mut CpuState,
    cpu: u32,
    pid: i32,
    width: usize,
    symbols: &dyn GraphSymbols,
) {
    let previous = state.last_pid.replace(pid);
    let Some(previous) = previous.filter(|&p| p != pid) else {
        return;
    };
    out.push_str(" ------------------------------------------\n");
    cpu_column(out, cpu, width);
    task_column(out, &symbols.comm(previous), previous);
    out.push_str(" => ");
    task_column(out, &symbols.comm(pid), pid);
    out.push_str("\n ------------------------------------------\n\n");
}

/// ftrace's header of the function_graph tracer.
pub const HEADER: &str = "# tracer: function_graph\n#\n# CPU  DURATION                  FUNCTION CALLS\n# |     |   |                     |   |   |   |\n";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::test_events::{entry, exit};

    struct Names;

    impl GraphSymbols for Names {
        fn function(&self, addr: u64) -> String {
            match addr {
                1 => "outer".into(),
                2 => "leaf".into(),
                3 => "irq_handler".into(),
                4 => "kvm_thing [kvm]".into(),
                _ => format!("0x{addr:x}"),
            }
        }
        fn is_irq_entry(&self, addr: u64) -> bool {
            addr == 3
        }
        fn comm(&self, pid: i32) -> String {
            if pid == 7 {
                "bash".into()
            } else {
                "cat".into()
            }
        }
    }

    #[test]
    fn nesting_leaves_closers_arrows_and_switches() {
        let events = [
            entry(0, 7, 1, 0),
            entry(0, 7, 2, 1),
            exit(0, 7, 2, 1, 80),
            entry(1, 8, 4, 0),
            entry(0, 7, 3, 1),
            exit(0, 7, 3, 1, 12_000),
            GraphEvent::Comment {
                cpu: 0,
                pid: 7,
                text: "sched_switch: x".into(),
            },
            exit(0, 7, 1, 0, 15_500),
            exit(1, 8, 2, 1, 300),
            entry(0, 9, 2, 0),
        ];
        let text = render(&events, 2, &Names);
        let expected = [
            " 0)               |  outer() {",
            " 0)   0.080 us    |    leaf();",
            " 1)               |  kvm_thing [kvm]() {",
            " 0)   ==========> |",
            " 0) + 12.000 us   |    irq_handler();",
            " 0)   <========== |",
            " 0)               |  /* sched_switch: x */",
            " 0) + 15.500 us   |  }",
            " 1)   0.300 us    |    } /* leaf */",
            " ------------------------------------------",
            " 0)     bash-7     =>     cat-9     ",
            " ------------------------------------------",
            "",
            " 0)               |  leaf() {",
            "",
        ]
        .join("\n");
        assert_eq!(text, expected);
    }

    /// A loss prints where the kernel said it happened, and a call opened before it is
    /// closed as one whose entry was not seen (its exit may belong to another call).
    #[test]
    fn losses_print_in_place_and_forget_open_calls() {
        let events = [
            entry(0, 7, 1, 0),
            GraphEvent::Lost {
                cpu: 0,
                count: Some(42),
            },
            exit(0, 7, 1, 0, 2_000),
            GraphEvent::Lost {
                cpu: 0,
                count: None,
            },
            entry(0, 7, 2, 0),
            exit(0, 7, 2, 0, 100),
        ];
        let text = render(&events, 1, &Names);
        let expected = [
            " 0)               |  outer() {",
            "CPU:0 [LOST 42 EVENTS]",
            " 0)   2.000 us    |  } /* outer */",
            "CPU:0 [LOST EVENTS]",
            " 0)   0.100 us    |  leaf();",
            "",
        ]
        .join("\n");
        assert_eq!(text, expected);
    }
}
