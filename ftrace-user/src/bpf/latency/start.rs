//! Loading and attaching the aggregator of each spec:
//!
//! - `syscalls`: raw tracepoints sys_enter, sys_exit and sched_switch (flat tables, or
//!   hashed per command name for `syscalls:by-comm`);
//! - `irq`, `softirq`: raw tracepoints on the handlers' entry and exit (per CPU);
//! - `runq`: raw sched tracepoints (wakeup, wakeup_new, switch) reading task_struct at
//!   offsets from the kernel's BTF;
//! - `uprobe:PATH:SYMBOL`: uprobe and uretprobe at the symbol's file offset;
//! - `func:KFUNC`: fentry and fexit, else kprobe and kretprobe;
//! - `pair:…`: classic tracepoints on the two events (their records hold the key);
//! - `kvm-exit`: kvm_exit → kvm_entry as a pair where the kernel has them, else KVM_RUN
//!   ioctl round trips on the raw syscall tracepoints;
//! - `block`: classic block_rq_issue and block_rq_complete, matched per request.

use aya::{
    Btf, Ebpf, EbpfLoader,
    programs::{
        FEntry, FExit, KProbe, RawTracePoint, TracePoint, UProbe,
        uprobe::{UProbeAttachLocation, UProbeScope},
    },
};
use ftrace_common::hist::{CAPPED_SLOTS, PAIR_KEYS, SYSCALL_KEYS};

use super::{
    AggregatorError, HashedKeys, LatencyAggregator, Scope, Tables, names,
    stacks::{STACK_SAMPLE_MAPS, StackOptions},
};
use crate::{
    bpf::{EBPF_OBJECT, OUTLIER_RING, loader_keeping},
    format::{EventFormat, FieldKind, parse_event_format},
    hist::{Spec, syscall_names::syscall_name},
    kvm::exit_reasons::ReasonNames,
    symbolize::{btf::Btf as KernelTypes, elf::symbol_file_offset},
    tracefs::{EventId, Tracefs},
};

/// A loader keeping the named tables, with the scope's globals set.
type ScopedLoader<'a> = dyn Fn(&[&str]) -> EbpfLoader<'a> + 'a;

/// The tables of the per-thread and per-request aggregators.
const HASHED_MAPS: [&str; 4] = [
    "THREAD_START",
    "THREAD_COMM",
    "HASHED_SLOTS",
    "HASHED_TOTALS",
];

impl LatencyAggregator {
    /// Loads and attaches the aggregator of `spec`; `scope` limits the per-thread specs
    /// (syscalls, uprobe, func, pair, kvm-exit) to one process or command name.
    pub fn start(spec: &Spec, scope: &Scope) -> Result<LatencyAggregator, AggregatorError> {
        Self::start_with_outliers(spec, scope, 0)
    }

    /// [`LatencyAggregator::start`], also sending every sample longer than
    /// `outlier_ns` (0: none) to [`LatencyAggregator::outliers`].
    pub fn start_with_outliers(
        spec: &Spec,
        scope: &Scope,
        outlier_ns: u64,
    ) -> Result<LatencyAggregator, AggregatorError> {
        Self::start_with(spec, scope, outlier_ns, None)
    }

