//! The `hytrace` command line: argument definitions and one function per subcommand.
//! Each returns the process exit code; errors carry a one-line reason.

pub mod args;
mod doctor;
mod export;
mod graph;
mod hist;
mod kvm;
mod list;
mod record;
mod recover;
mod report;
mod reset;

use anyhow::Result;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::report::event_filter::FilterSpec;
pub use args::Cli;
use args::Command;

/// Parses the command line and runs the subcommand.
pub fn main_with_args() -> Result<i32> {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Record(args) => {
            let sub = matches
                .subcommand_matches("record")
                .cloned()
                .unwrap_or_default();
            record::run(&args, &pair_filters(&sub, &args.events, &args.filters))
        }
        Command::Report(args) => {
            let sub = matches
                .subcommand_matches("report")
                .cloned()
                .unwrap_or_default();
            report::run(&args, &event_filter_specs(&sub, &args.event_filters))
        }
        Command::Hist(args) => hist::run(&args),
        Command::Graph(args) => graph::run(&args),
        Command::List(args) => list::run(&args),
        Command::Kvm(args) => kvm::run(&args),
        Command::Recover(args) => recover::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Doctor => doctor::run(),
        Command::Reset => reset::run(),
    }
}

/// The single-threaded async runtime the waiting commands (record, hist, graph) run on.
fn runtime() -> Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Each -F after a -v hides what it matches (trace-cmd report's rule).
fn event_filter_specs(matches: &ArgMatches, filters: &[String]) -> Vec<FilterSpec> {
    let given = matches.value_source("hide_after") == Some(clap::parser::ValueSource::CommandLine);
    let hide_from = matches
        .indices_of("hide_after")
        .and_then(|mut at| at.next())
        .filter(|_| given)
        .unwrap_or(usize::MAX);
    let filter_at: Vec<usize> = matches
        .indices_of("event_filters")
        .map(std::iter::Iterator::collect)
        .unwrap_or_default();
    filters
        .iter()
        .zip(filter_at)
        .map(|(text, at)| FilterSpec {
            text: text.clone(),
            hides: at > hide_from,
        })
        .collect()
}

/// Each -f applies to the -e given just before it (trace-cmd's rule).
fn pair_filters(
    matches: &ArgMatches,
    events: &[String],
    filters: &[String],
) -> Vec<(String, Option<String>)> {
    let event_at: Vec<usize> = matches
        .indices_of("events")
        .map(std::iter::Iterator::collect)
        .unwrap_or_default();
    let filter_at: Vec<usize> = matches
        .indices_of("filters")
        .map(std::iter::Iterator::collect)
        .unwrap_or_default();
    let mut paired: Vec<(String, Option<String>)> =
        events.iter().map(|e| (e.clone(), None)).collect();
    for (filter, at) in filters.iter().zip(filter_at) {
        if let Some(index) = event_at.iter().rposition(|&e| e < at) {
            paired[index].1 = Some(filter.clone());
        }
    }
    paired
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn event_filters_after_v_hide() {
        let specs = |argv: &[&str]| {
            let matches = Cli::command().get_matches_from(argv);
            let Command::Report(args) = Cli::parse_from(argv).command else {
                panic!("not report")
            };
            let sub = matches.subcommand_matches("report").unwrap();
            event_filter_specs(sub, &args.event_filters)
                .into_iter()
                .map(|s| (s.text, s.hides))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            specs(&[
                "hytrace", "report", "-F", "sched", "-v", "-F", "irq", "-F", "timer"
            ]),
            [
                ("sched".to_string(), false),
                ("irq".to_string(), true),
                ("timer".to_string(), true)
            ]
        );
        assert_eq!(
            specs(&["hytrace", "report", "-F", "sched"]),
            [("sched".to_string(), false)]
        );
    }

    #[test]
    fn filters_attach_to_the_preceding_event() {
        let argv = [
            "hytrace",
            "record",
            "-e",
            "sched",
            "-f",
            "prev_pid != 0",
            "-e",
            "irq",
            "-e",
            "raw_syscalls",
            "-f",
            "id == 39",
        ];
        let matches = Cli::command().get_matches_from(argv);
        let cli = Cli::parse_from(argv);
        let Command::Record(args) = cli.command else {
            panic!("not record")
        };
        let sub = matches.subcommand_matches("record").unwrap();
        assert_eq!(
            pair_filters(sub, &args.events, &args.filters),
            vec![
                ("sched".to_string(), Some("prev_pid != 0".to_string())),
                ("irq".to_string(), None),
                ("raw_syscalls".to_string(), Some("id == 39".to_string())),
            ]
        );
    }

    #[test]
    fn help_text_is_consistent() {
        Cli::command().debug_assert();
    }
}
