//! `hytrace kvm`.

use std::{
    collections::BTreeMap,
    io::{IsTerminal, Write as _},
    path::PathBuf,
};

use anyhow::{Context, Result, bail};

use super::{args::KvmArgs, record::is_root};
use crate::{
    kvm::{
        analysis::{Analysis, analyze, thread_groups},
        pieces::{KVM_EVENTS, KVM_RUN},
        qemu_log::{QemuLog, parse_log},
        summary::summarize,
    },
    output::{kvm_exits, kvm_json, kvm_timeline, record_summary, session_end},
    record::{RecordOptions, record},
    trace::Recording,
    tracefs::{EventId, Tracefs},
};

/// Default ring-buffer size per CPU of `kvm`, in KB.
const KVM_BUFFER_KB: u64 = 4096;

/// A QEMU log larger than this is refused (it is read whole).
const MAX_QEMU_LOG_BYTES: u64 = 4 << 30;

pub fn run(args: &KvmArgs) -> Result<i32> {
    // A recording cut short by a write error is analysed, and still a failure.
    let (path, complete) = match &args.input {
        Some(input) => (input.clone(), true),
        None => record_vm(args)?,
    };
    // Read after recording: QEMU writes its log while it runs.
    let log = args.qemu_log.as_ref().map(read_log).transpose()?;
    let recording = Recording::open(&path)?;
    let analysis = analyze(&recording, log.as_ref())?;
    let groups = thread_groups(&recording);
    let text = render(args, &analysis, &groups, &recording)?;
    // A closed pipe (`| head`) ends the command quietly, through main's error path.
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(if complete { 0 } else { 1 })
}

