//! The `user_stack` program's ring-buffer records turned into [`UserStacks`], while
//! the recorded processes live.
//!
//! Frames the kernel gave as build-id + file offset need only their object's path,
//! read from the process's mappings the first time a build-id is seen (by the build-id
//! of each mapped file, through `/proc/PID/map_files`, so a deleted binary is still
//! read). Frames the kernel could only give as an address (the object's first page was
//! not in memory) are placed in their mapping while the process lives; once it is gone
//! they stay bare addresses and say so. Each object is kept in the build-id cache when
//! it is first seen.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use ftrace_common::stack::{FRAME_BYTES, HEADER_BYTES, MAX_FRAMES, status};

use super::{
    Frame, StackError, StackObject, StackSample, Unplaced, UserStacks,
    build_ids::{BuildIdCache, Kept, build_id_of_file},
};

/// Times a process's mappings are read again after an address or build-id was not
/// found in them (it mapped something new, or exec'd), at most.
const MAX_MAPS_READS: u32 = 64;

/// One ring-buffer record, decoded (pure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingStack {
    /// The capture time (record --user-stack) or the stack's hash (hist --stacks).
    pub tag: u64,
    pub pid_tgid: u64,
    pub cpu: u32,
    pub result: i64,
    pub frames: Vec<KernelFrame>,
}

/// A frame as the kernel gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelFrame {
    BuildId { build_id: [u8; 20], offset: u64 },
    Ip(u64),
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

/// Decodes one record: the header, then whole frames up to the first empty one.
pub fn decode_ring_stack(bytes: &[u8]) -> Option<RingStack> {
    if bytes.len() < HEADER_BYTES {
        return None;
    }
    let result = u64_at(bytes, 24) as i64;
    let mut frames = Vec::new();
    let body = &bytes[HEADER_BYTES..];
    let whole = (body.len() / FRAME_BYTES).min(MAX_FRAMES);
    for frame in body.chunks_exact(FRAME_BYTES).take(whole) {
        let status = u32_at(frame, 0) as i32;
        let value = u64_at(frame, 24);
        match status {
            status::VALID => {
                let mut build_id = [0u8; 20];
                build_id.copy_from_slice(&frame[4..24]);
                frames.push(KernelFrame::BuildId {
                    build_id,
                    offset: value,
                });
            }
            status::IP => frames.push(KernelFrame::Ip(value)),
            _ => break,
        }
    }
    Some(RingStack {
        tag: u64_at(bytes, 0),
        pid_tgid: u64_at(bytes, 8),
        cpu: u32_at(bytes, 16),
        result,
        frames,
    })
}

/// One line of /proc/PID/maps that maps a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMapping {
    pub start: u64,
    pub end: u64,
    pub offset: u64,
    /// The path as the kernel printed it, without a trailing " (deleted)".
    pub path: String,
}

/// The file mappings of a /proc/PID/maps text (pure).
pub fn parse_maps(text: &str) -> Vec<FileMapping> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(6, ' ');
            let range = fields.next()?;
            let _perms = fields.next()?;
            let offset = u64::from_str_radix(fields.next()?, 16).ok()?;
            let _dev = fields.next()?;
            let inode: u64 = fields.next()?.parse().ok()?;
            let path = fields.next()?.trim_start();
            if inode == 0 || !path.starts_with('/') {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            Some(FileMapping {
                start: u64::from_str_radix(start, 16).ok()?,
                end: u64::from_str_radix(end, 16).ok()?,
                offset,
                path: path.strip_suffix(" (deleted)").unwrap_or(path).to_string(),
            })
        })
        .collect()
}

/// What is known of one process's mappings.
#[derive(Default)]
struct Process {
    /// None once the process was found gone.
    mappings: Option<Vec<FileMapping>>,
    reads: u32,
}

