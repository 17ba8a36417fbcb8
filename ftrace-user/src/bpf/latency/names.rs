//! Names of histogram keys: irqs from /proc/interrupts, softirq vectors, block devices
//! from sysfs, command names (pure parsers, plus the readers that feed them).

use std::collections::HashMap;

/// Softirq vectors (include/linux/interrupt.h).
const SOFTIRQ_NAMES: [&str; 10] = [
    "HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU",
];

pub fn softirq_name(vec: u64) -> String {
    SOFTIRQ_NAMES
        .get(vec as usize)
        .map(std::string::ToString::to_string)
        .unwrap_or_else(|| format!("vec{vec}"))
}

/// /proc/interrupts rows ("  36:  12  34  PCI-MSI 49152-edge  virtio0-input.0") into
/// irq number → the name at the end of the row.
pub fn irq_names(text: &str) -> HashMap<u64, String> {
    text.lines()
        .filter_map(|line| {
            let (number, rest) = line.trim_start().split_once(':')?;
            let irq: u64 = number.trim().parse().ok()?;
            let name = rest.split_whitespace().last()?.to_string();
            Some((irq, name))
        })
        .collect()
}

/// A kernel-internal dev_t (major << 20 | minor) as "major,minor".
pub fn dev_numbers(dev: u64) -> (u64, u64) {
    (dev >> 20, dev & 0xf_ffff)
}

/// The DEVNAME line of a sysfs uevent file.
pub fn uevent_devname(text: &str) -> Option<&str> {
    text.lines().find_map(|l| l.strip_prefix("DEVNAME="))
}

/// "sda (8,0)" from sysfs, or "8,0" for a device sysfs does not know.
pub fn block_device_name(dev: u64) -> String {
    let (major, minor) = dev_numbers(dev);
    let uevent = std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/uevent"))
        .unwrap_or_default();
    match uevent_devname(&uevent) {
        Some(name) => format!("{name} ({major},{minor})"),
        None => format!("{major},{minor}"),
    }
}

/// A NUL-padded command name.
pub fn comm_text(comm: &[u8; 16]) -> String {
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    String::from_utf8_lossy(&comm[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn irq_names_come_from_the_last_column() {
        let names = irq_names(
            "           CPU0       CPU1\n   0:         36          0   IO-APIC   2-edge      timer\n  36:       1234       5678  PCI-MSI 49152-edge      virtio0-input.0\nNMI:          0          0   Non-maskable interrupts\n",
        );
        assert_eq!(names.get(&36).map(String::as_str), Some("virtio0-input.0"));
        assert_eq!(names.get(&0).map(String::as_str), Some("timer"));
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn device_numbers_and_names() {
        assert_eq!(dev_numbers((8 << 20) | 16), (8, 16));
        assert_eq!(dev_numbers((259 << 20) | 1), (259, 1));
        assert_eq!(
            uevent_devname("MAJOR=8\nMINOR=0\nDEVNAME=sda\nDEVTYPE=disk\n"),
            Some("sda")
        );
        assert_eq!(uevent_devname("MAJOR=8\n"), None);
        assert_eq!(softirq_name(3), "NET_RX");
        assert_eq!(softirq_name(12), "vec12");
        assert_eq!(comm_text(b"spin\0\0\0\0\0\0\0\0\0\0\0\0"), "spin");
        assert_eq!(comm_text(b"0123456789abcdef"), "0123456789abcdef");
    }
}
