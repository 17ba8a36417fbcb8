//! Dynamic events of a session: `--kprobe` and `--uprobe` definitions in the kernel's
//! syntax, user symbols resolved to file offsets, created in the group
//! `hytrace_<pid>` (so `hytrace reset` can tell a dead session's probes) and removed
//! when the guard drops, after the instance that enabled them.

use std::path::PathBuf;

use thiserror::Error;

use super::{EventId, Tracefs, TracefsError, append, read};
use crate::symbolize::{
    dwarf_lines::{DwarfLineError, line_file_offset},
    dwarf_params::{DwarfParamError, parameter_probe},
    elf::{ElfError, symbol_file_offset},
};

/// Which probe file a definition goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Kprobe,
    Uprobe,
}

impl ProbeKind {
    fn file(self) -> &'static str {
        match self {
            ProbeKind::Kprobe => "kprobe_events",
            ProbeKind::Uprobe => "uprobe_events",
        }
    }

    fn option(self) -> &'static str {
        match self {
            ProbeKind::Kprobe => "--kprobe",
            ProbeKind::Uprobe => "--uprobe",
        }
    }
}

/// A parsed `--kprobe` / `--uprobe` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    pub kind: ProbeKind,
    /// `p` (entry) or `r` (return).
    pub retprobe: bool,
    pub name: String,
    /// kprobe: SYMBOL[+OFF]; uprobe: (PATH, SYMBOL or 0xOFFSET).
    pub target: String,
    pub fetchargs: Vec<String>,
}

#[derive(Debug, Error)]
pub enum ProbeError {
    #[error("{option} '{spec}': {reason}")]
    Syntax {
        option: &'static str,
        spec: String,
        reason: &'static str,
    },
    #[error("{option} '{spec}': {path}: {source}")]
    Target {
        option: &'static str,
        spec: String,
        path: String,
        #[source]
        source: SymbolOffsetError,
    },
    #[error("the kernel has no {file} ({detail})")]
    Unsupported { file: &'static str, detail: String },
    #[error("the kernel rejected {option} '{definition}': {log}")]
    Rejected {
        option: &'static str,
        definition: String,
        log: String,
    },
    #[error(transparent)]
    Tracefs(#[from] TracefsError),
}

/// Why a uprobe's symbol has no file offset.
#[derive(Debug, Error)]
pub enum SymbolOffsetError {
    #[error("{source}")]
    Read {
        #[source]
        source: std::io::Error,
    },
    #[error("{source}")]
    Elf {
        #[source]
        source: ElfError,
    },
    #[error("{source}")]
    Line {
        #[source]
        source: Box<DwarfLineError>,
    },
    #[error("{source}")]
    Dwarf {
        #[source]
        source: Box<DwarfParamError>,
    },
}

impl ProbeSpec {
    /// Parses `p:NAME TARGET [FETCHARGS…]` or `r:NAME TARGET [FETCHARGS…]`.
    pub fn parse(kind: ProbeKind, spec: &str) -> Result<ProbeSpec, ProbeError> {
        let syntax = |reason| ProbeError::Syntax {
            option: kind.option(),
            spec: spec.to_string(),
            reason,
        };
        let mut words = spec.split_whitespace();
        let head = words.next().ok_or(syntax("empty"))?;
        let (letter, name) = head
            .split_once(':')
            .ok_or(syntax("expected p:NAME or r:NAME first"))?;
        let retprobe = match letter {
            "p" => false,
            "r" => true,
            _ => return Err(syntax("expected p:NAME or r:NAME first")),
        };
        let valid_name = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid_name {
            return Err(syntax("NAME must be letters, digits and _"));
        }
        let target = words.next().ok_or(syntax("no probe target"))?.to_string();
        if kind == ProbeKind::Uprobe
            && !target
                .rsplit_once(':')
                .is_some_and(|(p, s)| !p.is_empty() && !s.is_empty())
        {
            return Err(syntax("a uprobe target is PATH:SYMBOL or PATH:0xOFFSET"));
        }
        Ok(ProbeSpec {
            kind,
            retprobe,
            name: name.to_string(),
            target,
            fetchargs: words.map(str::to_string).collect(),
        })
    }

    /// The kernel definition line in group `group`, with a uprobe's symbol resolved to
    /// its file offset by `resolve(path, symbol)`.
    pub fn definition(
        &self,
        group: &str,
        resolve: impl Fn(&str, &str) -> Result<u64, SymbolOffsetError>,
    ) -> Result<String, ProbeError> {
        let letter = if self.retprobe { 'r' } else { 'p' };
        let variables = self.dwarf_variables();
        if !variables.is_empty() {
            return self.definition_with_variables(group, &variables);
        }
        let target = match self.kind {
            ProbeKind::Kprobe => self.target.clone(),
            ProbeKind::Uprobe => {
                let (path, place) = self.target.rsplit_once(':').unwrap_or_default();
                if let Some((exe, file, line)) = source_line(path, place) {
                    let spec = format!("{letter}:{} {}", self.name, self.target);
                    if self.retprobe {
                        return Err(ProbeError::Syntax {
                            option: self.kind.option(),
                            spec,
                            reason: "a source line takes an entry probe (p:), not a return probe",
                        });
                    }
                    let offset =
                        line_offset(exe, file, line).map_err(|source| ProbeError::Target {
                            option: self.kind.option(),
                            spec,
                            path: exe.to_string(),
                            source,
                        })?;
                    let mut definition = format!("p:{group}/{} {exe}:{offset:#x}", self.name);
                    for arg in &self.fetchargs {
                        definition.push(' ');
                        definition.push_str(arg);
                    }
                    return Ok(definition);
                }
                let offset = match place.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16).ok(),
                    None => None,
                };
                let offset = match offset {
                    Some(offset) => offset,
                    None => resolve(path, place).map_err(|source| ProbeError::Target {
                        option: self.kind.option(),
                        spec: format!("{letter}:{} {}", self.name, self.target),
                        path: path.to_string(),
                        source,
                    })?,
                };
                format!("{path}:{offset:#x}")
            }
        };
        let mut line = format!("{letter}:{group}/{} {target}", self.name);
        for arg in &self.fetchargs {
            line.push(' ');
            line.push_str(arg);
        }
        Ok(line)
    }
}