    /// [`LatencyAggregator::start_with_outliers`], also keying every sample by the
    /// kernel and user stacks at its begin hook with `stack_options` (`hist --stacks`; read
    /// with [`LatencyAggregator::take_stack_samples`]).
    pub fn start_with(
        spec: &Spec,
        scope: &Scope,
        outlier_ns: u64,
        stack_options: Option<&StackOptions>,
    ) -> Result<LatencyAggregator, AggregatorError> {
        let stacks = stack_options.is_some();
        if stacks && matches!(spec, Spec::Runq { .. } | Spec::Block) {
            return Err(AggregatorError::Target {
                path: spec.to_string(),
                reason: "--stacks: the latency of this spec begins in another task (the \
                         waker, the issuer of a request), whose stack says nothing of it"
                    .into(),
            });
        }
        let tgid = scope.tgid;
        let comm = scope.comm_words();
        let stacks_on = u32::from(stacks);
        let (tgid_ref, comm_ref, outlier_ref, stacks_ref) = (&tgid, &comm, &outlier_ns, &stacks_on);
        let scoped = move |keep: &[&str]| {
            let mut keep = keep.to_vec();
            if outlier_ns > 0 {
                keep.push(OUTLIER_RING);
            }
            if stacks {
                keep.extend_from_slice(&STACK_SAMPLE_MAPS);
            }
            let mut loader = loader_keeping(&keep);
            loader
                .override_global("TARGET_TGID", tgid_ref, true)
                .override_global("TARGET_COMM", comm_ref, true)
                .override_global("OUTLIER_NS", outlier_ref, true)
                .override_global("STACKS_ON", stacks_ref, true);
            loader
        };
        let mut aggregator = match spec {
            Spec::Syscalls { by_comm } => syscalls(&scoped, *by_comm),
            Spec::Irq => irq(&scoped),
            Spec::Softirq => cpu_pair(
                &scoped,
                "softirq_entry",
                "softirq_exit",
                16,
                names::softirq_name,
            ),
            Spec::Runq { by_comm } => runq(&scoped, *by_comm),
            Spec::Uprobe { path, symbol } => uprobe(&scoped, path, symbol, tgid),
            Spec::Func { function } => kernel_function(&scoped, function),
            Spec::Pair { begin, end, key } => {
                let event = |(system, name): &(String, String)| EventId {
                    system: system.clone(),
                    name: name.clone(),
                };
                let label = key.clone();
                event_pair(
                    &scoped,
                    &tracefs()?,
                    &event(begin),
                    &event(end),
                    key.as_deref(),
                    move |value| match &label {
                        Some(field) => format!("{field}={value}"),
                        None => "all".to_string(),
                    },
                )
            }
            Spec::KvmExit => kvm_exit(&scoped, &tracefs()?),
            Spec::Block => block(&scoped, &tracefs()?),
        }?;
        aggregator.spec = spec.clone();
        aggregator.diagnostics =
            crate::bpf::diagnostics::Diagnostics::start(&mut aggregator.ebpf, &spec.to_string());
        if let Some(options) = stack_options {
            aggregator.start_stack_drain(options)?;
        }
        Ok(aggregator)
    }
}

fn tracefs() -> Result<Tracefs, AggregatorError> {
    Tracefs::open().map_err(|e| AggregatorError::Target {
        path: "tracefs".into(),
        reason: e.to_string(),
    })
}

fn load(loader: &mut EbpfLoader<'_>) -> Result<Ebpf, AggregatorError> {
    // The aggregators report their rare failures with -v.
    crate::bpf::diagnostics::configure(loader, true);
    loader
        .load(EBPF_OBJECT)
        .map_err(|e| AggregatorError::Load(Box::new(e)))
}

fn aggregator(
    ebpf: Ebpf,
    tables: Tables,
    programs: Vec<&'static str>,
    key_name: impl Fn(u64) -> String + Send + 'static,
) -> LatencyAggregator {
    LatencyAggregator {
        // Replaced by `start` with the spec asked for.
        spec: Spec::Irq,
        note: None,
        ebpf,
        tables,
        programs,
        key_name: Box::new(key_name),
        stack_drain: None,
        diagnostics: None,
    }
}

/// Loads program `name` as `P` and attaches it with `attach`.
fn attach<P>(
    ebpf: &mut Ebpf,
    program: &'static str,
    target: &str,
    attach: impl FnOnce(&mut P) -> Result<(), aya::programs::ProgramError>,
) -> Result<(), AggregatorError>
where
    for<'a> &'a mut P: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let attach_error = |source| AggregatorError::Attach {
        program,
        target: target.to_string(),
        source,
    };
    let prog: &mut P = ebpf
        .program_mut(program)
        .ok_or(AggregatorError::Missing { name: program })?
        .try_into()
        .map_err(attach_error)?;
    attach(prog).map_err(attach_error)
}

fn attach_raw(
    ebpf: &mut Ebpf,
    program: &'static str,
    tracepoint: &str,
) -> Result<(), AggregatorError> {
    attach(ebpf, program, tracepoint, |p: &mut RawTracePoint| {
        p.load()?;
        p.attach(tracepoint).map(drop)
    })
}

