//! `hytrace doctor`: what this kernel offers, each feature probed for real.

use std::io::Write;

use anyhow::Result;

use crate::{
    bpf::{load_check::probe_program_types, user_stacks},
    tracefs::{Tracefs, probe_features},
};

pub fn run() -> Result<i32> {
    let tracefs = Tracefs::open()?;
    let mut rows: Vec<(String, bool, String)> = probe_features(&tracefs)
        .into_iter()
        .map(|f| (f.name, f.available, f.detail))
        .collect();
    for (name, ok, detail) in probe_program_types() {
        rows.push((name.to_string(), ok, detail));
    }
    rows.push(btf_row());
    let sys_enter = crate::tracefs::EventId {
        system: "raw_syscalls".into(),
        name: "sys_enter".into(),
    };
    let (ok, detail) = match tracefs.event_id(&sys_enter) {
        Ok(id) => user_stacks::probe(id),
        Err(e) => (false, e.to_string()),
    };
    rows.push(("user stacks".to_string(), ok, detail));
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (name, ok, detail) in &rows {
        let mark = if *ok { "yes" } else { "no " };
        writeln!(out, "{name:<width$}  {mark}  {detail}")?;
    }
    Ok(0)
}

/// BTF: /sys/kernel/btf/vmlinux must start with the BTF magic.
fn btf_row() -> (String, bool, String) {
    let path = "/sys/kernel/btf/vmlinux";
    match std::fs::File::open(path).and_then(|mut f| {
        let mut magic = [0u8; 2];
        std::io::Read::read_exact(&mut f, &mut magic)?;
        Ok(magic)
    }) {
        Ok(magic) if u16::from_le_bytes(magic) == 0xeb9f => {
            ("kernel BTF".to_string(), true, format!("{path} readable"))
        }
        Ok(_) => (
            "kernel BTF".to_string(),
            false,
            format!("{path} has no BTF magic"),
        ),
        Err(e) => ("kernel BTF".to_string(), false, format!("{path}: {e}")),
    }
}
