//! The guest kernel: Debian's generic amd64 kernel from the backports suite of the
//! machine's own Debian release (6.12 on bookworm: its tracefs instances offer
//! function_graph), fetched with a private apt configuration under target/vm so the
//! machine's apt state is left alone, and unpacked there.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::setup::{output_of, run_checked};

/// An unpacked kernel package.
pub struct GuestKernel {
    pub vmlinuz: PathBuf,
    pub modules: PathBuf,
    pub release: String,
}

/// The Debian mirror this machine's apt already uses (the `URIs:` of its Debian
/// sources), so no address is written into the project.
fn debian_mirror() -> Result<String> {
    let mut texts = Vec::new();
    for path in [
        "/etc/apt/sources.list.d/debian.sources",
        "/etc/apt/sources.list",
    ] {
        if let Ok(text) = fs::read_to_string(path) {
            texts.push(text);
        }
    }
    for text in &texts {
        for line in text.lines() {
            let uri = if let Some(rest) = line.strip_prefix("URIs:") {
                rest.split_whitespace().next()
            } else if let Some(rest) = line.strip_prefix("deb ") {
                rest.split_whitespace().find(|w| w.contains("://"))
            } else {
                None
            };
            if let Some(uri) = uri.filter(|u| u.trim_end_matches('/').ends_with("/debian")) {
                return Ok(uri.to_string());
            }
        }
    }
    bail!("no Debian archive in this machine's apt sources to fetch the guest kernel from")
}

fn codename() -> Result<String> {
    let text = fs::read_to_string("/etc/os-release").context("cannot read /etc/os-release")?;
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|c| c.trim_matches('"').to_string())
        .filter(|c| !c.is_empty())
        .context("no VERSION_CODENAME in /etc/os-release")
}

/// apt options pointing at `dir`'s private sources list and package lists.
fn apt_options(dir: &Path) -> Vec<String> {
    vec![
        format!(
            "-oDir::Etc::sourcelist={}",
            dir.join("sources.list").display()
        ),
        "-oDir::Etc::sourceparts=-".into(),
        format!("-oDir::State::Lists={}", dir.join("lists").display()),
        "-oAPT::Get::List-Cleanup=0".into(),
        // The files go under target/, which apt's unprivileged download user may not
        // reach; root downloads them itself.
        "-oAPT::Sandbox::User=root".into(),
    ]
}

/// The guest kernel under `dir`, fetched and unpacked on first use.
pub fn ensure_kernel(dir: &Path) -> Result<GuestKernel> {
    let unpacked = dir.join("kernel");
    if let Some(kernel) = find_unpacked(&unpacked) {
        return Ok(kernel);
    }
    let apt = dir.join("apt");
    fs::create_dir_all(apt.join("lists/partial"))?;
    let suite = format!("{}-backports", codename()?);
    fs::write(
        apt.join("sources.list"),
        format!(
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {} {suite} main\n",
            debian_mirror()?
        ),
    )?;
    let options = apt_options(&apt);
    eprintln!("xtask: fetching the guest kernel (linux-image-amd64 from {suite})");
    run_checked(
        Command::new("apt-get")
            .args(&options)
            .args(["update", "-qq"]),
    )?;
    let depends = output_of(
        Command::new("apt-cache")
            .args(&options)
            .args(["depends", "linux-image-amd64"]),
    )?;
    let package = depends
        .lines()
        .find_map(|l| l.trim().strip_prefix("Depends: "))
        .filter(|p| p.starts_with("linux-image-"))
        .context("linux-image-amd64 names no kernel package")?
        .to_string();
    let downloads = dir.join("downloads");
    fs::create_dir_all(&downloads)?;
    run_checked(
        Command::new("apt-get")
            .args(&options)
            .args(["download", "-qq", &package])
            .current_dir(&downloads),
    )?;
    let deb = fs::read_dir(&downloads)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&package))
        })
        .context("the kernel package did not download")?;
    let partial = dir.join("kernel.partial");
    let _ = fs::remove_dir_all(&partial);
    run_checked(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&partial))?;
    fs::rename(&partial, &unpacked)?;
    let _ = fs::remove_file(&deb);
    find_unpacked(&unpacked).context("the kernel package holds no vmlinuz")
}

fn find_unpacked(root: &Path) -> Option<GuestKernel> {
    let boot = fs::read_dir(root.join("boot")).ok()?;
    let vmlinuz = boot.filter_map(|e| e.ok().map(|e| e.path())).find(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
    })?;
    let release = vmlinuz
        .file_name()?
        .to_string_lossy()
        .trim_start_matches("vmlinuz-")
        .to_string();
    let modules = root.join("lib/modules").join(&release);
    modules.is_dir().then_some(GuestKernel {
        vmlinuz,
        modules,
        release,
    })
}