fn attach_classic(
    ebpf: &mut Ebpf,
    program: &'static str,
    events: &[EventId],
) -> Result<(), AggregatorError> {
    let target = events
        .iter()
        .map(std::string::ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    attach(ebpf, program, &target, |p: &mut TracePoint| {
        p.load()?;
        for event in events {
            p.attach(&event.system, &event.name)?;
        }
        Ok(())
    })
}

fn syscalls(
    scoped: &ScopedLoader<'_>,
    by_comm: bool,
) -> Result<LatencyAggregator, AggregatorError> {
    let exit = if by_comm {
        "syscall_comm_exit"
    } else {
        "syscall_latency_exit"
    };
    let keep: &[&str] = if by_comm {
        &["SYSCALL_START", "SYSCALL_COMM_SLOTS", "SYSCALL_COMM_TOTALS"]
    } else {
        &["SYSCALL_SLOTS", "SYSCALL_TOTALS", "SYSCALL_START"]
    };
    let mut ebpf = load(&mut scoped(keep))?;
    attach_raw(&mut ebpf, "syscall_latency_switch", "sched_switch")?;
    attach_raw(&mut ebpf, "syscall_latency_enter", "sys_enter")?;
    attach_raw(&mut ebpf, exit, "sys_exit")?;
    let programs = vec!["syscall_latency_switch", "syscall_latency_enter", exit];
    let tables = if by_comm {
        Tables::ByComm
    } else {
        Tables::Flat {
            slots: "SYSCALL_SLOTS",
            totals: "SYSCALL_TOTALS",
            lost: "SYSCALL_LOST",
            keys: SYSCALL_KEYS,
        }
    };
    Ok(aggregator(ebpf, tables, programs, syscall_name))
}

fn irq(scoped: &ScopedLoader<'_>) -> Result<LatencyAggregator, AggregatorError> {
    let names = names::irq_names(&std::fs::read_to_string("/proc/interrupts").unwrap_or_default());
    cpu_pair(
        scoped,
        "irq_handler_entry",
        "irq_handler_exit",
        PAIR_KEYS,
        move |irq| match names.get(&irq) {
            Some(name) => format!("{irq} {name}"),
            None => irq.to_string(),
        },
    )
}

fn cpu_pair(
    scoped: &ScopedLoader<'_>,
    begin: &'static str,
    end: &'static str,
    keys: u32,
    key_name: impl Fn(u64) -> String + Send + 'static,
) -> Result<LatencyAggregator, AggregatorError> {
    let mut loader = scoped(&[]);
    loader
        .map_max_entries("PAIR_SLOTS", keys * CAPPED_SLOTS)
        .map_max_entries("PAIR_TOTALS", keys);
    let mut ebpf = load(&mut loader)?;
    attach_raw(&mut ebpf, "cpu_pair_begin", begin)?;
    attach_raw(&mut ebpf, "cpu_pair_end", end)?;
    let tables = Tables::Flat {
        slots: "PAIR_SLOTS",
        totals: "PAIR_TOTALS",
        lost: "PAIR_LOST",
        keys,
    };
    Ok(aggregator(
        ebpf,
        tables,
        vec!["cpu_pair_begin", "cpu_pair_end"],
        key_name,
    ))
}

fn uprobe(
    scoped: &ScopedLoader<'_>,
    path: &str,
    symbol: &str,
    tgid: u32,
) -> Result<LatencyAggregator, AggregatorError> {
    let target_error = |reason: String| AggregatorError::Target {
        path: path.to_string(),
        reason,
    };
    let elf = std::fs::read(path).map_err(|e| target_error(e.to_string()))?;
    let offset = symbol_file_offset(&elf, symbol).map_err(|e| target_error(e.to_string()))?;
    let scope = match std::num::NonZeroU32::new(tgid) {
        Some(pid) => UProbeScope::OneProcess(pid),
        None => UProbeScope::AllProcesses,
    };
    let mut ebpf = load(&mut scoped(&[
        "FUNC_SLOTS",
        "FUNC_CALLS",
        "EMPTY_CALL_STACK",
    ]))?;
    let target = format!("{path}:{symbol}");
    for program in ["func_latency_entry", "func_latency_exit"] {
        attach(&mut ebpf, program, &target, |p: &mut UProbe| {
            p.load()?;
            p.attach(UProbeAttachLocation::AbsoluteOffset(offset), path, scope)
                .map(drop)
        })?;
    }
    let tables = Tables::Flat {
        slots: "FUNC_SLOTS",
        totals: "FUNC_TOTALS",
        lost: "FUNC_LOST",
        keys: 1,
    };
    let name = symbol.to_string();
    let programs = vec!["func_latency_entry", "func_latency_exit"];
    Ok(aggregator(ebpf, tables, programs, move |_| name.clone()))
}

fn kernel_function(
    scoped: &ScopedLoader<'_>,
    function: &str,
) -> Result<LatencyAggregator, AggregatorError> {
    let hashed = |ebpf, programs| {
        let name = function.to_string();
        aggregator(
            ebpf,
            Tables::Hashed {
                keys: HashedKeys::Plain,
            },
            programs,
            move |_| name.clone(),
        )
    };
    // The per-thread call stacks instead of the one start per thread.
    let loader = || {
        scoped(&[
            "THREAD_CALLS",
            "EMPTY_CALL_STACK",
            "THREAD_COMM",
            "HASHED_SLOTS",
            "HASHED_TOTALS",
        ])
    };
    let fentry_error = match fentry(&mut loader(), function) {
        Ok(ebpf) => return Ok(hashed(ebpf, vec!["kfunc_fentry", "kfunc_fexit"])),
        Err(e) => crate::notes::chain(&e),
    };
    let kprobe_error = match kprobe(&mut loader(), function) {
        Ok(ebpf) => return Ok(hashed(ebpf, vec!["kfunc_kprobe", "kfunc_kretprobe"])),
        Err(e) => crate::notes::chain(&e),
    };
    Err(AggregatorError::Refused {
        function: function.to_string(),
        fentry: fentry_error,
        kprobe: kprobe_error,
    })
}

fn fentry(loader: &mut EbpfLoader<'_>, function: &str) -> Result<Ebpf, AggregatorError> {
    let btf = Btf::from_sys_fs().map_err(|e| AggregatorError::Target {
        path: "/sys/kernel/btf/vmlinux".into(),
        reason: e.to_string(),
    })?;
    let mut ebpf = load(loader)?;
    attach(&mut ebpf, "kfunc_fentry", function, |p: &mut FEntry| {
        p.load(function, &btf)?;
        p.attach().map(drop)
    })?;
    attach(&mut ebpf, "kfunc_fexit", function, |p: &mut FExit| {
        p.load(function, &btf)?;
        p.attach().map(drop)
    })?;
    Ok(ebpf)
}

fn kprobe(loader: &mut EbpfLoader<'_>, function: &str) -> Result<Ebpf, AggregatorError> {
    let mut ebpf = load(loader)?;
    for program in ["kfunc_kprobe", "kfunc_kretprobe"] {
        attach(&mut ebpf, program, function, |p: &mut KProbe| {
            p.load()?;
            p.attach(function, 0).map(drop)
        })?;
    }
    Ok(ebpf)
}

/// The parsed format of `event`.
fn format_of(tracefs: &Tracefs, event: &EventId) -> Result<EventFormat, AggregatorError> {
    let target_error = |reason: String| AggregatorError::Target {
        path: event.to_string(),
        reason,
    };
    let text = tracefs
        .event_format(event)
        .map_err(|e| target_error(e.to_string()))?;
    parse_event_format(&event.system, &text).map_err(|e| target_error(e.to_string()))
}

/// The offset and size of integer field `field` in `event`'s record.
fn field_of(
    tracefs: &Tracefs,
    event: &EventId,
    field: &str,
) -> Result<(u32, u32), AggregatorError> {
    format_of(tracefs, event)?
        .field(field)
        .filter(|f| matches!(f.size, 1 | 2 | 4 | 8) && f.kind == FieldKind::Scalar)
        .map(|f| (f.offset as u32, f.size as u32))
        .ok_or_else(|| AggregatorError::Target {
            path: event.to_string(),
            reason: format!("no integer field {field}"),
        })
}

fn runq(scoped: &ScopedLoader<'_>, by_comm: bool) -> Result<LatencyAggregator, AggregatorError> {
    let btf_error = |reason: String| AggregatorError::Target {
        path: "/sys/kernel/btf/vmlinux".into(),
        reason,
    };
    let bytes = std::fs::read("/sys/kernel/btf/vmlinux")
        .map_err(|e| btf_error(format!("{e} (runq reads task_struct through kernel BTF)")))?;
    let btf = KernelTypes::parse(&bytes).map_err(|e| btf_error(e.to_string()))?;
    let pid = btf
        .member_offset("task_struct", "pid")
        .map_err(|e| btf_error(e.to_string()))?;
    let comm = btf
        .member_offset("task_struct", "comm")
        .map_err(|e| btf_error(e.to_string()))?;
    // The context pointer, then (preempt, prev, next, prev_state) since Linux 5.18.
    match btf.typedef_proto_params("btf_trace_sched_switch") {
        Ok(5) => {}
        Ok(n) => {
            return Err(btf_error(format!(
                "sched_switch's raw tracepoint has {} arguments, not (preempt, prev, next, \
                 prev_state) as since Linux 5.18",
                n.saturating_sub(1)
            )));
        }
        Err(e) => return Err(btf_error(e.to_string())),
    }
    let by_comm_flag = u32::from(by_comm);
    let mut keep = vec!["RUNQ_START", "RUNQ_SLOTS", "RUNQ_TOTALS"];
    if by_comm {
        keep.extend(HASHED_MAPS);
    }
    let mut loader = scoped(&keep);
    loader
        .override_global("RUNQ_TASK_PID_OFFSET", &pid, true)
        .override_global("RUNQ_TASK_COMM_OFFSET", &comm, true)
        .override_global("RUNQ_BY_COMM", &by_comm_flag, true);
    let mut ebpf = load(&mut loader)?;
    attach(
        &mut ebpf,
        "runq_wakeup",
        "sched_wakeup, sched_wakeup_new",
        |p: &mut RawTracePoint| {
            p.load()?;
            p.attach("sched_wakeup")?;
            p.attach("sched_wakeup_new").map(drop)
        },
    )?;
    attach_raw(&mut ebpf, "runq_switch", "sched_switch")?;
    let tables = if by_comm {
        Tables::Hashed {
            keys: HashedKeys::Comms,
        }
    } else {
        Tables::Flat {
            slots: "RUNQ_SLOTS",
            totals: "RUNQ_TOTALS",
            lost: "RUNQ_LOST",
            keys: PAIR_KEYS,
        }
    };
    Ok(aggregator(
        ebpf,
        tables,
        vec!["runq_wakeup", "runq_switch"],
        |cpu| format!("cpu{cpu}"),
    ))
}

fn event_pair(
    scoped: &ScopedLoader<'_>,
    tracefs: &Tracefs,
    begin: &EventId,
    end: &EventId,
    key: Option<&str>,
    key_name: impl Fn(u64) -> String + Send + 'static,
) -> Result<LatencyAggregator, AggregatorError> {
    // Both events must exist; the key comes from the begin event.
    let (offset, size) = match key {
        Some(field) => field_of(tracefs, begin, field)?,
        None => {
            tracefs
                .event_id(begin)
                .map_err(|e| AggregatorError::Target {
                    path: begin.to_string(),
                    reason: e.to_string(),
                })?;
            (0, 0)
        }
    };
    tracefs.event_id(end).map_err(|e| AggregatorError::Target {
        path: end.to_string(),
        reason: e.to_string(),
    })?;
    let mut loader = scoped(&HASHED_MAPS);
    loader
        .override_global("EVENT_PAIR_KEY_OFFSET", &offset, true)
        .override_global("EVENT_PAIR_KEY_SIZE", &size, true);
    let mut ebpf = load(&mut loader)?;
    attach_classic(&mut ebpf, "event_pair_begin", std::slice::from_ref(begin))?;
    attach_classic(&mut ebpf, "event_pair_end", std::slice::from_ref(end))?;
    let programs = vec!["event_pair_begin", "event_pair_end"];
    Ok(aggregator(
        ebpf,
        Tables::Hashed {
            keys: HashedKeys::Plain,
        },
        programs,
        key_name,
    ))
}

/// The KVM vendor module loaded (kvm_intel, kvm_amd, or another such as kvm_pvm).
fn kvm_vendor() -> Option<String> {
    let modules = std::fs::read_dir("/sys/module").ok()?;
    modules
        .filter_map(|m| m.ok()?.file_name().into_string().ok())
        .find(|name| name.starts_with("kvm_") && name != "kvm_common")
}

fn kvm_exit(
    scoped: &ScopedLoader<'_>,
    tracefs: &Tracefs,
) -> Result<LatencyAggregator, AggregatorError> {
    let kvm = |name: &str| EventId {
        system: "kvm".into(),
        name: name.into(),
    };
    let has_events =
        tracefs.event_id(&kvm("kvm_exit")).is_ok() && tracefs.event_id(&kvm("kvm_entry")).is_ok();
    let vendor = kvm_vendor();
    // Only the VMX and SVM backends call the kvm_exit and kvm_entry tracepoints.
    if has_events && matches!(vendor.as_deref(), Some("kvm_intel" | "kvm_amd")) {
        // Keys named as the kernel prints them, from kvm_exit's own print fmt.
        let (names, unnamed) =
            match ReasonNames::new(&format_of(tracefs, &kvm("kvm_exit"))?, "exit_reason") {
                Ok(names) => (Some(names), None),
                Err(e) => (None, Some(format!("{e}; exit reasons keyed by number"))),
            };
        // kvm_exit's isa: 1 VMX, 2 SVM.
        let isa = if vendor.as_deref() == Some("kvm_intel") {
            1
        } else {
            2
        };
        let mut aggregator = event_pair(
            scoped,
            tracefs,
            &kvm("kvm_exit"),
            &kvm("kvm_entry"),
            Some("exit_reason"),
            move |reason| {
                names
                    .as_ref()
                    .and_then(|names| names.name(reason, Some(isa)))
                    .unwrap_or_else(|| format!("exit_reason {reason}"))
            },
        )?;
        aggregator.note = unnamed;
        return Ok(aggregator);
    }
    let why = match (has_events, vendor) {
        (false, _) => "this kernel has no kvm:kvm_exit / kvm:kvm_entry events".to_string(),
        (true, Some(vendor)) => format!(
            "kvm:kvm_exit / kvm:kvm_entry are emitted by kvm_intel and kvm_amd only, and \
             this kernel runs KVM on {vendor}"
        ),
        (true, None) => "no KVM backend module is loaded, so kvm:kvm_exit never fires".to_string(),
    };
    let mut ebpf = load(&mut scoped(&HASHED_MAPS))?;
    attach_raw(&mut ebpf, "kvm_run_enter", "sys_enter")?;
    attach_raw(&mut ebpf, "kvm_run_exit", "sys_exit")?;
    let mut aggregator = aggregator(
        ebpf,
        Tables::Hashed {
            keys: HashedKeys::Threads,
        },
        vec!["kvm_run_enter", "kvm_run_exit"],
        |tid| format!("tid {tid}"),
    );
    aggregator.note = Some(format!(
        "{why}; measuring KVM_RUN ioctl round trips per vCPU thread instead"
    ));
    Ok(aggregator)
}

fn block(
    scoped: &ScopedLoader<'_>,
    tracefs: &Tracefs,
) -> Result<LatencyAggregator, AggregatorError> {
    let event = |name: &str| EventId {
        system: "block".into(),
        name: name.into(),
    };
    let (issue, complete) = (event("block_rq_issue"), event("block_rq_complete"));
    let issue_dev = field_of(tracefs, &issue, "dev")?.0;
    let issue_sector = field_of(tracefs, &issue, "sector")?.0;
    let complete_dev = field_of(tracefs, &complete, "dev")?.0;
    let complete_sector = field_of(tracefs, &complete, "sector")?.0;
    let mut keep = HASHED_MAPS.to_vec();
    keep.push("BLOCK_START");
    let mut loader = scoped(&keep);
    loader
        .override_global("BLOCK_ISSUE_DEV_OFFSET", &issue_dev, true)
        .override_global("BLOCK_ISSUE_SECTOR_OFFSET", &issue_sector, true)
        .override_global("BLOCK_COMPLETE_DEV_OFFSET", &complete_dev, true)
        .override_global("BLOCK_COMPLETE_SECTOR_OFFSET", &complete_sector, true);
    let mut ebpf = load(&mut loader)?;
    attach_classic(&mut ebpf, "block_issue", &[issue])?;
    attach_classic(&mut ebpf, "block_complete", &[complete])?;
    let programs = vec!["block_issue", "block_complete"];
    Ok(aggregator(
        ebpf,
        Tables::Hashed {
            keys: HashedKeys::Plain,
        },
        programs,
        names::block_device_name,
    ))
}
