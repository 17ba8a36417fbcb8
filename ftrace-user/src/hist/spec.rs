//! Histogram specs as the command line names them (`syscalls`, `runq`, `irq`, …),
//! parsed once so `hist`, `record --hist` and the trace file agree on them.

use std::{fmt, str::FromStr};

use thiserror::Error;

/// One histogram to aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// sys_enter → sys_exit per thread, keyed by syscall (and by comm with `by_comm`).
    Syscalls { by_comm: bool },
    /// Wakeup or preemption → the task's switch-in, per CPU (or per command name).
    Runq { by_comm: bool },
    /// Hard irq handler entry → exit, per irq number.
    Irq,
    /// Softirq handler entry → exit, per vector.
    Softirq,
    /// kvm_exit → kvm_entry per exit reason, or KVM_RUN ioctl round trips per thread
    /// where the kernel has no kvm events.
    KvmExit,
    /// block_rq_issue → block_rq_complete per device.
    Block,
    /// Entry → return of a user function.
    Uprobe { path: String, symbol: String },
    /// Entry → return of a kernel function.
    Func { function: String },
    /// Any two tracepoints on one thread, optionally keyed by a begin event's field.
    Pair {
        begin: (String, String),
        end: (String, String),
        key: Option<String>,
    },
}

/// The forms `Spec` accepts, for messages and `--help`.
pub const SPEC_FORMS: &[&str] = &[
    "syscalls",
    "syscalls:by-comm",
    "runq",
    "runq:by-comm",
    "irq",
    "softirq",
    "kvm-exit",
    "block",
    "uprobe:PATH:SYMBOL",
    "func:KFUNC",
    "pair:SYS:BEGIN,SYS:END[,key=FIELD]",
];

#[derive(Debug, Error, PartialEq, Eq)]
#[error("unknown histogram spec '{spec}' ({reason}; available: {forms})", forms = SPEC_FORMS.join(", "))]
pub struct SpecError {
    pub spec: String,
    pub reason: &'static str,
}

impl FromStr for Spec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Spec, SpecError> {
        let error = |reason| SpecError {
            spec: text.to_string(),
            reason,
        };
        match text {
            "syscalls" => return Ok(Spec::Syscalls { by_comm: false }),
            "syscalls:by-comm" => return Ok(Spec::Syscalls { by_comm: true }),
            "runq" => return Ok(Spec::Runq { by_comm: false }),
            "runq:by-comm" => return Ok(Spec::Runq { by_comm: true }),
            "irq" => return Ok(Spec::Irq),
            "softirq" => return Ok(Spec::Softirq),
            "kvm-exit" => return Ok(Spec::KvmExit),
            "block" => return Ok(Spec::Block),
            _ => {}
        }
        if let Some(rest) = text.strip_prefix("uprobe:") {
            let (path, symbol) = rest
                .rsplit_once(':')
                .filter(|(p, s)| !p.is_empty() && !s.is_empty())
                .ok_or(error("uprobe needs PATH:SYMBOL"))?;
            return Ok(Spec::Uprobe {
                path: path.to_string(),
                symbol: symbol.to_string(),
            });
        }
        if let Some(function) = text.strip_prefix("func:") {
            let valid = !function.is_empty()
                && function
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if !valid {
                return Err(error("func needs a kernel function name"));
            }
            return Ok(Spec::Func {
                function: function.to_string(),
            });
        }
        if let Some(rest) = text.strip_prefix("pair:") {
            let event = |part: Option<&str>| {
                let (system, name) = part?.split_once(':')?;
                (!system.is_empty() && !name.is_empty() && !name.contains(':'))
                    .then(|| (system.to_string(), name.to_string()))
            };
            let mut parts = rest.split(',');
            let begin = event(parts.next()).ok_or(error("pair needs SYS:BEGIN,SYS:END"))?;
            let end = event(parts.next()).ok_or(error("pair needs SYS:BEGIN,SYS:END"))?;
            let key = match parts.next() {
                None => None,
                Some(k) => Some(
                    k.strip_prefix("key=")
                        .filter(|f| !f.is_empty())
                        .ok_or(error("the third part of a pair must be key=FIELD"))?
                        .to_string(),
                ),
            };
            if parts.next().is_some() {
                return Err(error("a pair has at most three parts"));
            }
            return Ok(Spec::Pair { begin, end, key });
        }
        Err(error("not a known form"))
    }
}