/// Builds [`UserStacks`] from ring-buffer records.
pub struct Gatherer {
    proc_root: PathBuf,
    cache: Option<BuildIdCache>,
    stacks: UserStacks,
    stack_ids: HashMap<Vec<Frame>, u32>,
    by_build_id: HashMap<[u8; 20], u32>,
    by_path: HashMap<(Vec<u8>, String), u32>,
    processes: HashMap<u32, Process>,
    /// Build-ids of mapped files, by (tgid, start address) of their mapping.
    file_ids: HashMap<(u32, u64), Option<Vec<u8>>>,
    /// Records too short to hold a header.
    pub undecodable: u64,
    /// Why objects could not be kept in the cache, one line each.
    pub cache_failures: Vec<String>,
    /// Objects kept in the cache (linked or copied) during this record.
    pub cached: u64,
    /// `hist --stacks`: each stack's index by its tag (hash).
    pub keyed: HashMap<u64, Result<u32, StackError>>,
    /// Files to look in for a build-id its process no longer maps (see
    /// [`Gatherer::with_candidates`]), and their build-ids once read.
    candidates: Vec<PathBuf>,
    candidate_ids: Option<HashMap<Vec<u8>, PathBuf>>,
}

impl Gatherer {
    /// A gatherer reading processes under `proc_root` (/proc) and keeping objects in
    /// `cache`.
    pub fn new(proc_root: impl Into<PathBuf>, cache: Option<BuildIdCache>) -> Gatherer {
        Gatherer {
            proc_root: proc_root.into(),
            cache,
            stacks: UserStacks::default(),
            stack_ids: HashMap::new(),
            by_build_id: HashMap::new(),
            by_path: HashMap::new(),
            processes: HashMap::new(),
            file_ids: HashMap::new(),
            undecodable: 0,
            cache_failures: Vec::new(),
            cached: 0,
            keyed: HashMap::new(),
            candidates: Vec::new(),
            candidate_ids: None,
        }
    }

    /// Also names objects from `files` when their process is gone before its mappings
    /// were read (a short command): typically the command's executable and the
    /// libraries hytrace itself maps (the same C library and loader). See
    /// [`candidate_files`].
    pub fn with_candidates(mut self, files: Vec<PathBuf>) -> Gatherer {
        self.candidates = files;
        self
    }

    /// The candidate file with `build_id`, reading the candidates' build-ids once.
    fn candidate_with(&mut self, build_id: &[u8]) -> Option<PathBuf> {
        let candidates = &self.candidates;
        let ids = self.candidate_ids.get_or_insert_with(|| {
            candidates
                .iter()
                .filter_map(|path| {
                    let id = build_id_of_file(path).ok().flatten()?;
                    Some((id, path.clone()))
                })
                .collect()
        });
        ids.get(build_id).cloned()
    }

