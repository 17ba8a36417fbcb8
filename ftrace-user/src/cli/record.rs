//! `hytrace record`.

use std::io::IsTerminal;

use anyhow::{Context, Result, bail};

use super::args::RecordArgs;
use crate::{
    hist::Spec,
    output::{record_summary, record_summary_json, session_end},
    record::{RecordOptions, TracerOptions, UserStackOptions, record},
    stacks::build_ids::{BuildIdCache, default_cache_dir},
    tracefs::dynamic_events::{ProbeKind, ProbeSpec},
};

/// The events of `record --profile`.
const PROFILE_EVENTS: [&str; 4] = [
    "sched:sched_switch",
    "sched:sched_waking",
    "sched:sched_wakeup",
    "sched:sched_wakeup_new",
];

/// Default ring-buffer size per CPU of `record`, in KB.
const RECORD_BUFFER_KB: u64 = 4096;

pub fn run(args: &RecordArgs, events: &[(String, Option<String>)]) -> Result<i32> {
    if !is_root() {
        bail!("record needs root: it creates a tracefs instance and loads eBPF programs");
    }
    if !args.filters.is_empty() && events.iter().all(|(_, f)| f.is_none()) {
        bail!("-f must follow the -e it filters");
    }
    if (args.build_id_cache.is_some() || args.no_build_id_cache)
        && !(args.user_stack || args.profile)
    {
        bail!("--build-id-cache and --no-build-id-cache need --user-stack or --profile");
    }
    let mut events = events.to_vec();
    if args.profile {
        for event in PROFILE_EVENTS {
            if !events.iter().any(|(e, _)| e == event) {
                events.push((event.to_string(), None));
            }
        }
    }
    let tracer = match &args.tracer {
        None => None,
        Some(name) => {
            if name != "function_graph"
                && (!args.graph_functions.is_empty() || args.max_graph_depth.is_some())
            {
                bail!("-g and --max-graph-depth need -p function_graph");
            }
            if args.func_stack && name != "function" {
                bail!("--func-stack needs -p function");
            }
            let mut options = Vec::new();
            for option in &args.tracer_options {
                let (name, on) = match option.strip_prefix("no") {
                    Some(rest) if !rest.is_empty() => (rest.to_string(), false),
                    _ => (option.clone(), true),
                };
                options.push((name, on));
            }
            if args.func_stack {
                options.push(("func_stack_trace".to_string(), true));
            }
            Some(TracerOptions {
                name: name.clone(),
                graph_functions: args.graph_functions.clone(),
                limit_functions: args.limit_functions.clone(),
                notrace_functions: args.notrace_functions.clone(),
                max_graph_depth: args.max_graph_depth,
                options,
            })
        }
    };
    let mut probes = Vec::new();
    for spec in &args.kprobes {
        probes.push(ProbeSpec::parse(ProbeKind::Kprobe, spec)?);
    }
    for spec in &args.uprobes {
        probes.push(ProbeSpec::parse(ProbeKind::Uprobe, spec)?);
    }
    let hists = args
        .hists
        .iter()
        .map(|s| s.parse::<Spec>())
        .collect::<Result<Vec<_>, _>>()?;
    let options = RecordOptions {
        tracer,
        probes,
        hists,
        output: args.output_file.at(&args.output),
        events,
        pids: args.processes.pids.clone(),
        only_command: args.only_command,
        children: args.children,
        kernel_stacks: args.kernel_stacks || args.profile,
        user_stacks: (args.user_stack || args.profile).then(|| UserStackOptions {
            // --profile alone: the stacks at the switches only.
            only_events: (args.profile && !args.user_stack)
                .then(|| vec!["sched:sched_switch".to_string()]),
            build_id_cache: if args.no_build_id_cache {
                None
            } else {
                args.build_id_cache
                    .clone()
                    .or_else(default_cache_dir)
                    .map(|dir| BuildIdCache { dir })
            },
        }),
        cpumask: args.cpumask.clone(),
        buffer_kb: args.buffer.kb_or(RECORD_BUFFER_KB),
        clock: args.clock.clone(),
        duration: args.session.duration,
        bpf: !args.no_bpf,
        command: args.session.command.clone(),
        progress: std::io::stderr().is_terminal(),
        markers_into_instance: false,
        record_tgids: false,
    };
    // Checked before recording, so a bad path does not wait for the end.
    let summary_json = args
        .summary_json
        .as_ref()
        .map(|path| args.output_file.at(path));
    if let Some(file) = &summary_json {
        file.check()
            .with_context(|| format!("--summary-json {}", file.path.display()))?;
    }
    let runtime = super::runtime()?;
    let (summary, reason) = runtime.block_on(record(&options))?;
    eprint!("{}", record_summary::text(&summary));
    if let Some(file) = &summary_json {
        // The recording is in place whatever happens here.
        crate::private_files::write_whole(file, record_summary_json::summary(&summary).as_bytes())
            .with_context(|| {
                format!(
                    "cannot write --summary-json {} (the recording {} is complete)",
                    file.path.display(),
                    summary.output.display()
                )
            })?;
    }
    if let Some(line) = session_end::note(&reason, &args.session.command) {
        eprintln!("hytrace: {line}");
    }
    // A recording cut short by a write error is kept, and still a failure.
    Ok(if summary.write_errors.is_empty() {
        0
    } else {
        1
    })
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