impl Spec {
    /// Whether the aggregator matches per thread and so can be limited to one process
    /// (irq, softirq, runq and block see every process).
    pub fn per_thread(&self) -> bool {
        matches!(
            self,
            Spec::Syscalls { .. }
                | Spec::KvmExit
                | Spec::Uprobe { .. }
                | Spec::Func { .. }
                | Spec::Pair { .. }
        )
    }
}

impl fmt::Display for Spec {
    /// The spec as written on the command line (parses back to the same spec).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spec::Syscalls { by_comm: false } => f.write_str("syscalls"),
            Spec::Syscalls { by_comm: true } => f.write_str("syscalls:by-comm"),
            Spec::Runq { by_comm: false } => f.write_str("runq"),
            Spec::Runq { by_comm: true } => f.write_str("runq:by-comm"),
            Spec::Irq => f.write_str("irq"),
            Spec::Softirq => f.write_str("softirq"),
            Spec::KvmExit => f.write_str("kvm-exit"),
            Spec::Block => f.write_str("block"),
            Spec::Uprobe { path, symbol } => write!(f, "uprobe:{path}:{symbol}"),
            Spec::Func { function } => write!(f, "func:{function}"),
            Spec::Pair { begin, end, key } => {
                write!(f, "pair:{}:{},{}:{}", begin.0, begin.1, end.0, end.1)?;
                if let Some(key) = key {
                    write!(f, ",key={key}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Spec, &'static str> {
        text.parse::<Spec>().map_err(|e| e.reason)
    }

    #[test]
    fn every_form_parses_and_prints_back() {
        // The forms without placeholders as they are, then examples of the others.
        let fixed = SPEC_FORMS
            .iter()
            .copied()
            .filter(|f| !f.contains(':') || f.ends_with(":by-comm"));
        let examples = [
            "uprobe:./sleeper:nap",
            "uprobe:/a:b/c:f",
            "func:do_nanosleep",
            "pair:irq:softirq_entry,irq:softirq_exit,key=vec",
            "pair:syscalls:sys_enter_openat,syscalls:sys_exit_openat",
        ];
        assert_eq!(fixed.clone().count(), 8);
        for text in fixed.chain(examples) {
            assert_eq!(parse(text).map(|s| s.to_string()), Ok(text.to_string()));
        }
        assert_eq!(
            parse("uprobe:/a:b/c:f"),
            Ok(Spec::Uprobe {
                path: "/a:b/c".into(),
                symbol: "f".into()
            })
        );
        assert_eq!(
            parse("pair:a:b,c:d,key=x"),
            Ok(Spec::Pair {
                begin: ("a".into(), "b".into()),
                end: ("c".into(), "d".into()),
                key: Some("x".into())
            })
        );
    }

    #[test]
    fn malformed_specs_say_what_is_wrong() {
        assert_eq!(parse("sycalls"), Err("not a known form"));
        assert_eq!(parse("uprobe:nocolon"), Err("uprobe needs PATH:SYMBOL"));
        assert_eq!(parse("func:"), Err("func needs a kernel function name"));
        assert_eq!(parse("func:a b"), Err("func needs a kernel function name"));
        assert_eq!(parse("pair:a:b"), Err("pair needs SYS:BEGIN,SYS:END"));
        assert_eq!(
            parse("pair:a:b,c:d,vec"),
            Err("the third part of a pair must be key=FIELD")
        );
        assert_eq!(
            parse("pair:a:b,c:d,key=x,more"),
            Err("a pair has at most three parts")
        );
        let message = "bogus".parse::<Spec>().unwrap_err().to_string();
        assert!(message.starts_with(
            "unknown histogram spec 'bogus' (not a known form; available: syscalls, "
        ));
    }
}
