//! The `hytrace` binary: a thin layer over the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    // A copy of hytrace started as a traced command's start gate only waits and execs.
    if let Some(fd) = std::env::var_os(ftrace_user::session::command::GATE_FD_ENV) {
        let argv: Vec<_> = std::env::args_os().skip(1).collect();
        let error = ftrace_user::session::command::run_gate(fd, argv);
        eprintln!("hytrace: cannot run the command: {error}");
        return ExitCode::from(127);
    }
    ftrace_user::notes::set_printer(print_note);
    match ftrace_user::cli::main_with_args() {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            eprintln!("hytrace: error: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// Notes from the library, on stderr as they come.
fn print_note(note: ftrace_user::notes::Note<'_>) {
    use ftrace_user::notes::Note;
    match note {
        Note::Line(text) => eprintln!("hytrace: {text}"),
        Note::Progress(line) => eprint!("\r\x1b[K{line}"),
        Note::ProgressDone => eprint!("\r\x1b[K"),
    }
}

/// The error and its causes on one line: "cannot write x.dat: No space left on device".
fn one_line(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
