//! The guest's initramfs: a static busybox, the kernel modules that mount the host's
//! root over 9p (with an overlay on top so the guest can write), the KVM modules, and
//! an /init that runs one script in a chroot of the host's root, prints its exit
//! status on the console and powers off. Written as a newc cpio archive.
//!
//! /init loads the KVM modules (list `lib/mod/kvm-order`) only when the guest CPU
//! offers SVM (`svm` in /proc/cpuinfo, which TCG shows with `-cpu max`); otherwise it
//! prints `hytrace-vm: no svm in the guest CPU, KVM modules not loaded`. A module that
//! fails to load is reported on the console (`hytrace-vm: insmod NAME failed`) and the
//! boot goes on.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::setup::output_of;

/// The marker /init prints with the script's exit status.
pub const EXIT_MARKER: &str = "hytrace-vm-exit:";

/// The modules the guest needs; their dependencies are added from modinfo. ext4 (with
/// the crc32c it asks the crypto API for at mount) and loop are for the scratch
/// filesystem of the trace-cmd corpus's ext4 and block events.
const NEEDED_MODULES: &[&str] = &[
    "9pnet_virtio",
    "9p",
    "overlay",
    "virtio_pci",
    "ext4",
    "crc32c_generic",
    "loop",
];

/// The modules of real KVM in the guest (AMD's, since TCG emulates SVM and not VMX),
/// in load order; their dependencies are added from modinfo. Loaded by /init only
/// when the guest CPU has `svm`.
const KVM_MODULES: &[&str] = &["irqbypass", "ccp", "kvm", "kvm_amd"];

/// Part of [`layout_tag`]: bump it when the archive's layout changes in a way that
/// [`INIT`] and the module lists do not show.
const LAYOUT_VERSION: u32 = 2;

const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/mod/order); do insmod /lib/mod/$m || echo "hytrace-vm: insmod $m failed"; done
if grep -qw svm /proc/cpuinfo; then
  for m in $(cat /lib/mod/kvm-order); do insmod /lib/mod/$m || echo "hytrace-vm: insmod $m failed"; done
  [ -c /dev/kvm ] || echo "hytrace-vm: KVM modules loaded but no /dev/kvm"
else
  echo "hytrace-vm: no svm in the guest CPU, KVM modules not loaded"
fi
script=$(sed -n 's/.*hytrace\.script=\([^ ]*\).*/\1/p' /proc/cmdline)
out=$(sed -n 's/.*hytrace\.out=\([^ ]*\).*/\1/p' /proc/cmdline)
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 hostroot /host || echo "hytrace-vm: cannot mount the host root"
mount -t tmpfs tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot || echo "hytrace-vm: cannot mount the overlay"
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mkdir -p /newroot$out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /newroot$out || echo "hytrace-vm: cannot mount the output directory"
mount -t tracefs nodev /newroot/sys/kernel/tracing
mount -t debugfs nodev /newroot/sys/kernel/debug
mount -t bpf bpf /newroot/sys/fs/bpf
chroot /newroot /bin/sh "$script"
echo "hytrace-vm-exit: $?"
poweroff -f
"#;

/// Finds every module file under `modules` by name (`9p` for 9p.ko or 9p.ko.xz).
fn module_files(modules: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![modules.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if let Some(stem) = name
                .strip_suffix(".ko")
                .or_else(|| name.strip_suffix(".ko.xz"))
            {
                found.insert(stem.replace('-', "_"), path.clone());
            }
        }
    }
    Ok(found)
}

/// Module names and files in load order: the ones always loaded, then the KVM ones.
type LoadOrder = (Vec<(String, PathBuf)>, Vec<(String, PathBuf)>);

