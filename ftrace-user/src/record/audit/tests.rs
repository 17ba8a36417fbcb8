use super::*;
use crate::record::summary::{CountWindow, CpuSummary, fixture::lossy_summary};

fn differs(by: i64, reasons: &[&str]) -> Verdict {
    Verdict::Differs {
        by,
        reasons: reasons.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn lost_events_are_checked_per_cpu_and_a_gap_is_unexplained() {
    let summary = lossy_summary();
    let events = audit_events(&summary);
    assert_eq!(
        events[0].verdict,
        Some(differs(6, &["events were lost: see the CPU totals"]))
    );
    assert_eq!(events[0].kernel_hits, Ok(18));
    assert_eq!(events[1].verdict, None);
    assert_eq!(events[1].kernel_hits, Err(&NoHitCount::NotRawTracepoint));
    let cpus = audit_cpus(&summary).unwrap();
    assert_eq!(
        (
            cpus[0].recorded,
            cpus[0].lost,
            cpus[0].kernel_hits,
            cpus[0].uncounted_records
        ),
        (8, 0, 8, 2)
    );
    assert_eq!(cpus[0].verdict, Verdict::Equal);
    assert_eq!(
        (cpus[1].recorded, cpus[1].lost, cpus[1].kernel_hits),
        (4, 5, 10)
    );
    assert_eq!(cpus[1].verdict, differs(1, &[]));
}

#[test]
fn an_equal_count_needs_no_reason_and_differences_name_theirs() {
    let mut summary = lossy_summary();
    summary.cpus[1] = CpuSummary {
        cpu: 1,
        records: 5,
        ..Default::default()
    };
    summary.events[0].kernel_hits = Ok(vec![8, 4]);
    assert_eq!(audit_events(&summary)[0].verdict, Some(Verdict::Equal));

    // System-wide, more hits than records: the gaps around tracing_on.
    summary.count_window = Some(CountWindow {
        system_wide: true,
        before_ns: 21_000,
        after_ns: 140_900,
        ..Default::default()
    });
    summary.events[0].kernel_hits = Ok(vec![9, 5]);
    assert_eq!(
        audit_events(&summary)[0].verdict,
        Some(differs(
            2,
            &["system-wide: the count ran 21.0 µs before tracing_on and 140.9 µs after it"]
        ))
    );

    // Fewer hits than records: a filter does not say why; recursion misses and -c do.
    summary.events[0].filtered = true;
    summary.events[0].either_task = true;
    summary.count_window = Some(CountWindow {
        children_not_counted: true,
        recursion_misses: Some(3),
        ..Default::default()
    });
    summary.events[0].kernel_hits = Ok(vec![8, 1]);
    assert_eq!(
        audit_events(&summary)[0].verdict,
        Some(differs(
            -3,
            &[
                "its filter is not applied to the count",
                "the kernel also records it when its other task is traced; the count sees \
                 only the current task",
                "-c: children are recorded, counted only for the first threads",
                "3 hits came while the counter ran on the same CPU and were skipped",
            ]
        ))
    );
    // No counters: nothing to audit per CPU.
    summary.events[0].kernel_hits = Err(NoHitCount::Disabled);
    assert_eq!(audit_cpus(&summary), None);
}

#[test]
fn losses_of_uncounted_events_explain_a_cpu_short_of_hits() {
    let mut summary = lossy_summary();
    summary.events[0].kernel_hits = Ok(vec![8, 7]);
    let cpus = audit_cpus(&summary).unwrap();
    assert_eq!(
        cpus[1].verdict,
        differs(
            -2,
            &["1 records of events without a count: their losses are in the lost count too"]
        )
    );
}
