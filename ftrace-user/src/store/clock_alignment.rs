//! The offset between CLOCK_REALTIME and CLOCK_MONOTONIC when a recording was made
//! (hytrace option kind [`CLOCK_ALIGNMENT`](super::hytrace_kind::CLOCK_ALIGNMENT)), so
//! wall-clock logs written beside it (QEMU's log trace backend) can be placed on the
//! recording's `mono` clock.

/// `realtime = mono + realtime_minus_mono_ns`, known to within `uncertainty_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockAlignment {
    pub realtime_minus_mono_ns: i128,
    /// Half the time between the two monotonic reads around the realtime read.
    pub uncertainty_ns: u64,
}

impl ClockAlignment {
    /// Reads the two clocks now: monotonic, realtime, monotonic again; the best of
    /// five tries (the narrowest bracket).
    pub fn measure() -> ClockAlignment {
        let now = |clock| {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: ts is a valid timespec for clock_gettime to fill.
            unsafe { libc::clock_gettime(clock, &mut ts) };
            i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
        };
        (0..5)
            .map(|_| {
                let before = now(libc::CLOCK_MONOTONIC);
                let real = now(libc::CLOCK_REALTIME);
                let after = now(libc::CLOCK_MONOTONIC);
                ClockAlignment {
                    realtime_minus_mono_ns: real - (before + after) / 2,
                    uncertainty_ns: ((after - before) / 2).max(0) as u64,
                }
            })
            .min_by_key(|a| a.uncertainty_ns)
            .expect("five tries")
    }

    /// The option's text.
    pub fn to_text(&self) -> String {
        format!(
            "realtime_minus_mono_ns {}\nuncertainty_ns {}\n",
            self.realtime_minus_mono_ns, self.uncertainty_ns
        )
    }

    /// Reads [`to_text`](Self::to_text)'s form; None when a line is missing or bad.
    pub fn parse(text: &str) -> Option<ClockAlignment> {
        let value = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix(' '))
                .map(str::trim)
        };
        Some(ClockAlignment {
            realtime_minus_mono_ns: value("realtime_minus_mono_ns")?.parse().ok()?,
            uncertainty_ns: value("uncertainty_ns")?.parse().ok()?,
        })
    }

    /// A realtime instant (ns since the epoch) on the monotonic clock; None when it
    /// falls before the monotonic clock's zero.
    pub fn mono_of_realtime(&self, realtime_ns: u64) -> Option<u64> {
        u64::try_from(i128::from(realtime_ns) - self.realtime_minus_mono_ns).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_bad_text_is_refused() {
        let a = ClockAlignment {
            realtime_minus_mono_ns: 1_733_000_000_123_456_789,
            uncertainty_ns: 40,
        };
        assert_eq!(ClockAlignment::parse(&a.to_text()), Some(a));
        assert_eq!(ClockAlignment::parse(""), None);
        assert_eq!(
            ClockAlignment::parse("realtime_minus_mono_ns x\nuncertainty_ns 1"),
            None
        );
        assert_eq!(
            a.mono_of_realtime(1_733_000_001_123_456_789),
            Some(1_000_000_000)
        );
        assert_eq!(a.mono_of_realtime(0), None);
    }

    #[test]
    fn measured_offset_places_now_on_the_monotonic_clock() {
        let a = ClockAlignment::measure();
        assert!(a.uncertainty_ns < 1_000_000, "{a:?}");
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: ts is a valid timespec for clock_gettime to fill.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
        let real = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        // SAFETY: as above.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let mono = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        let placed = a.mono_of_realtime(real).unwrap();
        assert!(placed.abs_diff(mono) < 10_000_000, "{placed} vs {mono}");
    }
}