/// The modules to load at boot, then the KVM modules (loaded only on an SVM CPU), each
/// with its dependencies, dependencies first; a module already in the first list is
/// not repeated in the second. Modules built into the kernel have no file and are
/// skipped.
fn load_order(files: &BTreeMap<String, PathBuf>) -> Result<LoadOrder> {
    fn visit(
        name: &str,
        files: &BTreeMap<String, PathBuf>,
        order: &mut Vec<(String, PathBuf)>,
    ) -> Result<()> {
        if order.iter().any(|(n, _)| n == name) {
            return Ok(());
        }
        let Some(path) = files.get(name) else {
            return Ok(());
        };
        let depends = output_of(Command::new("modinfo").args(["-F", "depends"]).arg(path))?;
        for dependency in depends.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            visit(&dependency.replace('-', "_"), files, order)?;
        }
        order.push((name.to_string(), path.clone()));
        Ok(())
    }
    let mut order = Vec::new();
    for name in NEEDED_MODULES {
        visit(name, files, &mut order)?;
    }
    if !order.iter().any(|(n, _)| n == "9p") {
        bail!("the guest kernel has no 9p module");
    }
    let base = order.len();
    for name in KVM_MODULES {
        visit(name, files, &mut order)?;
    }
    let kvm = order.split_off(base);
    if !kvm.iter().any(|(n, _)| n == "kvm_amd") {
        eprintln!("xtask: the guest kernel has no kvm_amd module: no KVM in the guest");
    }
    Ok((order, kvm))
}

/// One newc cpio entry.
fn cpio_entry(out: &mut Vec<u8>, name: &str, mode: u32, data: &[u8], ino: u32) {
    let header = format!(
        "070701{ino:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        0,
        0,
        1,
        0,
        data.len(),
        0,
        0,
        0,
        0,
        name.len() + 1,
        0
    );
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// A short tag of this initramfs layout, so a cached archive of an older /init is
/// not reused.
pub fn layout_tag() -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    LAYOUT_VERSION.hash(&mut hasher);
    INIT.hash(&mut hasher);
    NEEDED_MODULES.hash(&mut hasher);
    KVM_MODULES.hash(&mut hasher);
    format!("{:08x}", hasher.finish() as u32)
}

/// Writes the initramfs for the kernel whose modules are under `modules`.
pub fn build(modules: &Path, busybox: &Path, target: &Path) -> Result<()> {
    let (order, kvm_order) = load_order(&module_files(modules)?)?;
    let mut archive = Vec::new();
    let mut ino = 1;
    let mut add = |archive: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]| {
        cpio_entry(archive, name, mode, data, ino);
        ino += 1;
    };
    for dir in [
        "bin", "lib", "lib/mod", "proc", "sys", "dev", "host", "rw", "newroot",
    ] {
        add(&mut archive, dir, 0o040755, &[]);
    }
    let busybox_bytes =
        fs::read(busybox).with_context(|| format!("cannot read {}", busybox.display()))?;
    add(&mut archive, "bin/busybox", 0o100755, &busybox_bytes);
    add(&mut archive, "init", 0o100755, INIT.as_bytes());
    let (mut names, mut kvm_names) = (String::new(), String::new());
    for (in_kvm, (name, path)) in order
        .iter()
        .map(|m| (false, m))
        .chain(kvm_order.iter().map(|m| (true, m)))
    {
        let bytes = if path.extension().is_some_and(|e| e == "xz") {
            let out = Command::new("xz").arg("-dc").arg(path).output()?;
            if !out.status.success() {
                bail!("cannot decompress {}", path.display());
            }
            out.stdout
        } else {
            fs::read(path)?
        };
        add(
            &mut archive,
            &format!("lib/mod/{name}.ko"),
            0o100644,
            &bytes,
        );
        let list = if in_kvm { &mut kvm_names } else { &mut names };
        list.push_str(&format!("{name}.ko\n"));
    }
    add(&mut archive, "lib/mod/order", 0o100644, names.as_bytes());
    add(
        &mut archive,
        "lib/mod/kvm-order",
        0o100644,
        kvm_names.as_bytes(),
    );
    cpio_entry(&mut archive, "TRAILER!!!", 0, &[], 0);
    fs::write(target, archive).with_context(|| format!("cannot write {}", target.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpio_entries_are_newc_and_aligned() {
        let mut out = Vec::new();
        cpio_entry(&mut out, "init", 0o100755, b"#!/bin/sh\n", 7);
        assert!(out.starts_with(b"070701"));
        assert_eq!(&out[6..14], b"00000007");
        assert_eq!(&out[14..22], b"000081ed");
        // 110-byte header + "init\0" padded to 116, then 10 data bytes padded to 12.
        assert_eq!(out.len(), 116 + 12);
        assert_eq!(&out[110..115], b"init\0");
        assert_eq!(&out[116..126], b"#!/bin/sh\n");
    }
}
