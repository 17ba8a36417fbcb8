//! Pure parsers: `per_cpu/cpuN/stats` text and CPU lists like "0-3,5".

use super::TracefsError;

/// One CPU's ring-buffer statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuStats {
    pub entries: u64,
    pub overrun: u64,
    pub commit_overrun: u64,
    pub bytes: u64,
    pub dropped_events: u64,
    pub read_events: u64,
    /// The text as the kernel printed it (stored in trace.dat's CPU stats option).
    pub raw: String,
}

/// Parses the `stats` file; unknown lines are ignored, missing ones stay 0.
pub fn parse_cpu_stats(text: &str) -> CpuStats {
    let mut stats = CpuStats {
        raw: text.to_string(),
        ..Default::default()
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<u64>() else {
            continue;
        };
        match key.trim() {
            "entries" => stats.entries = value,
            "overrun" => stats.overrun = value,
            "commit overrun" => stats.commit_overrun = value,
            "bytes" => stats.bytes = value,
            "dropped events" => stats.dropped_events = value,
            "read events" => stats.read_events = value,
            _ => {}
        }
    }
    stats
}

/// "0-3,5" → [0, 1, 2, 3, 5].
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, TracefsError> {
    let bad = || TracefsError::BadCpuList {
        list: text.to_string(),
    };
    let mut cpus = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((lo, hi)) => {
                let lo: u32 = lo.parse().map_err(|_| bad())?;
                let hi: u32 = hi.parse().map_err(|_| bad())?;
                if lo > hi {
                    return Err(bad());
                }
                cpus.extend(lo..=hi);
            }
            None => cpus.push(part.parse().map_err(|_| bad())?),
        }
    }
    if cpus.is_empty() {
        return Err(bad());
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// Checks a tracing_cpumask value: hex digits in comma-separated 32-bit groups.
pub fn validate_cpumask(mask: &str) -> Result<(), TracefsError> {
    let ok = !mask.is_empty()
        && mask.split(',').all(|group| {
            !group.is_empty() && group.len() <= 8 && group.chars().all(|c| c.is_ascii_hexdigit())
        })
        && mask.chars().any(|c| c.is_ascii_hexdigit() && c != '0');
    if ok {
        Ok(())
    } else {
        Err(TracefsError::BadCpumask {
            mask: mask.to_string(),
        })
    }
}

/// The CPUs a tracing_cpumask value selects: comma-separated 32-bit groups, the last
/// holding CPUs 0-31.
pub fn cpus_of_mask(mask: &str) -> Result<Vec<u32>, TracefsError> {
    validate_cpumask(mask)?;
    let mut cpus = Vec::new();
    for (group_index, group) in mask.rsplit(',').enumerate() {
        // Checked above: at most 8 hex digits.
        let bits = u32::from_str_radix(group, 16).unwrap_or(0);
        cpus.extend(
            (0..32)
                .filter(|bit| bits & (1 << bit) != 0)
                .map(|bit| group_index as u32 * 32 + bit),
        );
    }
    cpus.sort_unstable();
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpumask_names_its_cpus() {
        assert_eq!(cpus_of_mask("3").unwrap(), [0, 1]);
        assert_eq!(cpus_of_mask("1,00000004").unwrap(), [2, 32]);
        assert_eq!(cpus_of_mask("80,1").unwrap(), [0, 39]);
        assert_eq!(cpus_of_mask("a0").unwrap(), [5, 7]);
        assert!(cpus_of_mask("0").is_err());
    }

    /// per_cpu/cpu0/stats as this machine's 6.18 kernel prints it.
    const STATS: &str = "entries: 12\noverrun: 3\ncommit overrun: 0\nbytes: 4096\noldest event ts:  7481.632738\nnow ts:  8751.400159\ndropped events: 2\nread events: 397\n";

    #[test]
    fn parses_the_kernels_stats() {
        let stats = parse_cpu_stats(STATS);
        assert_eq!(
            (
                stats.entries,
                stats.overrun,
                stats.commit_overrun,
                stats.bytes,
                stats.dropped_events,
                stats.read_events
            ),
            (12, 3, 0, 4096, 2, 397)
        );
        assert_eq!(stats.raw, STATS);
    }

    #[test]
    fn cpu_lists_and_masks() {
        assert_eq!(parse_cpu_list("0-1").unwrap(), vec![0, 1]);
        assert_eq!(parse_cpu_list("0-2,5,3").unwrap(), vec![0, 1, 2, 3, 5]);
        assert!(parse_cpu_list("").is_err());
        assert!(parse_cpu_list("2-1").is_err());
        assert!(validate_cpumask("3").is_ok());
        assert!(validate_cpumask("ff,ffffffff").is_ok());
        assert!(validate_cpumask("0").is_err());
        assert!(validate_cpumask("xyz").is_err());
        assert!(validate_cpumask("123456789").is_err());
    }
}
