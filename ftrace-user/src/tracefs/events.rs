//! Event names in trace-cmd's syntax (`SYS:EVENT`, `SYS`, `EVENT`, globs, `all`)
//! resolved against the kernel's `available_events` list.

use std::fmt;

use super::{Tracefs, TracefsError};

/// One trace event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    pub system: String,
    pub name: String,
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.system, self.name)
    }
}

/// Resolves `spec` against the kernel's events.
pub fn resolve_events(tracefs: &Tracefs, spec: &str) -> Result<Vec<EventId>, TracefsError> {
    let available = parse_available_events(&tracefs.available_events()?);
    match_events(&available, spec)
}

/// `available_events` text ("sched:sched_switch" per line) into ids.
pub fn parse_available_events(text: &str) -> Vec<EventId> {
    text.lines()
        .filter_map(|line| {
            let (system, name) = line.trim().split_once(':')?;
            Some(EventId {
                system: system.to_string(),
                name: name.to_string(),
            })
        })
        .collect()
}

/// The events `spec` names, in the kernel's order. Rules, as trace-cmd's `-e`:
/// `all` is everything; `SYS:EVENT` with globs on either side; a bare word matches a
/// whole system of that name, or else events of that name in any system.
pub fn match_events(available: &[EventId], spec: &str) -> Result<Vec<EventId>, TracefsError> {
    let spec = spec.trim();
    let matched: Vec<EventId> = if spec == "all" {
        available.to_vec()
    } else if let Some((system, name)) = spec.split_once(':') {
        let name = if name.is_empty() { "*" } else { name };
        available
            .iter()
            .filter(|e| glob_match(system, &e.system) && glob_match(name, &e.name))
            .cloned()
            .collect()
    } else {
        let systems: Vec<EventId> = available
            .iter()
            .filter(|e| glob_match(spec, &e.system))
            .cloned()
            .collect();
        if systems.is_empty() {
            available
                .iter()
                .filter(|e| glob_match(spec, &e.name))
                .cloned()
                .collect()
        } else {
            systems
        }
    };
    if matched.is_empty() {
        return Err(TracefsError::NoSuchEvent {
            spec: spec.to_string(),
            hint: suggestion(available, spec),
        });
    }
    Ok(matched)
}

/// " (did you mean sched:sched_switch?)" for a near miss, else "".
fn suggestion(available: &[EventId], spec: &str) -> String {
    let wanted = spec.rsplit(':').next().unwrap_or(spec);
    if wanted.len() < 3 {
        return String::new();
    }
    available
        .iter()
        .map(|e| (edit_distance(wanted, &e.name), e))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, e)| format!(" (did you mean {e}?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Shell-style glob with `*` and `?`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AVAILABLE: &str = "sched:sched_switch\nsched:sched_wakeup\nsched:sched_waking\nraw_syscalls:sys_enter\nraw_syscalls:sys_exit\nirq:irq_handler_entry\nirq:softirq_entry\nkvm:kvm_exit\nkvm:kvm_entry\n";

    fn names(spec: &str) -> Vec<String> {
        match_events(&parse_available_events(AVAILABLE), spec)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn trace_cmd_forms_resolve() {
        assert_eq!(names("sched:sched_switch"), vec!["sched:sched_switch"]);
        assert_eq!(
            names("raw_syscalls"),
            vec!["raw_syscalls:sys_enter", "raw_syscalls:sys_exit"]
        );
        assert_eq!(names("sys_enter"), vec!["raw_syscalls:sys_enter"]);
        assert_eq!(
            names("sched:sched_wak*"),
            vec!["sched:sched_wakeup", "sched:sched_waking"]
        );
        assert_eq!(names("*:kvm_e*"), vec!["kvm:kvm_exit", "kvm:kvm_entry"]);
        assert_eq!(
            names("irq:"),
            vec!["irq:irq_handler_entry", "irq:softirq_entry"]
        );
        assert_eq!(names("all").len(), 9);
    }

    #[test]
    fn unknown_events_say_so_with_a_hint() {
        let available = parse_available_events(AVAILABLE);
        let err = match_events(&available, "no_such_event").unwrap_err();
        assert_eq!(err.to_string(), "no event matches 'no_such_event'");
        let err = match_events(&available, "sched:sched_swich").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no event matches 'sched:sched_swich' (did you mean sched:sched_switch?)"
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("*", ""));
        assert!(glob_match("s?s_*", "sys_enter"));
        assert!(!glob_match("a*d", "abc"));
    }
}
