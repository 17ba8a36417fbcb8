//! `report -F 'EVENTS:FILTER'` and `-v`: trace-cmd report's event filters, with its
//! syntax and meaning (libtraceevent's `parse-filter.c` and trace-cmd's
//! `trace-filter.c`).
//!
//! - EVENTS is a comma-separated list of `SYSTEM/EVENT`, or of one name matched
//!   against systems and events both; each a POSIX regular expression matched whole,
//!   case ignored. Without `:FILTER` the events are shown whole.
//! - With any `-F`, a record is shown when one of them names its event and its filter
//!   passes; a kernel or user stack event is shown when the record before it on its
//!   CPU was. After `-v`, each `-F` hides the records it matches instead.
//!
//! - [`tokens`]: the filter's tokens.
//! - [`tree`]: one event's filter compiled (libtraceevent's grammar and folding).
//! - [`eval`]: a compiled filter tested on a record.
//! - [`posix_regex`]: POSIX basic regular expressions and globs.

pub mod eval;
pub mod posix_regex;
pub mod tokens;
pub mod tree;

use std::fmt;

use thiserror::Error;

use crate::format::EventFormat;
pub use eval::RecordFacts;
use tree::Tree;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EventFilterError {
    /// Inside a filter's text: what is wrong and where (a byte offset).
    #[error("{message} (at byte {at})")]
    Syntax { message: String, at: usize },
    #[error("-F '{spec}': no event of the file matches '{pattern}' (hytrace list names them)")]
    NoEvent { spec: String, pattern: String },
    #[error("-F '{spec}': bad event pattern '{pattern}': {reason}")]
    BadEventPattern {
        spec: String,
        pattern: String,
        reason: String,
    },
    #[error("-F '{spec}': an event name is missing before ':' or between ','")]
    NoEventName { spec: String },
    #[error("{0}")]
    InFilter(FilterTextError),
}

/// A filter that does not compile for an event: shown with a caret under the place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterTextError {
    pub spec: String,
    pub event: String,
    pub text: String,
    pub message: String,
    pub at: usize,
}

impl fmt::Display for FilterTextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let column = self.text[..self.at.min(self.text.len())].chars().count();
        write!(
            f,
            "-F '{}': the filter does not compile for {}: {}\n  {}\n  {}^",
            self.spec,
            self.event,
            self.message,
            self.text,
            " ".repeat(column.saturating_sub(1))
        )
    }
}

/// One `-F` as given: its text and whether a `-v` came before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    pub text: String,
    pub hides: bool,
}

/// One `-F` compiled: per event type id, its filter for that event.
#[derive(Debug, Clone, Default)]
struct EventFilter {
    per_event: Vec<Option<Tree>>,
}

impl EventFilter {
    fn passes(&self, event: &EventFormat, facts: &dyn RecordFacts) -> bool {
        self.per_event
            .get(usize::from(event.id))
            .and_then(Option::as_ref)
            .is_some_and(|tree| eval::passes(tree, &event.fields, facts))
    }
}

/// Every `-F` of a report, compiled against the file's events.
#[derive(Debug, Clone, Default)]
pub struct EventFilters {
    shown: Vec<EventFilter>,
    hidden: Vec<EventFilter>,
    /// ftrace's kernel_stack and user_stack event ids.
    stack_events: Vec<u16>,
}

/// An event pattern of a `-F`: SYSTEM and EVENT, or one name for either.
type EventPattern = (String, Option<String>);

/// Splits `EVENTS[:FILTER]` into its event patterns and its filter.
fn split_spec(spec: &str) -> Result<(Vec<EventPattern>, Option<&str>), EventFilterError> {
    let (events, filter) = match spec.split_once(':') {
        Some((events, filter)) => (events, Some(filter)),
        None => (spec, None),
    };
    let mut patterns = Vec::new();
    for event in events.split(',') {
        // strtok: empty parts between slashes are skipped; a third part is ignored.
        let mut parts = event.split('/').filter(|p| !p.is_empty());
        let Some(first) = parts.next() else {
            return Err(EventFilterError::NoEventName {
                spec: spec.to_string(),
            });
        };
        let second = parts.next().map(|p| p.trim().to_string());
        patterns.push((first.trim().to_string(), second));
    }
    Ok((patterns, filter))
}