impl ProbeSpec {
    /// Fetch-args that are bare names: parameters of the probed function, to be
    /// resolved from DWARF (kernel fetch-args start with `%`, `$`, `@`, `+`, `-` or
    /// have `NAME=`).
    fn dwarf_variables(&self) -> Vec<String> {
        self.fetchargs
            .iter()
            .filter(|arg| {
                arg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !arg.starts_with(|c: char| c.is_ascii_digit())
            })
            .cloned()
            .collect()
    }

    /// A uprobe whose fetch-args name parameters of FUNC (`p:NAME PATH:FUNC VAR…`):
    /// placed and fetched as DWARF says (see [`parameter_probe`]).
    fn definition_with_variables(
        &self,
        group: &str,
        variables: &[String],
    ) -> Result<String, ProbeError> {
        let spec = format!(
            "{}:{} {} {}",
            if self.retprobe { 'r' } else { 'p' },
            self.name,
            self.target,
            self.fetchargs.join(" ")
        );
        let syntax = |reason| ProbeError::Syntax {
            option: self.kind.option(),
            spec: spec.clone(),
            reason,
        };
        if self.kind != ProbeKind::Uprobe {
            return Err(syntax(
                "parameters by name need a uprobe (kernel functions: use %REG fetch-args)",
            ));
        }
        if self.retprobe {
            return Err(syntax(
                "a return probe sees no parameters (fetch $retval instead)",
            ));
        }
        if variables.len() != self.fetchargs.len() {
            return Err(syntax(
                "mix no parameter names with other fetch-args in one probe",
            ));
        }
        let (path, function) = self.target.rsplit_once(':').unwrap_or_default();
        let target_error = |source| ProbeError::Target {
            option: self.kind.option(),
            spec: spec.clone(),
            path: path.to_string(),
            source,
        };
        let bytes = std::fs::read(path)
            .map_err(|source| target_error(SymbolOffsetError::Read { source }))?;
        let probe = parameter_probe(&bytes, function, variables).map_err(|source| {
            target_error(SymbolOffsetError::Dwarf {
                source: Box::new(source),
            })
        })?;
        let mut line = format!("p:{group}/{} {path}:{:#x}", self.name, probe.file_offset);
        for arg in &probe.fetchargs {
            line.push(' ');
            line.push_str(arg);
        }
        Ok(line)
    }
}

/// `PATH:FILE` and `LINE` of a `PATH:FILE:LINE` target split at its last colon, as
/// (PATH, FILE, LINE).
fn source_line<'a>(path_and_file: &'a str, line: &str) -> Option<(&'a str, &'a str, u64)> {
    if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (path, file) = path_and_file.rsplit_once(':')?;
    (!path.is_empty() && !file.is_empty()).then(|| Some((path, file, line.parse().ok()?)))?
}

/// The file offset of `file:line`'s first instruction in the ELF file at `path`.
fn line_offset(path: &str, file: &str, line: u64) -> Result<u64, SymbolOffsetError> {
    let bytes = std::fs::read(path).map_err(|source| SymbolOffsetError::Read { source })?;
    line_file_offset(&bytes, file, line).map_err(|source| SymbolOffsetError::Line {
        source: Box::new(source),
    })
}

/// An ELF symbol's file offset (for uprobes).
pub fn elf_symbol_offset(path: &str, symbol: &str) -> Result<u64, SymbolOffsetError> {
    let bytes = std::fs::read(path).map_err(|source| SymbolOffsetError::Read { source })?;
    symbol_file_offset(&bytes, symbol).map_err(|source| SymbolOffsetError::Elf { source })
}

/// The session's probes; removed when dropped.
#[derive(Debug)]
pub struct SessionProbes {
    root: PathBuf,
    created: Vec<(ProbeKind, String)>,
    group: String,
}

