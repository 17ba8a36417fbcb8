//! Truncated, corrupted and random input must give errors, never panics.

use super::fixtures::{read, read_zst};
use super::roundtrip::capture_file;
use crate::store::{StoreError, read_trace_file};

/// Deterministic xorshift64* generator (no dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Offsets to cut at: every byte of the first 8 KiB, then a stride.
fn cut_points(len: usize) -> impl Iterator<Item = usize> {
    (0..len.min(8192)).chain((8192..len).step_by(61))
}

fn all_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("ours", capture_file()),
        ("v7 zstd", read("extract-v7-zstd.tracedat")),
        ("v7 none", read_zst("convert-v7-none.dat.zst")),
        ("v6", read_zst("convert-v6.dat.zst")),
    ]
}

/// Bytes of CPU data a parsed file says it lacks.
fn missing_bytes(file: &crate::store::TraceFile) -> u64 {
    file.buffers
        .iter()
        .flat_map(|b| &b.cpus)
        .map(|c| c.missing_bytes)
        .sum()
}

/// A cut file is an error, or (cut inside uncompressed CPU data) parses with the whole
/// pages before the cut and says how many bytes of CPU data it lacks: some, and less
/// than one page more than the bytes cut (the cut also takes the padding that aligns
/// each CPU's data).
#[test]
fn every_truncation_is_an_error_or_says_what_it_lacks() {
    for (name, bytes) in all_files() {
        let whole = read_trace_file(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(missing_bytes(&whole), 0, "{name}");
        let page = u64::from(whole.meta.page_size);
        for cut in cut_points(bytes.len()) {
            match read_trace_file(&bytes[..cut]) {
                Ok(file) => {
                    let (missing, cut_off) = (missing_bytes(&file), (bytes.len() - cut) as u64);
                    assert!(
                        missing > 0 && missing < cut_off + page,
                        "{name} cut at {cut} of {}: {missing} bytes said missing",
                        bytes.len()
                    );
                }
                Err(StoreError::NotTraceDat) => assert!(cut < 10, "{name} cut at {cut}"),
                Err(_) => {}
            }
        }
    }
}

#[test]
fn truncation_errors_name_the_section() {
    let bytes = capture_file();
    match read_trace_file(&bytes[..40]) {
        Err(StoreError::Truncated {
            section, offset, ..
        }) => {
            assert_eq!(section, "header info");
            assert!(offset <= 40);
        }
        other => panic!("unexpected {other:?}"),
    }
    // Cut by one byte: the last CPU's last page is incomplete, the rest is kept.
    let file = read_trace_file(&bytes[..bytes.len() - 1]).unwrap();
    assert_eq!(missing_bytes(&file), u64::from(file.meta.page_size));
    assert!(matches!(
        read_trace_file(b"\x17\x08\x44tracing9\0"),
        Err(StoreError::UnsupportedVersion { .. })
    ));
    assert!(matches!(
        read_trace_file(b"hello"),
        Err(StoreError::NotTraceDat)
    ));
}

#[test]
fn corrupted_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (_, bytes) in all_files() {
        // Only the metadata part is interesting; page contents are opaque.
        let meta_len = bytes.len().min(40_000);
        for _ in 0..1500 {
            let mut b = bytes.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(meta_len);
                b[i] = rng.next() as u8;
            }
            let _ = read_trace_file(&b);
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for round in 0..3000 {
        let len = rng.below(600);
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Most rounds get a valid prefix so parsing goes deeper.
        if round % 4 != 0 {
            let prefix: &[u8] = if round % 2 == 0 {
                b"\x17\x08\x44tracing6\0\0\x08\x00\x10\x00\x00"
            } else {
                b"\x17\x08\x44tracing7\0\0\x08\x00\x10\x00\x00zstd\0x\0"
            };
            b.splice(0..0, prefix.iter().copied());
        }
        assert!(read_trace_file(&b).is_err() || len > 0);
    }
}
