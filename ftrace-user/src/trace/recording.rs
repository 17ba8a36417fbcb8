//! A trace.dat read into memory with the lookups every reader needs: event formats by
//! type id, kernel symbols, printk formats, and comms by pid; and its records merged.

use std::{borrow::Cow, collections::HashMap, hash::BuildHasherDefault, path::Path, sync::RwLock};

use thiserror::Error;

use super::{byte_order, mapped::MappedFile};
use crate::{
    decode::{CpuStream, Merger, PageLayout},
    format::{EventFormat, FormatError, parse_event_format, parse_header_page},
    store::{Pages, StoreError, TraceFile, read_trace_file_shared},
    symbolize::{PrintkFormats, RecordingSymbols},
};

#[derive(Debug, Error)]
pub enum RecordingError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a usable trace file: {source}")]
    Store {
        path: String,
        #[source]
        source: StoreError,
    },
    #[error("{path}: bad header_page: {source}")]
    HeaderPage {
        path: String,
        #[source]
        source: FormatError,
    },
}

/// Where merged records come from: one CPU of one buffer (the top-level buffer's name
/// is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    pub buffer: &'a str,
    pub cpu: u32,
}

/// Comm shown for pids the file has no name for, as trace-cmd shows them.
const UNKNOWN_COMM: &str = "<...>";

pub struct Recording {
    pub file: TraceFile,
    pub symbols: RecordingSymbols,
    /// Event formats indexed by type id.
    events: Vec<Option<EventFormat>>,
    comms: PidMap<Box<str>>,
    /// Comms learned from scheduler events while printing (see [`Recording::remember_comm`]).
    /// pid → (index of the printed record that named it, comm).
    learned_comms: RwLock<PidMap<(u64, Box<str>)>>,
    layout: PageLayout,
    /// Formats the file holds that could not be parsed: (system, reason).
    pub unparsed_formats: Vec<(String, String)>,
}

impl Recording {
    pub fn open(path: &Path) -> Result<Recording, RecordingError> {
        let shown = path.display().to_string();
        let mapped = MappedFile::open(path).map_err(|source| RecordingError::Read {
            path: shown.clone(),
            source,
        })?;
        // The pages stay in the mapping: no copy of the (possibly huge) CPU data.
        let file = read_trace_file_shared(std::sync::Arc::new(mapped)).map_err(|source| {
            RecordingError::Store {
                path: shown.clone(),
                source,
            }
        })?;
        Recording::from_file(file, &shown)
    }

    pub fn from_file(file: TraceFile, shown: &str) -> Result<Recording, RecordingError> {
        let header_page = parse_header_page(&String::from_utf8_lossy(&file.meta.header_page))
            .map_err(|source| RecordingError::HeaderPage {
                path: shown.to_string(),
                source,
            })?;
        let layout = PageLayout {
            commit_size: header_page.commit_size,
            data_offset: header_page.data_offset,
        };
        let mut events: Vec<Option<EventFormat>> = Vec::new();
        let mut unparsed_formats = Vec::new();
        let ftrace = file.meta.ftrace_formats.iter().map(|text| ("ftrace", text));
        let others = file
            .meta
            .event_formats
            .iter()
            .flat_map(|(system, texts)| texts.iter().map(move |t| (system.as_str(), t)));
        for (system, text) in ftrace.chain(others) {
            match parse_event_format(system, &String::from_utf8_lossy(text)) {
                Ok(format) => {
                    let id = usize::from(format.id);
                    if id >= events.len() {
                        events.resize_with(id + 1, || None);
                    }
                    events[id] = Some(format);
                }
                Err(error) => unparsed_formats.push((system.to_string(), error.to_string())),
            }
        }
        let mut file = file;
        if file.meta.big_endian {
            // One decoder reads little-endian pages: a big-endian kernel's are
            // rewritten once, here.
            let page_size = file.meta.page_size as usize;
            for cpu in file.buffers.iter_mut().flat_map(|b| b.cpus.iter_mut()) {
                cpu.pages = Pages::owned(byte_order::pages_to_little_endian(
                    &cpu.pages, page_size, layout, &events,
                ));
            }
        }
        let symbols = RecordingSymbols::new(
            std::mem::take(&mut file.meta.kallsyms),
            PrintkFormats::parse(&file.meta.printk_formats),
        );
        let comms = parse_cmdlines(&file.meta.cmdlines);
        Ok(Recording {
            file,
            symbols,
            events,
            comms,
            learned_comms: Default::default(),
            layout,
            unparsed_formats,
        })
    }

