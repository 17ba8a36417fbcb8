//! An event format file parsed (fields, print fmt compiled or a trace-cmd plugin chosen),
//! then a record of that event rendered every way hytrace renders one: the payload as
//! `report` prints it, the fields as text and JSON, the print fmt on its own, the kvm
//! exit reason names read from the print fmt, and what the plugins read from a record.
//! The same text is also read as a `header_page`.
//!
//! Input: the event's system name, a newline, the format file text, a NUL byte, then the
//! record bytes (the record is empty when there is no NUL).

#![no_main]

use std::sync::LazyLock;

use ftrace_user::{
    format::{PrintFmt, Printer, parse_event_format, parse_header_page},
    kvm::exit_reasons::{ReasonNames, reason_in_text},
    symbolize::{PrintkFormats, RecordingSymbols},
};
use libfuzzer_sys::fuzz_target;

/// Kernel symbols `%ps`/`%pS` conversions and the function plugin can find, a module
/// symbol among them.
const KALLSYMS: &[u8] = b"ffffffff81000000 T _stext\n\
ffffffff81001000 t do_sys_openat2\n\
ffffffff81002000 T vfs_read\n\
ffffffffc0a00000 t vmx_vcpu_run\t[kvm_intel]\n";

/// trace_printk formats the `bprint`/`bputs` events and `%s` of constant strings find.
const PRINTK_FORMATS: &[u8] = b"0xffffffff82000000 : \"open %s flags %x\\n\"\n\
0xffffffff82000100 : \"plain\\t text\"\n";

/// The symbol tables every input is rendered with (built once).
static SYMBOLS: LazyLock<RecordingSymbols> = LazyLock::new(|| {
    RecordingSymbols::new(KALLSYMS.to_vec(), PrintkFormats::parse(PRINTK_FORMATS))
});

fuzz_target!(|data: &[u8]| {
    let (text, record) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[][..]),
    };
    // Files hold bytes; hytrace reads format texts through from_utf8_lossy.
    let text = String::from_utf8_lossy(text);
    let (system, format_text) = text.split_once('\n').unwrap_or(("ftrace", &text));

    let _ = parse_header_page(format_text);
    let Ok(event) = parse_event_format(system, format_text) else {
        return;
    };
    let symbols = &*SYMBOLS;
    let indent = record.first().map_or(0, |b| usize::from(b % 8));

    // As `report` prints it (text line payload, JSON fields).
    let mut out = Vec::new();
    event.render_payload(record, symbols, indent, &mut out);
    let _ = reason_in_text(&String::from_utf8_lossy(&out));
    out.clear();
    event.render_fields(record, &mut out);
    out.clear();
    event.write_json_fields(record, &mut out);

    // Each field read on its own, as the analyses read them.
    for field in &event.fields {
        let _ = event.field(&field.name);
        let _ = field.int(record);
        let _ = field.uint(record);
        let _ = field.bytes(record);
    }

    // The print fmt compiled and rendered on its own (also for events a plugin prints).
    if let Ok(print) = PrintFmt::compile(&event.print_fmt, &event.fields) {
        out.clear();
        let _ = print.render(&event.fields, record, symbols, &mut out);
        let _ = print.render_conversion_after(b"reason ", &event.fields, record, symbols);
    }

    // What the plugins read from a record.
    if let Printer::Plugin(plugin) = &event.printer {
        let _ = plugin.comms(&event.fields, record);
        let _ = plugin.function_call(&event.fields, record);
        let _ = plugin.kernel_stack(&event.fields, record);
    }

    // kvm exit reason names from the print fmt (kvm_exit's exit_reason, and
    // kvm_userspace_exit's reason), as `hytrace kvm` reads them.
    for reason_field in ["exit_reason", "reason"] {
        if let Ok(names) = ReasonNames::new(&event, reason_field) {
            let _ = names.name_of_record(record);
            let reason = record
                .first_chunk::<4>()
                .map_or(0, |word| u64::from(u32::from_le_bytes(*word)));
            let _ = names.name(reason, Some(1));
            let _ = names.name(reason, Some(2));
        }
    }
});
