//! K-way merge of per-CPU record streams into one timestamp-ordered stream.

use super::page::Record;
use super::stream::CpuStream;

/// A record, the stream it came from (its index among the merged streams) and that
/// stream's CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergedRecord<'a> {
    pub origin: u32,
    pub cpu: u32,
    pub record: Record<'a>,
}

/// Merges streams by timestamp; ties go to the earlier stream (callers list streams in
/// CPU order, so ties go to the lower CPU, as `trace-cmd report` does).
pub struct Merger<'a> {
    streams: Vec<(u32, CpuStream<'a>)>,
    heads: Vec<Option<Record<'a>>>,
}

impl<'a> Merger<'a> {
    /// Merges `(cpu, stream)` pairs; a record's origin is its stream's index here.
    pub fn new(mut streams: Vec<(u32, CpuStream<'a>)>) -> Merger<'a> {
        let heads = streams.iter_mut().map(|(_, s)| s.next()).collect();
        Merger { streams, heads }
    }

    /// The streams in origin order, for their statistics once the merge is done.
    pub fn streams(&self) -> impl Iterator<Item = &CpuStream<'a>> {
        self.streams.iter().map(|(_, s)| s)
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
            origin: index as u32,
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
    fn merges_by_timestamp_with_ties_to_the_earlier_stream() {
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
            (0, CpuStream::new(&cpu0, 64, PageLayout::LP64)),
            (1, CpuStream::new(&cpu1, 64, PageLayout::LP64)),
        ]);
        let got: Vec<(u32, u32, u64, u8)> = merger
            .map(|m| (m.origin, m.cpu, m.record.ts, m.record.data[0]))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 1, 5, 2),
                (0, 0, 10, 0),
                (1, 1, 10, 3),
                (0, 0, 30, 1),
                (1, 1, 110, 4)
            ]
        );
    }
}
