//! `report --kernel-lines`: every distinct address of the recording's kernel_stack
//! records (`record -T`) named with file:line and inlined functions from the kernel's
//! debug info (see [`crate::symbolize::kernel_lines`]), for the renderers to print
//! under trace-cmd's frame lines.

use std::{
    collections::{BTreeSet, HashMap},
    path::{Path, PathBuf},
};

use crate::{
    format::{Printer, SourceLine},
    store::hytrace_kind,
    symbolize::kernel_lines::{
        KernelDebugInfo, KernelLinesError, build_id_from_hex, find_vmlinux, release_of_uname,
    },
    trace::Recording,
};

/// What was loaded, for the report's closing line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelLinesLoaded {
    pub vmlinux: PathBuf,
    /// Distinct addresses in the kernel stacks, and how many of them the file named.
    pub addresses: usize,
    pub named: usize,
}

/// The kernel build-id the recording stored (record writes it; trace-cmd does not).
pub fn recorded_build_id(recording: &Recording) -> Option<Vec<u8>> {
    let data = recording
        .file
        .meta
        .hytrace_option(hytrace_kind::KERNEL_BUILD_ID)?;
    build_id_from_hex(&String::from_utf8_lossy(data))
}

/// Every distinct frame address of the recording's kernel_stack records.
fn stack_addresses(recording: &Recording) -> BTreeSet<u64> {
    let mut addresses = BTreeSet::new();
    let Some(event) = recording.event_named("ftrace", "kernel_stack") else {
        return addresses;
    };
    let Printer::Plugin(plugin) = &event.printer else {
        return addresses;
    };
    for merged in recording.merge_all() {
        let data = merged.record.data;
        if data.len() >= 2 && u16::from_le_bytes([data[0], data[1]]) == event.id {
            addresses.extend(plugin.kernel_stack(&event.fields, data).unwrap_or_default());
        }
    }
    addresses
}

/// Finds the recording's vmlinux (or opens `vmlinux` when given), names every kernel
/// stack address, and hands the names to the recording's symbol lookups. None when the
/// recording has no kernel stacks.
pub fn load(
    recording: &mut Recording,
    vmlinux: Option<&Path>,
    debug_dirs: &[PathBuf],
) -> Result<Option<KernelLinesLoaded>, KernelLinesError> {
    let addresses: Vec<u64> = stack_addresses(recording).into_iter().collect();
    if addresses.is_empty() {
        return Ok(None);
    }
    let build_id = recorded_build_id(recording);
    let path = match vmlinux {
        Some(path) => path.to_path_buf(),
        None => find_vmlinux(
            build_id.as_deref(),
            recording.file.meta.uname().and_then(release_of_uname),
            debug_dirs,
        )?,
    };
    let info = KernelDebugInfo::open(&path, recording.symbols.kernel(), build_id.as_deref())?;
    let frames = info.return_addresses(&addresses)?;
    let named = frames.iter().filter(|f| !f.is_empty()).count();
    let table: HashMap<u64, Vec<SourceLine>> = addresses.iter().copied().zip(frames).collect();
    recording.symbols.kernel_lines = Some(table);
    Ok(Some(KernelLinesLoaded {
        vmlinux: path,
        addresses: addresses.len(),
        named,
    }))
}

#[cfg(test)]
mod tests;
