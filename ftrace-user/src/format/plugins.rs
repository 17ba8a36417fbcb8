//! Events trace-cmd prints through its own plugins rather than their print fmt: the
//! scheduler's switch and wakeup events, in the compact form
//! `prev:pid [prio] S ==> next:pid [prio]` and `comm:pid [prio] CPU:003`. Matching
//! them keeps `hytrace report` line-for-line comparable with `trace-cmd report`.

use std::io::Write as _;

use super::{
    Field, FieldKind,
    printfmt::eval::{field_bytes, read_int},
};

/// Task state letters by bit, as trace-cmd's sched_switch plugin prints them.
const STATE_LETTERS: &[u8] = b"SDTtZXxW";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plugin {
    /// Field indexes of prev_comm, prev_pid, prev_prio, prev_state, next_comm, next_pid,
    /// next_prio.
    SchedSwitch([usize; 7]),
    /// comm, pid, prio, and target_cpu / success if the event has them.
    SchedWakeup {
        comm: usize,
        pid: usize,
        prio: Option<usize>,
        success: Option<usize>,
        target_cpu: Option<usize>,
    },
}

fn index(fields: &[Field], name: &str) -> Option<usize> {
    fields.iter().position(|f| f.name == name)
}

impl Plugin {
    pub fn for_event(system: &str, name: &str, fields: &[Field]) -> Option<Plugin> {
        if system != "sched" {
            return None;
        }
        match name {
            "sched_switch" => {
                let names = [
                    "prev_comm",
                    "prev_pid",
                    "prev_prio",
                    "prev_state",
                    "next_comm",
                    "next_pid",
                    "next_prio",
                ];
                let mut indexes = [0; 7];
                for (slot, name) in indexes.iter_mut().zip(names) {
                    *slot = index(fields, name)?;
                }
                Some(Plugin::SchedSwitch(indexes))
            }
            "sched_wakeup" | "sched_wakeup_new" => Some(Plugin::SchedWakeup {
                comm: index(fields, "comm")?,
                pid: index(fields, "pid")?,
                prio: index(fields, "prio"),
                success: index(fields, "success"),
                target_cpu: index(fields, "target_cpu"),
            }),
            _ => None,
        }
    }

    /// Appends the plugin's text; false if the record is too short.
    pub fn render(&self, fields: &[Field], data: &[u8], out: &mut Vec<u8>) -> bool {
        self.try_render(fields, data, out).is_some()
    }

    fn try_render(&self, fields: &[Field], data: &[u8], out: &mut Vec<u8>) -> Option<()> {
        let int = |i: usize| {
            let f = &fields[i];
            read_int(data.get(f.offset..)?, f.size, f.signed)
        };
        match self {
            Plugin::SchedSwitch(
                [
                    prev_comm,
                    prev_pid,
                    prev_prio,
                    prev_state,
                    next_comm,
                    next_pid,
                    next_prio,
                ],
            ) => {
                out.extend_from_slice(comm(&fields[*prev_comm], data)?);
                let _ = write!(out, ":{} [{}] ", int(*prev_pid)?, int(*prev_prio)? as i32);
                write_state(out, int(*prev_state)?);
                out.extend_from_slice(b" ==> ");
                out.extend_from_slice(comm(&fields[*next_comm], data)?);
                let _ = write!(out, ":{} [{}]", int(*next_pid)?, int(*next_prio)? as i32);
            }
            Plugin::SchedWakeup {
                comm: c,
                pid,
                prio,
                success,
                target_cpu,
            } => {
                out.extend_from_slice(comm(&fields[*c], data)?);
                let _ = write!(out, ":{}", int(*pid)?);
                if let Some(prio) = prio {
                    let _ = write!(out, " [{}]", int(*prio)?);
                }
                if let Some(success) = success {
                    let _ = write!(out, " success={}", int(*success)?);
                }
                if let Some(cpu) = target_cpu {
                    let _ = write!(out, " CPU:{:03}", int(*cpu)? as u64);
                }
            }
        }
        Some(())
    }

    /// (pid, comm) pairs the event names, which trace-cmd remembers for later lines.
    pub fn comms<'a>(&self, fields: &[Field], data: &'a [u8]) -> [Option<(i32, &'a [u8])>; 2] {
        let pair = |c: usize, p: usize| {
            let f = &fields[p];
            let pid = read_int(data.get(f.offset..)?, f.size, f.signed)? as i32;
            Some((pid, comm(&fields[c], data)?))
        };
        match self {
            Plugin::SchedSwitch(i) => [pair(i[0], i[1]), pair(i[4], i[5])],
            Plugin::SchedWakeup { comm, pid, .. } => [pair(*comm, *pid), None],
        }
    }
}

fn comm<'a>(field: &Field, data: &'a [u8]) -> Option<&'a [u8]> {
    let bytes = if field.kind == FieldKind::Scalar {
        None
    } else {
        field_bytes(field, data)
    }?;
    Some(match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    })
}

fn write_state(out: &mut Vec<u8>, state: i128) {
    let mut found = false;
    for (bit, letter) in STATE_LETTERS.iter().enumerate() {
        if state & (1 << bit) == 0 {
            continue;
        }
        if found {
            out.push(b'|');
        }
        found = true;
        out.push(*letter);
    }
    if !found {
        out.push(b'R');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_print_like_trace_cmd() {
        for (state, text) in [
            (0, "R"),
            (1, "S"),
            (2, "D"),
            (32, "X"),
            (128, "W"),
            (3, "S|D"),
        ] {
            let mut out = Vec::new();
            write_state(&mut out, state);
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
    }
}
