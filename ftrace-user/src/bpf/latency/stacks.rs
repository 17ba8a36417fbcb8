//! `hist --stacks`: reading what stack_samples.rs aggregated: count and total latency
//! per (key, kernel stack id, user stack hash), the kernel stacks by id, and the user
//! stacks the ring buffer brought while the session ran (placed by a [`Gatherer`]).

use std::collections::HashMap;

use aya::maps::{PerCpuArray, PerCpuHashMap, RingBuf, StackTraceMap};
use ftrace_common::stack::{
    HIST_KERNEL_STACKS, HIST_STACK_LOST, HIST_STACK_RING, HIST_STACK_TOTALS, StackSampleKey,
    StackSampleTotals,
};

use super::{AggregatorError, LatencyAggregator, map_error};
use crate::{
    bpf::stack_ring::StackRingDrain,
    stacks::{StackError, UserStacks, gather::Gatherer},
};

/// The maps `hist --stacks` needs at full size.
pub(crate) const STACK_SAMPLE_MAPS: [&str; 5] = [
    "HIST_KERNEL_STACKS",
    "HIST_STACK_SEEN",
    "HIST_STACK_BEGIN",
    "HIST_STACK_TOTALS",
    HIST_STACK_RING,
];

/// How an aggregator keys samples by stacks (`hist --stacks`).
#[derive(Debug, Clone, Default)]
pub struct StackOptions {
    /// Files to name objects from when a process is gone before its mappings were read
    /// (see [`crate::stacks::gather::candidate_files`]).
    pub candidate_files: Vec<std::path::PathBuf>,
}

/// What an aggregator's stack tables held at the end.
#[derive(Debug, Default)]
pub struct StackSamples {
    /// (key, key's name, kernel stack id, user stack hash) → totals, summed over CPUs.
    pub totals: Vec<(StackSampleKey, String, StackSampleTotals)>,
    /// Kernel stacks by id, innermost frame first.
    pub kernel_stacks: HashMap<i64, Vec<u64>>,
    /// The user stacks, and each one's index by its hash.
    pub user: UserStacks,
    pub user_by_hash: HashMap<u64, Result<u32, StackError>>,
    pub lost: Vec<(String, u64)>,
}

impl LatencyAggregator {
    /// Starts reading the distinct user stacks while the session runs.
    pub(crate) fn start_stack_drain(
        &mut self,
        options: &StackOptions,
    ) -> Result<(), AggregatorError> {
        let map = self
            .ebpf
            .take_map(HIST_STACK_RING)
            .ok_or(AggregatorError::Missing {
                name: HIST_STACK_RING,
            })?;
        let ring = RingBuf::try_from(map).map_err(map_error(HIST_STACK_RING))?;
        let drain = StackRingDrain::start(
            ring,
            Gatherer::new("/proc", None).with_candidates(options.candidate_files.clone()),
            Gatherer::add_keyed,
        )
        .map_err(|e| AggregatorError::Target {
            path: "the stack reader thread".into(),
            reason: e.to_string(),
        })?;
        self.stack_drain = Some(drain);
        Ok(())
    }

    /// The stack tables (None unless started with stacks); stops the stack reader.
    pub fn take_stack_samples(&mut self) -> Result<Option<StackSamples>, AggregatorError> {
        let Some(drain) = self.stack_drain.take() else {
            return Ok(None);
        };
        let totals_map: PerCpuHashMap<_, StackSampleKey, StackSampleTotals> =
            PerCpuHashMap::try_from(self.map(HIST_STACK_TOTALS)?)
                .map_err(map_error(HIST_STACK_TOTALS))?;
        let mut totals = Vec::new();
        for entry in totals_map.iter() {
            let (key, per_cpu) = entry.map_err(map_error(HIST_STACK_TOTALS))?;
            let sum =
                per_cpu
                    .iter()
                    .fold(StackSampleTotals::default(), |acc, t| StackSampleTotals {
                        count: acc.count + t.count,
                        total_ns: acc.total_ns + t.total_ns,
                    });
            if sum.count > 0 {
                totals.push((key, (self.key_name)(key.key), sum));
            }
        }
        let stack_map = StackTraceMap::try_from(self.map(HIST_KERNEL_STACKS)?)
            .map_err(map_error(HIST_KERNEL_STACKS))?;
        let mut kernel_stacks = HashMap::new();
        for (key, _, _) in &totals {
            if key.kernel_stack < 0 || kernel_stacks.contains_key(&key.kernel_stack) {
                continue;
            }
            if let Ok(trace) = stack_map.get(&(key.kernel_stack as u32), 0) {
                let frames = trace.frames().iter().map(|f| f.ip).collect();
                kernel_stacks.insert(key.kernel_stack, frames);
            }
        }
        let lost_map: PerCpuArray<_, u64> = PerCpuArray::try_from(self.map(HIST_STACK_LOST)?)
            .map_err(map_error(HIST_STACK_LOST))?;
        let names = [
            "stack_begin_map_full",
            "stack_totals_map_full",
            "stack_ring_full",
            "no_kernel_stack",
        ];
        let mut lost = Vec::new();
        for (index, name) in names.iter().enumerate() {
            let values = lost_map
                .get(&(index as u32), 0)
                .map_err(map_error(HIST_STACK_LOST))?;
            lost.push((name.to_string(), values.iter().sum()));
        }
        let mut gatherer = drain.finish().ok_or(AggregatorError::Missing {
            name: "the stack reader thread's stacks",
        })?;
        let user_by_hash = std::mem::take(&mut gatherer.keyed);
        let (user, _) = gatherer.finish(0, Vec::new());
        Ok(Some(StackSamples {
            totals,
            kernel_stacks,
            user,
            user_by_hash,
            lost,
        }))
    }
}
