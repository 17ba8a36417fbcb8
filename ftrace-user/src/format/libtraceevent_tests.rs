//! Real event formats (6.18's, from tracefs) rendered for records with the values of
//! real events, each expected exactly as `trace-cmd report` (libtraceevent 1.7.1)
//! printed those events: names a print fmt leaves unresolved (enum constants,
//! `jiffies`, `vmemmap_base`) count as 0, typedef casts keep the value, flag tables
//! value unknown names as -1, arithmetic is unsigned 64-bit, the kmem plugin prefixes
//! the call site, and `%p` of 0 is `(nil)`.

use super::*;

struct Symbols;

impl SymbolLookup for Symbols {
    fn kernel_symbol(&self, addr: u64) -> Option<(&str, u64)> {
        const ALLOC_BPRM: u64 = 0xffff_ffff_8145_6300;
        (ALLOC_BPRM..ALLOC_BPRM + 0x100)
            .contains(&addr)
            .then(|| ("alloc_bprm", addr - ALLOC_BPRM))
    }
    fn printk_string(&self, _addr: u64) -> Option<&str> {
        None
    }
}

fn format(name: &str) -> EventFormat {
    let text = match name {
        "mm_page_alloc" => include_str!("fixtures/mm_page_alloc.format"),
        "kmalloc" => include_str!("fixtures/kmalloc.format"),
        "kfree" => include_str!("fixtures/kfree.format"),
        "writeback_dirty_inode" => include_str!("fixtures/writeback_dirty_inode.format"),
        "writeback_single_inode" => include_str!("fixtures/writeback_single_inode.format"),
        "iomap_dio_complete" => include_str!("fixtures/iomap_dio_complete.format"),
        _ => unreachable!("no fixture {name}"),
    };
    let system = match name {
        "mm_page_alloc" | "kmalloc" | "kfree" => "kmem",
        "iomap_dio_complete" => "iomap",
        _ => "writeback",
    };
    parse_event_format(system, text).unwrap()
}

/// A record of `event` with the given integer and string fields (others 0).
fn record(event: &EventFormat, ints: &[(&str, u64)], strings: &[(&str, &str)]) -> Vec<u8> {
    let size = event
        .fields
        .iter()
        .map(|f| f.offset + f.size)
        .max()
        .unwrap();
    let mut data = vec![0u8; size];
    data[..2].copy_from_slice(&event.id.to_le_bytes());
    for (name, value) in ints {
        let field = event
            .field(name)
            .unwrap_or_else(|| panic!("no field {name}"));
        let bytes = value.to_le_bytes();
        data[field.offset..field.offset + field.size].copy_from_slice(&bytes[..field.size]);
    }
    for (name, text) in strings {
        let field = event.field(name).unwrap();
        data[field.offset..field.offset + text.len()].copy_from_slice(text.as_bytes());
    }
    data
}