    #[inline]
    pub fn event(&self, type_id: u16) -> Option<&EventFormat> {
        self.events.get(usize::from(type_id))?.as_ref()
    }

    /// The format of event `system:name`, if the recording has it.
    pub fn event_named(&self, system: &str, name: &str) -> Option<&EventFormat> {
        self.events
            .iter()
            .flatten()
            .find(|e| e.system == system && e.name == name)
    }

    pub fn max_event_id(&self) -> usize {
        self.events.len().saturating_sub(1)
    }

    /// The comm of `pid` for the record printed at position `index`: from the file's
    /// cmdlines, else from a scheduler event printed before it, else `<...>`.
    #[inline]
    pub fn comm_at(&self, pid: i32, index: u64) -> Cow<'_, str> {
        if pid == 0 {
            return "<idle>".into();
        }
        if let Some(comm) = self.comms.get(&pid) {
            return (&**comm).into();
        }
        let learned = self
            .learned_comms
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match learned.get(&pid) {
            Some((since, comm)) if *since < index => comm.to_string().into(),
            _ => UNKNOWN_COMM.into(),
        }
    }

    /// Records the comm a scheduler event (printed at position `index`) named for a pid
    /// the cmdlines do not know, as trace-cmd does while it prints.
    pub fn remember_comm(&self, pid: i32, comm: &[u8], index: u64) {
        if pid == 0 || self.comms.contains_key(&pid) {
            return;
        }
        let mut learned = self
            .learned_comms
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        learned
            .entry(pid)
            .or_insert_with(|| (index, String::from_utf8_lossy(comm).into()));
    }

    pub fn pids_with_comm<'a>(&'a self, comm: &'a str) -> impl Iterator<Item = i32> + 'a {
        self.comms
            .iter()
            .filter(move |(_, c)| &***c == comm)
            .map(|(pid, _)| *pid)
            .chain((comm == "<idle>").then_some(0))
    }

    /// The records of every buffer's CPUs that `wants_cpu` keeps, merged on the clock.
    /// A merged record's `origin` indexes the returned origins; streams are given in
    /// the file's order (buffers, then CPUs), so equal timestamps go to the earlier
    /// buffer, then the lower CPU, as trace-cmd prints them.
    pub fn merge(&self, wants_cpu: impl Fn(u32) -> bool) -> (Merger<'_>, Vec<Origin<'_>>) {
        let mut streams = Vec::new();
        let mut origins = Vec::new();
        for buffer in &self.file.buffers {
            for cpu in buffer.cpus.iter().filter(|c| wants_cpu(c.cpu)) {
                origins.push(Origin {
                    buffer: &buffer.name,
                    cpu: cpu.cpu,
                });
                streams.push((
                    cpu.cpu,
                    CpuStream::new(&cpu.pages, self.page_size(), self.layout),
                ));
            }
        }
        (Merger::new(streams), origins)
    }

    /// Every record of the file, merged on the clock.
    pub fn merge_all(&self) -> Merger<'_> {
        self.merge(|_| true).0
    }

    pub fn page_layout(&self) -> PageLayout {
        self.layout
    }

    pub fn page_size(&self) -> usize {
        self.file.meta.page_size as usize
    }
}

/// A map keyed by pid with a cheap hash (pids are small integers, not attacker input).
pub type PidMap<V> = HashMap<i32, V, BuildHasherDefault<PidHasher>>;

/// Multiplicative hash of a pid.
#[derive(Default)]
pub struct PidHasher(u64);

impl std::hash::Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_i32(&mut self, value: i32) {
        self.0 = (value as u32 as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// saved_cmdlines text ("1234 bash\n") into a map.
pub fn parse_cmdlines(text: &[u8]) -> PidMap<Box<str>> {
    let mut comms = PidMap::default();
    for line in String::from_utf8_lossy(text).lines() {
        if let Some((pid, comm)) = line.split_once(' ')
            && let Ok(pid) = pid.trim().parse::<i32>()
        {
            comms.insert(pid, comm.into());
        }
    }
    comms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdlines_keep_spaces_in_comms() {
        let comms = parse_cmdlines(b"1 systemd\n3179 lto cgu.13\nbad\n");
        assert_eq!(comms.get(&3179).map(|c| &**c), Some("lto cgu.13"));
        assert_eq!(comms.get(&1).map(|c| &**c), Some("systemd"));
        assert_eq!(comms.len(), 2);
    }
}
