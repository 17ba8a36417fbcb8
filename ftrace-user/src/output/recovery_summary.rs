//! What `hytrace recover` got back.

use std::fmt::Write as _;

use crate::record::recovery::Recovered;

/// Lines saying what was recovered, per CPU, and what may be missing.
pub fn text(recovered: &Recovered) -> String {
    let mut out = String::new();
    let pages: u64 = recovered.cpus.iter().map(|c| c.pages).sum();
    let _ = writeln!(
        out,
        "hytrace: recovered {pages} pages ({:.1} MB) from {} into {}",
        (pages * u64::from(recovered.page_size)) as f64 / 1e6,
        recovered.from.display(),
        recovered.output.display()
    );
    for cpu in &recovered.cpus {
        let _ = write!(out, "  cpu {}: {} pages", cpu.cpu, cpu.pages);
        if cpu.partial_bytes > 0 {
            let _ = write!(
                out,
                "; a last page written only in part ({} bytes) left out",
                cpu.partial_bytes
            );
        }
        out.push('\n');
    }
    out.push_str(
        "  may be missing: what the kernel still held in its buffers when the recorder died, \
         and the events of a page it was writing\n",
    );
    out
}
