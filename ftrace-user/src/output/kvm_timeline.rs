//! `hytrace kvm --timeline`: one line per exit, in the order exits ended.

use std::fmt::Write as _;

use crate::kvm::pairing::PairedExit;

/// `SECS.USECS tid T vcpu V REASON rip 0x… kernel N.NNN us qemu N.NNN us | events`.
pub fn line(exit: &PairedExit, out: &mut String) {
    let vcpu = exit
        .vcpu
        .map(|v| v.to_string())
        .unwrap_or_else(|| "?".into());
    let _ = write!(
        out,
        "{}.{:06} tid {} vcpu {} {}",
        exit.ts / 1_000_000_000,
        exit.ts % 1_000_000_000 / 1000,
        exit.tid,
        vcpu,
        exit.reason
    );
    if let Some(reason) = exit
        .userspace_reason
        .as_ref()
        .filter(|r| **r != exit.reason)
    {
        let _ = write!(out, " ({reason})");
    }
    if let Some(rip) = exit.rip {
        let _ = write!(out, " rip 0x{rip:x}");
    }
    let _ = write!(
        out,
        " kernel {:.3} us qemu {:.3} us",
        exit.kernel_ns as f64 / 1e3,
        exit.user_ns as f64 / 1e3
    );
    if exit.incomplete {
        out.push_str(" incomplete (events lost)");
    }
    if !exit.qemu.is_empty() {
        out.push_str(" |");
        for (i, event) in exit.qemu.iter().enumerate() {
            let _ = write!(
                out,
                "{} {}{}{}",
                if i == 0 { "" } else { ";" },
                event.name,
                if event.text.is_empty() { "" } else { " " },
                event.text
            );
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvm::qemu_events::parse_qemu_event;

    #[test]
    fn one_line_with_times_and_qemu_events() {
        let exit = PairedExit {
            tid: 31930,
            vcpu: Some(0),
            reason: "IO_INSTRUCTION".into(),
            userspace_reason: Some("KVM_EXIT_IO".into()),
            rip: Some(0xc45d),
            ts: 23_580_595_951_000,
            kernel_ns: 8000,
            user_ns: 5000,
            user_window: None,
            handling: Vec::new(),
            qemu: vec![
                parse_qemu_event("cpu_set_apic_base 00000000fee00900").unwrap(),
                parse_qemu_event("cpu_in addr 0x71 value 0").unwrap(),
            ],
            incomplete: false,
        };
        let mut out = String::new();
        line(&exit, &mut out);
        assert_eq!(
            out,
            "23580.595951 tid 31930 vcpu 0 IO_INSTRUCTION (KVM_EXIT_IO) rip 0xc45d kernel 8.000 us \
             qemu 5.000 us | cpu_set_apic_base 00000000fee00900; cpu_in addr 0x71 value 0\n"
        );
    }
}