    /// The build-id cache's directory, if objects are kept.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        self.cache.as_ref().map(|c| c.dir.clone())
    }

    /// Adds one ring-buffer record of `record --user-stack` as a sample.
    pub fn add(&mut self, bytes: &[u8]) {
        let Some(ring) = decode_ring_stack(bytes) else {
            self.undecodable += 1;
            return;
        };
        let stack = self.place_stack(&ring);
        self.stacks.samples.push(StackSample {
            ktime_ns: ring.tag,
            tid: ring.pid_tgid as u32,
            tgid: (ring.pid_tgid >> 32) as u32,
            cpu: ring.cpu,
            stack,
        });
    }

    /// Adds one ring-buffer record of `hist --stacks`: a stack under its hash.
    pub fn add_keyed(&mut self, bytes: &[u8]) {
        let Some(ring) = decode_ring_stack(bytes) else {
            self.undecodable += 1;
            return;
        };
        let stack = self.place_stack(&ring);
        self.keyed.insert(ring.tag, stack);
    }

    /// Places the frames of `ring` and returns its stack's index (stacks are kept
    /// once), or why it has none.
    pub fn place_stack(&mut self, ring: &RingStack) -> Result<u32, StackError> {
        let tgid = (ring.pid_tgid >> 32) as u32;
        if ring.result < 0 {
            return Err(StackError::Errno((-ring.result) as i32));
        }
        if ring.frames.is_empty() {
            return Err(StackError::Empty);
        }
        let frames: Vec<Frame> = ring
            .frames
            .iter()
            .map(|frame| self.place(tgid, *frame))
            .collect();
        let next = self.stacks.stacks.len() as u32;
        let id = *self.stack_ids.entry(frames.clone()).or_insert(next);
        if id == next {
            self.stacks.stacks.push(frames);
        }
        Ok(id)
    }

    /// The stacks gathered, with the kernel's count of stacks it had no room for and
    /// the ids of the events the program was attached to.
    pub fn finish(mut self, lost: u64, event_types: Vec<u16>) -> (UserStacks, GatherStats) {
        self.stacks.lost = lost;
        self.stacks.event_types = event_types;
        let stats = GatherStats {
            undecodable: self.undecodable,
            cache_failures: self.cache_failures,
            cached: self.cached,
        };
        (self.stacks, stats)
    }

    fn place(&mut self, tgid: u32, frame: KernelFrame) -> Frame {
        match frame {
            KernelFrame::BuildId { build_id, offset } => Frame::Object {
                object: self.object_with_build_id(tgid, build_id),
                offset,
            },
            KernelFrame::Ip(ip) => self.place_address(tgid, ip),
        }
    }

    fn object_with_build_id(&mut self, tgid: u32, build_id: [u8; 20]) -> u32 {
        if let Some(&object) = self.by_build_id.get(&build_id) {
            return object;
        }
        let mut found = None;
        for attempt in 0..2 {
            if attempt == 1 && !self.reread(tgid) {
                break;
            }
            let mappings = self.mappings(tgid).to_vec();
            found = mappings
                .into_iter()
                .find(|m| self.file_build_id(tgid, m).as_deref() == Some(build_id.as_slice()));
            if found.is_some() {
                break;
            }
        }
        let object = match found {
            Some(mapping) => {
                let object = self.add_object(build_id.to_vec(), mapping.path.clone());
                self.keep_in_cache(tgid, &mapping, &build_id);
                object
            }
            None => match self.candidate_with(&build_id) {
                Some(path) => {
                    let shown = path.to_string_lossy().into_owned();
                    let object = self.add_object(build_id.to_vec(), shown);
                    self.keep_file_in_cache(&path, &build_id);
                    object
                }
                None => self.add_object(build_id.to_vec(), String::new()),
            },
        };
        self.by_build_id.insert(build_id, object);
        object
    }

    fn place_address(&mut self, tgid: u32, ip: u64) -> Frame {
        for attempt in 0..2 {
            if attempt == 1 && !self.reread(tgid) {
                break;
            }
            if self
                .processes
                .get(&tgid)
                .is_some_and(|p| p.mappings.is_none())
            {
                return Frame::Address {
                    ip,
                    why: Unplaced::ProcessGone,
                };
            }
            let hit = self
                .mappings(tgid)
                .iter()
                .find(|m| m.start <= ip && ip < m.end)
                .cloned();
            if let Some(mapping) = hit {
                let build_id = self.file_build_id(tgid, &mapping).unwrap_or_default();
                let offset = ip - mapping.start + mapping.offset;
                let object = match self.by_path.get(&(build_id.clone(), mapping.path.clone())) {
                    Some(&object) => object,
                    None => {
                        let object = self.add_object(build_id.clone(), mapping.path.clone());
                        if !build_id.is_empty() {
                            self.keep_in_cache(tgid, &mapping, &build_id);
                        }
                        object
                    }
                };
                return Frame::Object { object, offset };
            }
        }
        let gone = self
            .processes
            .get(&tgid)
            .is_some_and(|p| p.mappings.is_none());
        Frame::Address {
            ip,
            why: if gone {
                Unplaced::ProcessGone
            } else {
                Unplaced::NoFile
            },
        }
    }

    fn add_object(&mut self, build_id: Vec<u8>, path: String) -> u32 {
        let object = self.stacks.objects.len() as u32;
        self.by_path
            .insert((build_id.clone(), path.clone()), object);
        self.stacks.objects.push(StackObject { build_id, path });
        object
    }

    /// The process's file mappings, read on first use (empty once it is gone).
    fn mappings(&mut self, tgid: u32) -> &[FileMapping] {
        if !self.processes.contains_key(&tgid) {
            let mappings = read_maps(&self.proc_root, tgid);
            self.processes.insert(tgid, Process { mappings, reads: 1 });
        }
        self.processes
            .get(&tgid)
            .and_then(|p| p.mappings.as_deref())
            .unwrap_or(&[])
    }

    /// Reads the mappings again after a miss, a bounded number of times; whether it did.
    fn reread(&mut self, tgid: u32) -> bool {
        let process = self.processes.entry(tgid).or_default();
        if process.reads >= MAX_MAPS_READS {
            return false;
        }
        if process.reads > 0 && process.mappings.is_none() {
            return false;
        }
        process.reads += 1;
        process.mappings = read_maps(&self.proc_root, tgid);
        self.file_ids.retain(|(pid, _), _| *pid != tgid);
        true
    }

    /// The build-id of the file behind `mapping`, read through map_files.
    fn file_build_id(&mut self, tgid: u32, mapping: &FileMapping) -> Option<Vec<u8>> {
        let key = (tgid, mapping.start);
        if let Some(id) = self.file_ids.get(&key) {
            return id.clone();
        }
        let id = build_id_of_file(&map_file(&self.proc_root, tgid, mapping))
            .or_else(|_| build_id_of_file(Path::new(&mapping.path)))
            .ok()
            .flatten();
        self.file_ids.insert(key, id.clone());
        id
    }

    /// Keeps `path` (which has `build_id`) in the cache.
    fn keep_file_in_cache(&mut self, path: &Path, build_id: &[u8]) {
        let Some(cache) = &self.cache else {
            return;
        };
        match cache.keep(path, build_id) {
            Ok(Kept::AlreadyThere) => {}
            Ok(Kept::Linked | Kept::Copied) => self.cached += 1,
            Err(e) => self.cache_failures.push(format!(
                "{} ({}): {}",
                path.display(),
                super::build_ids::hex(build_id),
                crate::notes::chain(&e)
            )),
        }
    }

    fn keep_in_cache(&mut self, tgid: u32, mapping: &FileMapping, build_id: &[u8]) {
        let Some(cache) = &self.cache else {
            return;
        };
        // The path itself first (a hard link is possible), else the mapped file as the
        // process sees it (a deleted or replaced binary).
        let kept = cache
            .keep(Path::new(&mapping.path), build_id)
            .or_else(|_| cache.keep(&map_file(&self.proc_root, tgid, mapping), build_id));
        match kept {
            Ok(Kept::AlreadyThere) => {}
            Ok(Kept::Linked | Kept::Copied) => self.cached += 1,
            Err(e) => self.cache_failures.push(format!(
                "{} ({}): {}",
                mapping.path,
                super::build_ids::hex(build_id),
                crate::notes::chain(&e)
            )),
        }
    }
}

