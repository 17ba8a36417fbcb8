//! A big-endian kernel's ring-buffer pages (s390x, ppc64, big-endian ARM and MIPS)
//! rewritten as a little-endian kernel writes them, so the one page decoder and every
//! field reader read them: the page header's timestamp and commit word (and a lost
//! count stored after the data), each record header (big-endian bitfields put
//! `type_len` in the top 5 bits), the length and time words after it, and each
//! record's fields by its event format (numbers by their size, arrays by element,
//! `__data_loc` words and what they point at). A record of an event the file does not
//! describe has its common fields swapped and the rest kept. Pure.

use crate::decode::PageLayout;
use crate::format::{EventFormat, FieldKind, printfmt::eval::element_size};

const TYPE_PADDING: u32 = 29;
const COMMIT_LENGTH_MASK: u64 = (1 << 27) - 1;
const MISSED_EVENTS: u64 = 1 << 31;
const MISSED_STORED: u64 = 1 << 30;

/// Reverses the bytes of each `width`-byte element of `bytes` (a partial last element
/// is left as it is).
fn swap_elements(bytes: &mut [u8], width: usize) {
    if width > 1 {
        for element in bytes.chunks_exact_mut(width) {
            element.reverse();
        }
    }
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// `pages` (whole pages of `page_size`, big-endian) as little-endian pages; `events`
/// is the file's formats by id. Damaged pages are converted as far as they parse and
/// left for the decoder to report.
pub fn pages_to_little_endian(
    pages: &[u8],
    page_size: usize,
    layout: PageLayout,
    events: &[Option<EventFormat>],
) -> Vec<u8> {
    let mut out = pages.to_vec();
    if page_size == 0 {
        return out;
    }
    for page in out.chunks_mut(page_size) {
        page_to_little_endian(page, layout, events);
    }
    out
}

fn page_to_little_endian(page: &mut [u8], layout: PageLayout, events: &[Option<EventFormat>]) {
    let commit_bytes = if layout.commit_size == 8 { 8 } else { 4 };
    if page.len() < layout.data_offset.max(8 + commit_bytes) {
        return;
    }
    let commit = page[8..8 + commit_bytes]
        .iter()
        .fold(0u64, |value, &b| (value << 8) | u64::from(b));
    page[0..8].reverse();
    page[8..8 + commit_bytes].reverse();
    let length = (commit & COMMIT_LENGTH_MASK) as usize;
    let data_end = layout.data_offset.saturating_add(length).min(page.len());
    if commit & MISSED_EVENTS != 0
        && commit & MISSED_STORED != 0
        && data_end + commit_bytes <= page.len()
    {
        page[data_end..data_end + commit_bytes].reverse();
    }
    let data = &mut page[layout.data_offset..data_end];
    let mut pos = 0;
    while pos + 4 <= data.len() {
        let Some(header) = be_u32(data, pos) else {
            return;
        };
        let type_len = header >> 27;
        let delta = header & ((1 << 27) - 1);
        data[pos..pos + 4].copy_from_slice(&(type_len | (delta << 5)).to_le_bytes());
        match type_len {
            1..=28 => {
                let end = pos + 4 + type_len as usize * 4;
                if end > data.len() {
                    return;
                }
                record_to_little_endian(&mut data[pos + 4..end], events);
                pos = end;
            }
            0 => {
                let Some(length) = be_u32(data, pos + 4) else {
                    return;
                };
                data[pos + 4..pos + 8].reverse();
                let end = (pos + 4).saturating_add(length as usize);
                if length < 4 || end > data.len() {
                    return;
                }
                record_to_little_endian(&mut data[pos + 8..end], events);
                pos = end;
            }
            TYPE_PADDING if delta == 0 => return,
            _ => {
                // Padding (its length), a time extend or an absolute time stamp (their
                // upper bits): one word after the header.
                let Some(word) = be_u32(data, pos + 4) else {
                    return;
                };
                data[pos + 4..pos + 8].reverse();
                pos = match type_len {
                    TYPE_PADDING if word == 0 => return,
                    TYPE_PADDING => (pos + 4).saturating_add(word as usize),
                    _ => pos + 8,
                };
            }
        }
    }
}

/// One record's payload: common fields, then the event's own fields by its format.
fn record_to_little_endian(record: &mut [u8], events: &[Option<EventFormat>]) {
    if record.len() < 8 {
        return;
    }
    let type_id = u16::from_be_bytes([record[0], record[1]]);
    let Some(Some(event)) = events.get(usize::from(type_id)) else {
        record[0..2].reverse();
        record[4..8].reverse();
        return;
    };
    for field in &event.fields {
        let Some(end) = field.offset.checked_add(field.size) else {
            continue;
        };
        if end > record.len() {
            continue;
        }
        match field.kind {
            FieldKind::Scalar => swap_elements(&mut record[field.offset..end], field.size),
            FieldKind::Array { .. } => {
                swap_elements(&mut record[field.offset..end], element_size(field));
            }
            FieldKind::DataLoc | FieldKind::RelLoc if field.size == 4 => {
                let loc = &mut record[field.offset..end];
                loc.reverse();
                let loc = u32::from_le_bytes([loc[0], loc[1], loc[2], loc[3]]);
                let mut start = (loc & 0xffff) as usize;
                if field.kind == FieldKind::RelLoc {
                    start += end;
                }
                let stop = start + (loc >> 16) as usize;
                if let Some(payload) = record.get_mut(start..stop) {
                    swap_elements(payload, element_size(field));
                }
            }
            FieldKind::DynamicTail => {
                swap_elements(&mut record[field.offset..], element_size(field));
            }
            FieldKind::DataLoc | FieldKind::RelLoc => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::parse_event_format;

    const SCHED_WAKEUP: &str =
        include_str!("../store/fixtures/capture/meta/events/sched/sched_wakeup.format");
    const IRQ_ENTRY: &str =
        include_str!("../store/fixtures/capture/meta/events/irq/irq_handler_entry.format");

    fn events() -> Vec<Option<EventFormat>> {
        let mut events = Vec::new();
        for (system, text) in [("sched", SCHED_WAKEUP), ("irq", IRQ_ENTRY)] {
            let format = parse_event_format(system, text).unwrap();
            let id = usize::from(format.id);
            if events.len() <= id {
                events.resize_with(id + 1, || None);
            }
            events[id] = Some(format);
        }
        events
    }

    /// One big-endian page holding an irq_handler_entry (a `__data_loc` string), a
    /// time extend and a record of an unknown event; converted, it equals the page a
    /// little-endian kernel writes.
    #[test]
    fn a_big_endian_page_becomes_the_little_endian_page() {
        let events = events();
        let irq = events
            .iter()
            .flatten()
            .find(|e| e.name == "irq_handler_entry")
            .unwrap();
        let record = |big: bool| {
            let u16b = |v: u16| {
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            };
            let u32b = |v: u32| {
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            };
            let mut r = Vec::new();
            r.extend_from_slice(&u16b(irq.id));
            r.extend_from_slice(&[1, 2]);
            r.extend_from_slice(&u32b(77));
            r.extend_from_slice(&u32b(16));
            r.extend_from_slice(&u32b((6 << 16) | 16));
            r.extend_from_slice(b"i8042\0\0\0");
            r
        };
        let unknown = |big: bool| {
            let mut r = vec![0u8; 12];
            let (id, pid) = if big {
                (999u16.to_be_bytes(), 5u32.to_be_bytes())
            } else {
                (999u16.to_le_bytes(), 5u32.to_le_bytes())
            };
            r[0..2].copy_from_slice(&id);
            r[4..8].copy_from_slice(&pid);
            r[8..12].copy_from_slice(&[9, 8, 7, 6]);
            r
        };
        let page = |big: bool| {
            let word = |type_len: u32, delta: u32| {
                if big {
                    ((type_len << 27) | delta).to_be_bytes()
                } else {
                    (type_len | (delta << 5)).to_le_bytes()
                }
            };
            let u32b = |v: u32| {
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            };
            let mut data = Vec::new();
            let r = record(big);
            data.extend_from_slice(&word(r.len() as u32 / 4, 100));
            data.extend_from_slice(&r);
            data.extend_from_slice(&word(30, 5));
            data.extend_from_slice(&u32b(3));
            let u = unknown(big);
            data.extend_from_slice(&word(0, 7));
            data.extend_from_slice(&u32b(u.len() as u32 + 4));
            data.extend_from_slice(&u);
            let mut page = Vec::new();
            let ts = 123_456_789u64;
            let commit = data.len() as u64;
            page.extend_from_slice(&if big {
                ts.to_be_bytes()
            } else {
                ts.to_le_bytes()
            });
            page.extend_from_slice(&if big {
                commit.to_be_bytes()
            } else {
                commit.to_le_bytes()
            });
            page.extend_from_slice(&data);
            page.resize(256, 0);
            page
        };
        assert_eq!(
            pages_to_little_endian(&page(true), 256, PageLayout::LP64, &events),
            page(false)
        );
    }
}
