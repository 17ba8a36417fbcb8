//! Which records a report prints: by CPU, pid, comm and event-name regex (decisions
//! that depend only on the event type or pid are precomputed into tables), and by
//! trace-cmd's `-F` event filters ([`super::event_filter`]).

use std::collections::HashSet;

use regex::Regex;
use thiserror::Error;

use super::event_filter::{EventFilterError, EventFilters, FilterSpec};
use crate::trace::Recording;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("bad CPU list '{list}': expected numbers and ranges like 0,2-3")]
    CpuList { list: String },
    #[error("bad event regex '{pattern}': {reason}")]
    Regex { pattern: String, reason: String },
    #[error(transparent)]
    EventFilter(#[from] EventFilterError),
}

/// The user's selection, compiled against one recording.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    cpus: Option<HashSet<u32>>,
    /// Allowed pids (from --pid and --comm combined), None = all.
    pids: Option<HashSet<i32>>,
    /// Per event type id: selected by --event. None = all.
    event_allowed: Option<Vec<bool>>,
    /// The `-F` filters, when there are any.
    events: Option<EventFilters>,
}

impl RecordFilter {
    pub fn build(
        recording: &Recording,
        cpu_list: Option<&str>,
        pids: &[i32],
        comm: Option<&str>,
        event_regex: Option<&str>,
    ) -> Result<RecordFilter, FilterError> {
        let cpus = cpu_list.map(parse_cpu_list).transpose()?;
        let mut allowed_pids: Option<HashSet<i32>> = None;
        if !pids.is_empty() {
            allowed_pids = Some(pids.iter().copied().collect());
        }
        if let Some(comm) = comm {
            let by_comm: HashSet<i32> = recording.pids_with_comm(comm).collect();
            allowed_pids = Some(match allowed_pids {
                Some(p) => p.intersection(&by_comm).copied().collect(),
                None => by_comm,
            });
        }
        let event_allowed = match event_regex {
            Some(pattern) => {
                let regex = Regex::new(pattern).map_err(|e| FilterError::Regex {
                    pattern: pattern.to_string(),
                    reason: e.to_string(),
                })?;
                let mut table = vec![false; recording.max_event_id() + 1];
                for (id, slot) in table.iter_mut().enumerate() {
                    if let Some(event) = recording.event(id as u16) {
                        *slot = regex.is_match(&event.name)
                            || regex.is_match(&format!("{}:{}", event.system, event.name));
                    }
                }
                Some(table)
            }
            None => None,
        };
        Ok(RecordFilter {
            cpus,
            pids: allowed_pids,
            event_allowed,
            events: None,
        })
    }

    /// Adds trace-cmd's `-F` filters (and `-v`), compiled against the recording's events.
    pub fn with_event_filters(
        mut self,
        recording: &Recording,
        specs: &[FilterSpec],
    ) -> Result<RecordFilter, FilterError> {
        if !specs.is_empty() {
            let events = (0..=recording.max_event_id()).filter_map(|id| recording.event(id as u16));
            self.events = Some(EventFilters::build(events, specs)?);
        }
        Ok(self)
    }

    /// The `-F` filters, which a record must also pass.
    pub fn event_filters(&self) -> Option<&EventFilters> {
        self.events.as_ref()
    }

    #[inline]
    pub fn wants_cpu(&self, cpu: u32) -> bool {
        self.cpus.as_ref().is_none_or(|c| c.contains(&cpu))
    }

    #[inline]
    pub fn wants(&self, type_id: u16, pid: i32) -> bool {
        if let Some(table) = &self.event_allowed
            && !table.get(usize::from(type_id)).copied().unwrap_or(false)
        {
            return false;
        }
        self.pids.as_ref().is_none_or(|p| p.contains(&pid))
    }
}

/// "0,2-3" → {0, 2, 3}.
pub fn parse_cpu_list(text: &str) -> Result<HashSet<u32>, FilterError> {
    let bad = || FilterError::CpuList {
        list: text.to_string(),
    };
    let mut cpus = HashSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((lo, hi)) => {
                let lo: u32 = lo.trim().parse().map_err(|_| bad())?;
                let hi: u32 = hi.trim().parse().map_err(|_| bad())?;
                if lo > hi || hi - lo > 65536 {
                    return Err(bad());
                }
                cpus.extend(lo..=hi);
            }
            None => {
                cpus.insert(part.parse().map_err(|_| bad())?);
            }
        }
    }
    if cpus.is_empty() {
        return Err(bad());
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_and_reject_garbage() {
        let cpus = parse_cpu_list("0, 2-3,7").unwrap();
        let mut v: Vec<u32> = cpus.into_iter().collect();
        v.sort();
        assert_eq!(v, vec![0, 2, 3, 7]);
        assert_eq!(
            parse_cpu_list("1-x"),
            Err(FilterError::CpuList { list: "1-x".into() })
        );
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("").is_err());
    }
}
