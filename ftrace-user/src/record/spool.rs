//! Per-CPU spool files next to the output, removed whatever happens.

use std::path::{Path, PathBuf};

/// The spool file paths of one session; dropping it deletes them.
#[derive(Debug)]
pub struct SpoolFiles {
    paths: Vec<(u32, PathBuf)>,
}

impl SpoolFiles {
    /// `.NAME.hytrace-PID.cpuN` beside `output`, one per CPU.
    pub fn beside(output: &Path, cpus: &[u32]) -> SpoolFiles {
        let dir = match output.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "trace.dat".into());
        let pid = std::process::id();
        let paths = cpus
            .iter()
            .map(|&cpu| (cpu, dir.join(format!(".{name}.hytrace-{pid}.cpu{cpu}"))))
            .collect();
        SpoolFiles { paths }
    }

    pub fn paths(&self) -> &[(u32, PathBuf)] {
        &self.paths
    }
}

impl Drop for SpoolFiles {
    fn drop(&mut self) {
        for (_, path) in &self.paths {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sit_beside_the_output_and_are_removed() {
        let dir = std::env::temp_dir().join(format!("hytrace-spool-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spools = SpoolFiles::beside(&dir.join("a.dat"), &[0, 3]);
        let pid = std::process::id();
        assert_eq!(
            spools.paths()[1].1,
            dir.join(format!(".a.dat.hytrace-{pid}.cpu3"))
        );
        for (_, path) in spools.paths() {
            std::fs::write(path, b"x").unwrap();
        }
        let paths: Vec<PathBuf> = spools.paths().iter().map(|(_, p)| p.clone()).collect();
        drop(spools);
        assert!(paths.iter().all(|p| !p.exists()));
        std::fs::remove_dir(&dir).unwrap();
    }
}