impl SessionProbes {
    /// Creates every probe in group `hytrace_<pid>`; on any failure the ones made so far
    /// are removed.
    pub fn create(tracefs: &Tracefs, specs: &[ProbeSpec]) -> Result<SessionProbes, ProbeError> {
        let mut probes = SessionProbes {
            root: tracefs.root().to_path_buf(),
            created: Vec::new(),
            group: format!("hytrace_{}", std::process::id()),
        };
        for spec in specs {
            let file = tracefs.path(spec.kind.file());
            if !file.exists() {
                return Err(ProbeError::Unsupported {
                    file: spec.kind.file(),
                    detail: match spec.kind {
                        ProbeKind::Kprobe => {
                            "built without CONFIG_KPROBE_EVENTS; --uprobe and static events work"
                                .into()
                        }
                        ProbeKind::Uprobe => "built without CONFIG_UPROBE_EVENTS".into(),
                    },
                });
            }
            let definition = spec.definition(&probes.group, elf_symbol_offset)?;
            let _ = super::write(tracefs.path("error_log"), "");
            if let Err(error) = append(file, &format!("{definition}\n")) {
                let log = super::instance::last_error_entry(
                    &read(tracefs.path("error_log")).unwrap_or_default(),
                )
                .unwrap_or_else(|| match &error {
                    TracefsError::Write { source, .. } => source.to_string(),
                    other => other.to_string(),
                });
                return Err(ProbeError::Rejected {
                    option: spec.kind.option(),
                    definition,
                    log,
                });
            }
            probes.created.push((spec.kind, spec.name.clone()));
        }
        Ok(probes)
    }

    /// The events the probes made, to enable in the instance.
    pub fn events(&self) -> Vec<EventId> {
        self.created
            .iter()
            .map(|(_, name)| EventId {
                system: self.group.clone(),
                name: name.clone(),
            })
            .collect()
    }
}

impl Drop for SessionProbes {
    fn drop(&mut self) {
        for (kind, name) in self.created.drain(..).rev() {
            let removal = format!("-:{}/{name}\n", self.group);
            if let Err(error) = append(self.root.join(kind.file()), &removal) {
                crate::notes::warning(format_args!("{error} (run `hytrace reset` to retry)"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_file_line_targets_split_at_their_last_two_colons() {
        assert_eq!(
            source_line("/t/deep:deep.c", "19"),
            Some(("/t/deep", "deep.c", 19))
        );
        assert_eq!(source_line("/t/sleeper", "19"), None);
        assert_eq!(source_line("/t/sleeper", "nap"), None);
        assert_eq!(source_line("/t/deep:", "19"), None);
        assert_eq!(source_line("/t/deep:deep.c", "0x40"), None);
    }

    #[test]
    fn uprobe_specs_resolve_symbols_to_offsets() {
        let spec = ProbeSpec::parse(ProbeKind::Uprobe, "p:nap /t/sleeper:nap arg1=%di").unwrap();
        assert_eq!((spec.retprobe, spec.name.as_str()), (false, "nap"));
        let line = spec
            .definition("hytrace_7", |path, symbol| {
                assert_eq!((path, symbol), ("/t/sleeper", "nap"));
                Ok(0x1136)
            })
            .unwrap();
        assert_eq!(line, "p:hytrace_7/nap /t/sleeper:0x1136 arg1=%di");
        let ret = ProbeSpec::parse(ProbeKind::Uprobe, "r:napret /t/sleeper:0x40 $retval").unwrap();
        let no_symbol = || SymbolOffsetError::Elf {
            source: ElfError::NoSymbol {
                symbol: "nap".into(),
            },
        };
        assert_eq!(
            ret.definition("g", |_, _| Err(no_symbol())).unwrap(),
            "r:g/napret /t/sleeper:0x40 $retval"
        );
        let missing = spec.definition("g", |_, _| Err(no_symbol()));
        assert!(matches!(missing, Err(ProbeError::Target { .. })));
        assert_eq!(
            missing.unwrap_err().to_string(),
            "--uprobe 'p:nap /t/sleeper:nap': /t/sleeper: no function named nap in its symbol tables"
        );
    }

    #[test]
    fn kprobe_specs_keep_their_target() {
        let spec = ProbeSpec::parse(ProbeKind::Kprobe, "p:op do_sys_openat2 dfd=%di").unwrap();
        assert_eq!(
            spec.definition("hytrace_9", |_, _| unreachable!()).unwrap(),
            "p:hytrace_9/op do_sys_openat2 dfd=%di"
        );
    }

    #[test]
    fn malformed_specs_say_why() {
        let reason = |kind, text| match ProbeSpec::parse(kind, text) {
            Err(ProbeError::Syntax { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(ProbeKind::Kprobe, ""), "empty");
        assert_eq!(
            reason(ProbeKind::Kprobe, "x:op f"),
            "expected p:NAME or r:NAME first"
        );
        assert_eq!(
            reason(ProbeKind::Kprobe, "p:op-en f"),
            "NAME must be letters, digits and _"
        );
        assert_eq!(reason(ProbeKind::Kprobe, "p:op"), "no probe target");
        assert_eq!(
            reason(ProbeKind::Uprobe, "p:op /bin/true"),
            "a uprobe target is PATH:SYMBOL or PATH:0xOFFSET"
        );
    }
}
