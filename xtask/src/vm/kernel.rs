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

/// `package`'s .deb downloaded into `downloads` with the private apt `options` (the
/// package lists updated first if the download fails: they may be older than the
/// archive).
fn download_package(options: &[String], downloads: &Path, package: &str) -> Result<PathBuf> {
    fs::create_dir_all(downloads)?;
    let download = || {
        run_checked(
            Command::new("apt-get")
                .args(options)
                .args(["download", "-qq", package])
                .current_dir(downloads),
        )
    };
    if download().is_err() {
        run_checked(
            Command::new("apt-get")
                .args(options)
                .args(["update", "-qq"]),
        )?;
        download()?;
    }
    // PACKAGE_VERSION_ARCH.deb: the underscore keeps linux-image-R from matching
    // linux-image-R-dbg.
    let prefix = format!("{package}_");
    fs::read_dir(downloads)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
        .with_context(|| format!("{package} did not download"))
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
    let deb = download_package(&options, &dir.join("downloads"), &package)?;
    let partial = dir.join("kernel.partial");
    let _ = fs::remove_dir_all(&partial);
    run_checked(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&partial))?;
    fs::rename(&partial, &unpacked)?;
    let _ = fs::remove_file(&deb);
    find_unpacked(&unpacked).context("the kernel package holds no vmlinuz")
}

/// The guest kernel's vmlinux with DWARF, from its debug package
/// (`linux-image-RELEASE-dbg`, about 1 GB), fetched and cut down to that one file on
/// first use: `dir/dbg/usr/lib/debug/boot/vmlinux-RELEASE`, the layout of /usr/lib/debug,
/// so `report --debug-dir dir/dbg/usr/lib/debug` finds it. tar stops at the file (it
/// comes early in the package), so the rest is never decompressed.
pub fn ensure_debug_vmlinux(dir: &Path, release: &str) -> Result<PathBuf> {
    let root = dir.join("dbg");
    let member = format!("usr/lib/debug/boot/vmlinux-{release}");
    let vmlinux = root.join(&member);
    if vmlinux.is_file() {
        return Ok(vmlinux);
    }
    let apt = dir.join("apt");
    let options = apt_options(&apt);
    let package = format!("linux-image-{release}-dbg");
    eprintln!("xtask: fetching {package} for the guest kernel's debug info");
    let deb = download_package(&options, &dir.join("downloads"), &package)?;
    let partial = dir.join("dbg.partial");
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial)?;
    let mut deb_tar = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(&deb)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("cannot run dpkg-deb")?;
    let tar = Command::new("tar")
        .args(["-x", "--occurrence=1", "-C"])
        .arg(&partial)
        .arg(format!("./{member}"))
        .stdin(deb_tar.stdout.take().context("dpkg-deb's output")?)
        .status()
        .context("cannot run tar")?;
    // dpkg-deb is cut off by tar's early exit (a broken pipe): its status and its
    // complaint about the pipe say nothing unless tar found no vmlinux.
    let deb_tar = deb_tar.wait_with_output();
    if !tar.success() || !partial.join(&member).is_file() {
        let said = deb_tar
            .map(|out| String::from_utf8_lossy(&out.stderr).trim().to_string())
            .unwrap_or_default();
        bail!("{} holds no ./{member} (dpkg-deb: {said})", deb.display());
    }
    let _ = fs::remove_dir_all(&root);
    fs::rename(&partial, &root)?;
    let _ = fs::remove_file(&deb);
    Ok(vmlinux)
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
