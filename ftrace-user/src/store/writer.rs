//! Streaming writer of version 6 files with one (top-level) flyrecord buffer.
//!
//! Layout: initial block, metadata blocks, CPU count, `options  \0`, the
//! options and DONE, `flyrecord\0` with one `(offset, size)` per CPU slot,
//! the selected clock as `u64 len, "[clock]"` (only with a TRACECLOCK option,
//! as trace-cmd expects), zero padding, then each CPU's pages at a
//! page-aligned offset.

use std::io::{Read, Seek, Write};

use super::bytes::{Enc, Endian};
use super::error::StoreError;
use super::header::write_initial;
use super::model::TraceMeta;
use super::options::{self, DONE};
use super::sections;

fn align_up(v: u64, align: u64) -> u64 {
    v.div_ceil(align) * align
}

/// Checks the CPU list and returns the number of CPU slots to write.
fn cpu_slots<R>(meta: &TraceMeta, cpus: &[(u32, R, u64)]) -> Result<u32, StoreError> {
    if meta.page_size == 0 {
        return Err(StoreError::invalid("page size 0"));
    }
    if meta.long_size != 4 && meta.long_size != 8 {
        return Err(StoreError::invalid(format!(
            "long size {} is neither 4 nor 8",
            meta.long_size
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let mut needed: u32 = 0;
    for (cpu, _, len) in cpus {
        if !seen.insert(*cpu) {
            return Err(StoreError::invalid(format!("CPU {cpu} given twice")));
        }
        if len % u64::from(meta.page_size) != 0 {
            return Err(StoreError::invalid(format!(
                "CPU {cpu} data length {len} is not a multiple of the page size {}",
                meta.page_size
            )));
        }
        let slot = cpu
            .checked_add(1)
            .ok_or_else(|| StoreError::invalid("CPU id too large"))?;
        needed = needed.max(slot);
    }
    match meta.cpu_count_option() {
        // trace-cmd reads as many table entries as CPUCOUNT says.
        Some(n) if n < needed => Err(StoreError::invalid(format!(
            "CPUCOUNT option {n} is below the highest CPU given ({})",
            needed - 1
        ))),
        Some(n) => Ok(n),
        None => Ok(needed),
    }
}

/// Writes a version 6 trace.dat file: `meta`, then one top-level flyrecord
/// buffer whose CPU `cpu` data is `len` bytes read from the reader.
///
/// - `len` must be a multiple of `meta.page_size` (whole raw pages).
/// - CPU slots `0..n` are written, `n` = max(highest CPU + 1, CPUCOUNT
///   option); slots without data get offset 0, size 0.
/// - CPU data is page aligned; the file offsets are computed from `out`'s
///   position at entry (so `out` need not start at 0). `Seek` is only used
///   to learn that position.
/// - Options are written in `meta.options` order.
/// - With a `File` source and a `File` (or `BufWriter<File>`) output, the copy runs in
///   the kernel (copy_file_range), never through this process's memory.
pub fn write_trace_file<W: Write + Seek, R: Read>(
    mut out: W,
    meta: &TraceMeta,
    cpus: &mut [(u32, R, u64)],
) -> Result<(), StoreError> {
    let slots = cpu_slots(meta, cpus)?;
    let endian = Endian::from_big(meta.big_endian);
    let base = out.stream_position()?;

    let mut enc = Enc::new(endian);
    write_initial(&mut enc, 6, meta.long_size, meta.page_size);
    sections::write_all_meta(&mut enc, meta)?;
    enc.u32(slots);
    enc.bytes(b"options  \0");
    for opt in &meta.options {
        let (id, data) = options::encode(opt, endian)?;
        let size = u32::try_from(data.len())
            .map_err(|_| StoreError::invalid(format!("option {id} is larger than 4 GiB")))?;
        enc.u16(id);
        enc.u32(size);
        enc.bytes(&data);
    }
    enc.u16(DONE);
    enc.bytes(b"flyrecord\0");

    let clock = meta.trace_clock().map(|c| format!("[{c}]"));
    let has_clock_option = meta
        .options
        .iter()
        .any(|o| matches!(o, super::model::TraceOption::TraceClock(_)));
    // The clock text trace-cmd reads after the table when TRACECLOCK exists.
    let clock_block = match (&clock, has_clock_option) {
        (Some(c), true) => c.clone(),
        (None, true) => "[local]".to_string(),
        (_, false) => String::new(),
    };
    let clock_len = if has_clock_option {
        8 + clock_block.len() as u64
    } else {
        0
    };

    // Offsets of each CPU's data, in CPU order.
    let page = u64::from(meta.page_size);
    let header_end = base + enc.buf.len() as u64 + 16 * u64::from(slots) + clock_len;
    let mut order: Vec<usize> = (0..cpus.len()).collect();
    order.sort_by_key(|&i| cpus[i].0);
    let mut table = vec![(0u64, 0u64); slots as usize];
    let mut pos = align_up(header_end, page);
    for &i in &order {
        let (cpu, _, len) = &cpus[i];
        table[*cpu as usize] = (pos, *len);
        pos = align_up(pos + len, page);
    }
    for (offset, size) in &table {
        enc.u64(*offset);
        enc.u64(*size);
    }
    if has_clock_option {
        enc.sized_u64(clock_block.as_bytes());
    }
    out.write_all(&enc.buf)?;

    let mut written = header_end;
    for &i in &order {
        let (cpu, reader, len) = &mut cpus[i];
        let (offset, _) = table[*cpu as usize];
        let pad = offset - written;
        std::io::copy(&mut std::io::repeat(0).take(pad), &mut out)?;
        let got = std::io::copy(&mut reader.take(*len), &mut out)?;
        if got != *len {
            return Err(StoreError::ShortCpuData {
                cpu: *cpu,
                expected: *len,
                got,
            });
        }
        written = offset + *len;
    }
    out.flush()?;
    Ok(())
}