impl EventFilters {
    /// Compiles `specs` against `events` (the file's event formats).
    pub fn build<'e>(
        events: impl IntoIterator<Item = &'e EventFormat> + Clone,
        specs: &[FilterSpec],
    ) -> Result<EventFilters, EventFilterError> {
        let mut filters = EventFilters {
            stack_events: events
                .clone()
                .into_iter()
                .filter(|e| {
                    e.system == "ftrace" && matches!(&*e.name, "kernel_stack" | "user_stack")
                })
                .map(|e| e.id)
                .collect(),
            ..EventFilters::default()
        };
        for spec in specs {
            let compiled = compile(events.clone(), &spec.text)?;
            match spec.hides {
                true => filters.hidden.push(compiled),
                false => filters.shown.push(compiled),
            }
        }
        Ok(filters)
    }

    /// Whether a record of an event the file has no format for is shown: when no `-F`
    /// shows (it cannot pass one) and none hides (it cannot match one).
    pub fn shows_unknown(&self) -> bool {
        self.shown.is_empty()
    }

    /// Whether a record of `event` is shown. `stack_follows` is whether the previous
    /// record tested on the record's CPU was shown (a stack event follows it); it is
    /// updated.
    pub fn shows(
        &self,
        event: &EventFormat,
        facts: &dyn RecordFacts,
        stack_follows: &mut bool,
    ) -> bool {
        let selected = self.shown.is_empty()
            || self.shown.iter().any(|f| f.passes(event, facts))
            || *stack_follows && self.stack_events.contains(&event.id);
        if !selected {
            return false;
        }
        let hidden = self.hidden.iter().any(|f| f.passes(event, facts));
        *stack_follows = !hidden;
        !hidden
    }
}

/// One `-F`: every event its patterns match, with the filter compiled for each.
fn compile<'e>(
    events: impl IntoIterator<Item = &'e EventFormat>,
    spec: &str,
) -> Result<EventFilter, EventFilterError> {
    let (patterns, filter) = split_spec(spec)?;
    let compiled_patterns = patterns
        .iter()
        .map(|(first, second)| {
            let regex = |p: &str| {
                posix_regex::basic_regex(&format!("^{p}$")).map_err(|reason| {
                    EventFilterError::BadEventPattern {
                        spec: spec.to_string(),
                        pattern: p.to_string(),
                        reason,
                    }
                })
            };
            Ok((regex(first)?, second.as_deref().map(regex).transpose()?))
        })
        .collect::<Result<Vec<_>, EventFilterError>>()?;
    let events: Vec<&EventFormat> = events.into_iter().collect();
    let mut matched = vec![false; patterns.len()];
    let mut compiled = EventFilter::default();
    for event in &events {
        let mut selected = false;
        for (index, (first, second)) in compiled_patterns.iter().enumerate() {
            let hit = match second {
                Some(name) => {
                    first.is_match(event.system.as_bytes()) && name.is_match(event.name.as_bytes())
                }
                None => {
                    first.is_match(event.system.as_bytes()) || first.is_match(event.name.as_bytes())
                }
            };
            matched[index] |= hit;
            selected |= hit;
        }
        if !selected {
            continue;
        }
        let tree = match filter {
            Some(text) => Tree::compile(text, &event.fields).map_err(|e| {
                let (message, at) = match e {
                    EventFilterError::Syntax { message, at } => (message, at),
                    other => (other.to_string(), 0),
                };
                EventFilterError::InFilter(FilterTextError {
                    spec: spec.to_string(),
                    event: format!("{}/{}", event.system, event.name),
                    text: text.to_string(),
                    message,
                    at,
                })
            })?,
            None => Tree {
                nodes: vec![tree::Node::Boolean(true)],
                root: 0,
            },
        };
        let id = usize::from(event.id);
        if compiled.per_event.len() <= id {
            compiled.per_event.resize(id + 1, None);
        }
        compiled.per_event[id] = Some(tree);
    }
    if let Some(index) = matched.iter().position(|m| !m) {
        let (first, second) = &patterns[index];
        return Err(EventFilterError::NoEvent {
            spec: spec.to_string(),
            pattern: match second {
                Some(name) => format!("{first}/{name}"),
                None => first.clone(),
            },
        });
    }
    Ok(compiled)
}

#[cfg(test)]
mod tests;