/// Everything `kvm` prints on stdout.
fn render(
    args: &KvmArgs,
    analysis: &Analysis,
    groups: &BTreeMap<i32, i32>,
    recording: &Recording,
) -> Result<String> {
    let pairing = &analysis.pairing;
    let vcpu_ok = |vcpu: Option<u32>| args.vcpu.is_none_or(|want| vcpu == Some(want));
    if let Some(want) = args.vcpu
        && !pairing.exits.iter().any(|e| e.vcpu == Some(want))
    {
        let known: Vec<String> = pairing
            .vcpu_threads
            .values()
            .flatten()
            .map(u32::to_string)
            .collect();
        bail!(
            "no exit of vCPU {want} in the recording (vCPU ids seen: {}; they come from \
             kvm_entry and kvm_exit)",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    let summary = summarize(pairing, |e| vcpu_ok(e.vcpu));
    if args.json {
        return Ok(kvm_json::summary(&summary) + "\n");
    }
    let mut out = String::new();
    out.push_str(&kvm_exits::unit_note(pairing.unit));
    // One table per VM where the recording says which threads belong together.
    let mut vms: BTreeMap<i32, ()> = BTreeMap::new();
    for tid in pairing.vcpu_threads.keys() {
        if let Some(&tgid) = groups.get(tid) {
            vms.insert(tgid, ());
        }
    }
    if vms.len() > 1 {
        for &vm in vms.keys() {
            let per_vm = summarize(pairing, |e| {
                vcpu_ok(e.vcpu) && groups.get(&e.tid) == Some(&vm)
            });
            let title = format!("VM {} (pid {vm})", recording.comm_at(vm, u64::MAX));
            out.push_str(&kvm_exits::table(&per_vm, &title));
            out.push('\n');
        }
    }
    let title = match args.vcpu {
        Some(vcpu) => format!("vCPU {vcpu}"),
        None if vms.len() > 1 => "all VMs".to_string(),
        None => "VM exits".to_string(),
    };
    out.push_str(&kvm_exits::table(&summary, &title));
    out.push_str(&kvm_exits::leftovers(&summary.unpaired, &summary.lost));
    if let Some(log) = &analysis.log {
        out.push_str(&kvm_exits::log_lines(log));
    }
    if args.timeline {
        out.push('\n');
        for exit in pairing.exits.iter().filter(|e| vcpu_ok(e.vcpu)) {
            kvm_timeline::line(exit, &mut out);
        }
    }
    Ok(out)
}

fn read_log(path: &PathBuf) -> Result<QemuLog> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read the QEMU log {}", path.display()))?
        .len();
    if size > MAX_QEMU_LOG_BYTES {
        bail!(
            "the QEMU log {} is {size} bytes, over the {MAX_QEMU_LOG_BYTES} read whole",
            path.display()
        );
    }
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the QEMU log {}", path.display()))?;
    let log = parse_log(&String::from_utf8_lossy(&bytes));
    for (line, error) in &log.malformed {
        eprintln!("hytrace: {}:{line}: {error}", path.display());
    }
    Ok(log)
}

/// Records the VM as the arguments say; returns the recording's path and whether
/// every page reached it (false after a write error).
fn record_vm(args: &KvmArgs) -> Result<(PathBuf, bool)> {
    if !is_root() {
        bail!("kvm needs root to record: it creates a tracefs instance (use -i FILE to analyse)");
    }
    let tracefs = Tracefs::open()?;
    let has = |system: &str, name: &str| {
        tracefs
            .event_id(&EventId {
                system: system.into(),
                name: name.into(),
            })
            .is_ok()
    };
    let mut events: Vec<(String, Option<String>)> = KVM_EVENTS
        .iter()
        .filter(|name| has("kvm", name))
        .map(|name| (format!("kvm:{name}"), None))
        .collect();
    if !has("kvm", "kvm_exit") && !has("kvm", "kvm_userspace_exit") {
        bail!(
            "this kernel has no kvm:kvm_exit or kvm:kvm_userspace_exit event: is the kvm module \
             loaded (modprobe kvm_amd or kvm_intel)?"
        );
    }
    if has("syscalls", "sys_enter_ioctl") && has("syscalls", "sys_exit_ioctl") {
        events.push((
            "syscalls:sys_enter_ioctl".into(),
            Some(format!("cmd == {KVM_RUN:#x}")),
        ));
        events.push(("syscalls:sys_exit_ioctl".into(), None));
    } else {
        eprintln!(
            "hytrace: this kernel has no syscalls:sys_enter_ioctl / sys_exit_ioctl events: \
             KVM_RUN's calls and returns are not recorded, so QEMU's time runs from \
             kvm_userspace_exit to kvm_entry"
        );
    }
    let mut pids = Vec::new();
    for &pid in &args.pids {
        pids.extend(threads_of(pid)?);
    }
    if !args.pids.is_empty()
        && args.command.is_empty()
        && !tracefs.root().join("options/copy_trace_marker").exists()
    {
        eprintln!(
            "hytrace: this kernel cannot copy top-level trace_marker writes into an instance \
             (copy_trace_marker, Linux 6.17+): the QEMU ftrace-backend lines of an already \
             running process are not in this recording. Start QEMU under `hytrace kvm -- \
             qemu-system-x86_64 …` instead, or give its log backend with --qemu-log."
        );
    }
    let output = args.output.clone().unwrap_or_else(|| "kvm.dat".into());
    let options = RecordOptions {
        output: args.output_file.at(&output),
        events,
        pids,
        only_command: !args.command.is_empty(),
        // New vCPU threads of the recorded processes are followed.
        children: !args.command.is_empty() || !args.pids.is_empty(),
        kernel_stacks: false,
        user_stacks: None,
        cpumask: None,
        buffer_kb: args.buffer.kb_or(KVM_BUFFER_KB),
        clock: "mono".into(),
        duration: args.duration,
        bpf: false,
        probes: Vec::new(),
        tracer: None,
        hists: Vec::new(),
        command: args.command.clone(),
        progress: std::io::stderr().is_terminal(),
        markers_into_instance: !args.command.is_empty(),
        // vCPU threads grouped into VMs by the file's saved tgids.
        record_tgids: true,
    };
    let runtime = super::runtime()?;
    let (summary, reason) = runtime.block_on(record(&options))?;
    eprint!("{}", record_summary::text(&summary));
    if let Some(line) = session_end::note(&reason, &args.command) {
        eprintln!("hytrace: {line}");
    }
    Ok((output, summary.write_errors.is_empty()))
}

/// The thread ids of process `pid`.
fn threads_of(pid: u32) -> Result<Vec<u32>> {
    let dir = format!("/proc/{pid}/task");
    let mut tids: Vec<u32> = std::fs::read_dir(&dir)
        .with_context(|| format!("no process {pid}"))?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    Ok(tids)
}
