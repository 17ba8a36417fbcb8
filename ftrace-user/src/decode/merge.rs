//! K-way merge of per-CPU record streams into one timestamp-ordered stream.

use super::page::Record;
use super::stream::CpuStream;

/// A record and the CPU (stream index's cpu number) it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergedRecord<'a> {
    pub cpu: u32,
    pub record: Record<'a>,
}

/// Merges streams by timestamp; ties go to the lower CPU, as `trace-cmd report` does.
pub struct Merger<'a> {
    streams: Vec<(u32, CpuStream<'a>)>,
    heads: Vec<Option<Record<'a>>>,
}

impl<'a> Merger<'a> {
    pub fn new(mut streams: Vec<(u32, CpuStream<'a>)>) -> Merger<'a> {
        streams.sort_by_key(|(cpu, _)| *cpu);
        let heads = streams.iter_mut().map(|(_, s)| s.next()).collect();
        Merger { streams, heads }
    }

    /// The streams, for their statistics once the merge is done.
    pub fn streams(&self) -> impl Iterator<Item = (u32, &CpuStream<'a>)> {
        self.streams.iter().map(|(cpu, s)| (*cpu, s))
    }
}

impl<'a> Iterator for Merger<'a> {
    type Item = MergedRecord<'a>;

    #[inline]
    fn next(&mut self) -> Option<MergedRecord<'a>> {
        let mut best: Option<(usize, u64)> = None;
        for (index, head) in self.heads.iter().enumerate() {
            if let Some(record) = head {
                match best {
                    Some((_, ts)) if ts <= record.ts => {}
                    _ => best = Some((index, record.ts)),
                }
            }
        }
        let (index, _) = best?;
        let record = self.heads[index].take()?;
        self.heads[index] = self.streams[index].1.next();
        Some(MergedRecord {
            cpu: self.streams[index].0,
            record,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::PageLayout;
    use crate::decode::page::tests::PageBuilder;

    #[test]
    fn merges_by_timestamp_with_ties_to_the_lower_cpu() {
        let cpu0 = PageBuilder::new(0)
            .record(10, &[0; 4])
            .record(20, &[1; 4])
            .finish(0, 64);
        let cpu1 = PageBuilder::new(0)
            .record(5, &[2; 4])
            .record(5, &[3; 4])
            .record(100, &[4; 4])
            .finish(0, 64);
        let merger = Merger::new(vec![
            (1, CpuStream::new(&cpu1, 64, PageLayout::LP64)),
            (0, CpuStream::new(&cpu0, 64, PageLayout::LP64)),
        ]);
        let got: Vec<(u32, u64, u8)> = merger
            .map(|m| (m.cpu, m.record.ts, m.record.data[0]))
            .collect();
        assert_eq!(
            got,
            vec![(1, 5, 2), (0, 10, 0), (1, 10, 3), (0, 30, 1), (1, 110, 4)]
        );
    }
}