/// Files likely to hold the objects of a command's stacks: its executable (as exec
/// would find it on PATH) and every file hytrace itself maps (its C library and
/// loader are the command's too, most of the time).
pub fn candidate_files(command: &[String]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(program) = command.first() {
        let found = if program.contains('/') {
            Some(PathBuf::from(program))
        } else {
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join(program))
                    .find(|candidate| candidate.is_file())
            })
        };
        // Absolute, as the kernel names mapped files.
        files.extend(found.map(|path| std::fs::canonicalize(&path).unwrap_or(path)));
    }
    if let Ok(maps) = std::fs::read_to_string("/proc/self/maps") {
        for mapping in parse_maps(&maps) {
            let path = PathBuf::from(mapping.path);
            if !files.contains(&path) {
                files.push(path);
            }
        }
    }
    files
}

/// What gathering counted besides the stacks.
#[derive(Debug, Default, Clone)]
pub struct GatherStats {
    pub undecodable: u64,
    pub cache_failures: Vec<String>,
    pub cached: u64,
}

fn read_maps(proc_root: &Path, tgid: u32) -> Option<Vec<FileMapping>> {
    let text = std::fs::read_to_string(proc_root.join(tgid.to_string()).join("maps")).ok()?;
    Some(parse_maps(&text))
}