fn rendered(event: &EventFormat, data: &[u8]) -> String {
    assert!(
        matches!(event.printer, Printer::PrintFmt(_)),
        "{}: {:?}",
        event.name,
        event.printer
    );
    let mut out = Vec::new();
    event.render_payload(data, &Symbols, 0, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn a_pointer_from_an_unresolved_variable_and_gfp_flag_tables() {
    let event = format("mm_page_alloc");
    let data = record(
        &event,
        &[
            ("pfn", 0x105278),
            ("order", 0),
            ("gfp_flags", 5246146),
            ("migratetype", 0),
        ],
        &[],
    );
    assert_eq!(
        rendered(&event, &data),
        "page=0x105278 pfn=0x105278 order=0 migratetype=0 gfp_flags=GFP_HIGHUSER|__GFP_ACCOUNT"
    );
}

#[test]
fn the_kmem_plugin_prints_the_call_site_first() {
    let event = format("kmalloc");
    let data = record(
        &event,
        &[
            ("call_site", 0xffff_ffff_8145_6345),
            ("ptr", 0xffff_8881_0640_1600),
            ("bytes_req", 408),
            ("bytes_alloc", 512),
            ("gfp_flags", 3520),
            ("node", u64::MAX),
        ],
        &[],
    );
    assert_eq!(
        rendered(&event, &data),
        "(alloc_bprm+0x45) call_site=alloc_bprm+0x45 ptr=0xffff888106401600 bytes_req=408 \
         bytes_alloc=512 gfp_flags=GFP_KERNEL|__GFP_ZERO node=-1 accounted=false"
    );
    let event = format("kfree");
    let data = record(&event, &[("call_site", 0xffff_ffff_8145_6300)], &[]);
    assert_eq!(
        rendered(&event, &data),
        "(alloc_bprm+0x0) call_site=alloc_bprm+0x0 ptr=(nil)"
    );
}

#[test]
fn a_flag_table_of_unresolved_enum_names() {
    let event = format("writeback_dirty_inode");
    // No flag set: libtraceevent prints the first name it could not value.
    let data = record(
        &event,
        &[("ino", 330607), ("state", 0), ("flags", 0x10)],
        &[("name", "254:0")],
    );
    assert_eq!(
        rendered(&event, &data),
        "bdi 254:0: ino=330607 state=I_DIRTY_SYNC flags=0x10"
    );
}

#[test]
fn arithmetic_on_jiffies_is_unsigned_64_bit() {
    let event = format("writeback_single_inode");
    let data = record(
        &event,
        &[
            ("ino", 5309847),
            ("state", 0x20002),
            ("dirtied_when", 4295218961),
            ("writeback_index", 6),
            ("nr_to_write", i64::MAX as u64),
            ("wrote", 0),
            ("cgroup_ino", 1),
        ],
        &[("name", "254:0")],
    );
    assert_eq!(
        rendered(&event, &data),
        "bdi 254:0: ino=5309847 state=0x20002 dirtied_when=4295218961 age=73786976277657330 \
         index=6 to_write=9223372036854775807 wrote=0 cgroup_ino=1"
    );
}

#[test]
fn typedef_casts_in_a_flag_table_keep_their_values() {
    let event = format("iomap_dio_complete");
    let data = record(
        &event,
        &[
            ("dev", 266338304),
            ("ino", 0x98c092),
            ("isize", 0x20000),
            ("pos", 0x20000),
            ("ki_flags", 131072),
            ("ret", 131072),
        ],
        &[],
    );
    assert_eq!(
        rendered(&event, &data),
        "dev 254:0 ino 0x98c092 size 0x20000 offset 0x20000 flags DIRECT aio 0 error 0 ret 131072"
    );
}

/// A print fmt libtraceevent cannot parse either (`sizeof(u64)`, as the dma events
/// have) prints as its `[FAILED TO PARSE]` line: each field after a space, strings as
/// text, byte arrays as `ARRAY[…]`, pointers and unsigned longs in hex, a 2-byte
/// signed number in `%2d`, others in decimal.
#[test]
fn a_format_libtraceevent_cannot_parse_prints_its_fields_raw() {
    let text = "name: odd
ID: 900
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:unsigned long addr;\toffset:24;\tsize:8;\tsigned:0;
\tfield:int ret;\toffset:32;\tsize:4;\tsigned:1;
\tfield:short small;\toffset:36;\tsize:2;\tsigned:1;
\tfield:u8 bytes[3];\toffset:38;\tsize:3;\tsigned:0;
\tfield:void * ptr;\toffset:48;\tsize:8;\tsigned:0;
\tfield:u64 count;\toffset:56;\tsize:8;\tsigned:0;

print fmt: \"n=%lu\", sizeof(u64)
";
    let event = parse_event_format("test", text).unwrap();
    assert!(matches!(event.printer, Printer::Fields(_)));
    let mut data = record(
        &event,
        &[
            ("addr", 0x1234),
            ("ret", (-5i64) as u64),
            ("small", (-2i64) as u64),
            ("ptr", 0),
            ("count", 7),
        ],
        &[("comm", "spin")],
    );
    data[38..41].copy_from_slice(&[1, 2, 0xff]);
    let mut out = Vec::new();
    event.render_payload(&data, &Symbols, 0, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "[FAILED TO PARSE] comm=spin addr=0x1234 ret=-5 small=-2 bytes=ARRAY[01, 02, ff] \
         ptr=0x0 count=7"
    );
}

/// A print fmt whose string holds a newline (ext4's fsmap events) is read to the end
/// of the format file, not to the end of its first line.
#[test]
fn a_print_fmt_string_may_span_lines() {
    let text = "name: two_lines
ID: 901
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int a;\toffset:8;\tsize:4;\tsigned:1;

print fmt: \"a %d
b\", REC->a
";
    let event = parse_event_format("test", text).unwrap();
    let data = record(&event, &[("a", 3)], &[]);
    assert_eq!(rendered(&event, &data), "a 3\nb");
}

/// A record too short for some of its fields prints them as 0, as libtraceevent
/// does, and the rest of the line as usual (not the fields instead of the line).
#[test]
fn fields_past_a_short_records_end_print_as_zero() {
    let event = format("mm_page_alloc");
    let data = record(&event, &[("pfn", 0x105278), ("order", 3)], &[]);
    // Cut before gfp_flags (offset 24) and migratetype.
    assert_eq!(
        rendered(&event, &data[..20]),
        "page=0x105278 pfn=0x105278 order=3 migratetype=0 gfp_flags=none"
    );
}