fn map_file(proc_root: &Path, tgid: u32, mapping: &FileMapping) -> PathBuf {
    proc_root
        .join(tgid.to_string())
        .join("map_files")
        .join(format!("{:x}-{:x}", mapping.start, mapping.end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_file_mappings_of_a_maps_text() {
        let text = "\
55d0c8a00000-55d0c8a01000 r--p 00000000 fe:01 1234 /tmp/deep
55d0c8a01000-55d0c8a02000 r-xp 00001000 fe:01 1234 /tmp/deep (deleted)
7f1e2c000000-7f1e2c021000 rw-p 00000000 00:00 0 
7f1e2c200000-7f1e2c228000 r--p 00000000 fe:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6
7ffd4e1c0000-7ffd4e1e1000 rw-p 00000000 00:00 0                          [stack]
";
        let maps = parse_maps(text);
        assert_eq!(maps.len(), 3);
        assert_eq!(
            maps[1],
            FileMapping {
                start: 0x55d0c8a01000,
                end: 0x55d0c8a02000,
                offset: 0x1000,
                path: "/tmp/deep".into()
            }
        );
        assert_eq!(maps[2].path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
    }

    fn record(result: i64, frames: &[(i32, [u8; 20], u64)]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&123u64.to_le_bytes());
        bytes.extend_from_slice(&((7u64 << 32) | 8).to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&result.to_le_bytes());
        for (status, id, value) in frames {
            bytes.extend_from_slice(&status.to_le_bytes());
            bytes.extend_from_slice(id);
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn decodes_build_id_and_ip_frames_up_to_the_first_empty_one() {
        let id = [7u8; 20];
        let bytes = record(
            96,
            &[
                (1, id, 0x1157),
                (2, [0; 20], 0x7f00_0000_1234),
                (0, [0; 20], 0),
                (1, id, 9),
            ],
        );
        let ring = decode_ring_stack(&bytes).unwrap();
        assert_eq!(ring.tag, 123);
        assert_eq!(ring.pid_tgid, (7 << 32) | 8);
        assert_eq!(ring.cpu, 1);
        assert_eq!(
            ring.frames,
            vec![
                KernelFrame::BuildId {
                    build_id: id,
                    offset: 0x1157
                },
                KernelFrame::Ip(0x7f00_0000_1234)
            ]
        );
        assert!(decode_ring_stack(&bytes[..31]).is_none());
    }

    #[test]
    fn a_gone_process_leaves_build_id_frames_named_and_addresses_bare() {
        let mut gatherer = Gatherer::new("/nonexistent-proc", None);
        let id = [9u8; 20];
        gatherer.add(&record(64, &[(1, id, 0x10), (2, [0; 20], 0x4000)]));
        gatherer.add(&record(64, &[(1, id, 0x10), (2, [0; 20], 0x4000)]));
        gatherer.add(&record(-14, &[]));
        gatherer.add(&record(0, &[]));
        let (stacks, stats) = gatherer.finish(2, vec![21]);
        assert_eq!(stats.undecodable, 0);
        assert_eq!(stacks.lost, 2);
        assert_eq!(
            stacks.objects,
            vec![StackObject {
                build_id: id.to_vec(),
                path: String::new()
            }]
        );
        assert_eq!(
            stacks.stacks,
            vec![vec![
                Frame::Object {
                    object: 0,
                    offset: 0x10
                },
                Frame::Address {
                    ip: 0x4000,
                    why: Unplaced::ProcessGone
                }
            ]]
        );
        let kinds: Vec<_> = stacks.samples.iter().map(|s| s.stack).collect();
        assert_eq!(
            kinds,
            vec![
                Ok(0),
                Ok(0),
                Err(StackError::Errno(14)),
                Err(StackError::Empty)
            ]
        );
        assert_eq!((stacks.samples[0].tid, stacks.samples[0].tgid), (8, 7));
    }
}
