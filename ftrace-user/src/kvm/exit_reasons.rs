//! Exit reason names as the kernel prints them, taken from the events' own print formats
//! (pure): kvm:kvm_exit's `__print_symbolic` tables (VMX or SVM, chosen by `isa` on
//! newer kernels, VMX reasons masked with `& 0xffff`) and kvm:kvm_userspace_exit's
//! `KVM_EXIT_*` table. No table is hard-coded here: the print fmt's own `%s` after
//! `reason ` is rendered by the print fmt evaluator for a record holding the value.

use thiserror::Error;

use crate::format::{EventFormat, Field, FieldKind, PrintFmt, Printer, SymbolLookup};

/// The text in front of the conversion that prints the reason.
const REASON_LABEL: &[u8] = b"reason ";

#[derive(Debug, Error)]
pub enum ExitReasonError {
    #[error("{event} has no integer field {field}")]
    NoField { event: String, field: String },
    #[error("{event}'s print fmt cannot be evaluated: {reason}")]
    NoPrintFmt { event: String, reason: String },
    #[error("{event}'s print fmt prints nothing after \"reason \"")]
    NoReason { event: String },
}

/// Names of an event's reason values, as its print fmt prints them.
#[derive(Debug, Clone)]
pub struct ReasonNames {
    print: PrintFmt,
    fields: Vec<Field>,
    reason: Field,
    /// kvm_exit's `isa` (1 VMX, 2 SVM) where the format has it.
    isa: Option<Field>,
    /// Bytes of a record of this format (the end of its last fixed field).
    record_len: usize,
}

/// Resolves no addresses: the reason conversions print strings and numbers only.
struct NoSymbols;

impl SymbolLookup for NoSymbols {
    fn kernel_symbol(&self, _addr: u64) -> Option<(&str, u64)> {
        None
    }

    fn printk_string(&self, _addr: u64) -> Option<&str> {
        None
    }
}

fn integer_field(format: &EventFormat, name: &str) -> Option<Field> {
    format
        .field(name)
        .filter(|f| f.kind == FieldKind::Scalar && matches!(f.size, 1 | 2 | 4 | 8))
        .cloned()
}

/// Writes `value`'s low bytes into `field`'s place in `record` (little-endian, as the
/// evaluator reads it).
fn store(record: &mut [u8], field: &Field, value: u64) {
    let bytes = value.to_le_bytes();
    if let Some(place) = record.get_mut(field.offset..field.offset + field.size) {
        place.copy_from_slice(&bytes[..field.size]);
    }
}

/// True for what `__print_symbolic` prints for a value its table lacks (`0x7ff`), or a
/// plain number.
fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix("0x");
    match digits {
        Some(hex) => !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
    }
}

impl ReasonNames {
    /// Names the values of `reason_field` (`exit_reason` of kvm:kvm_exit, `reason` of
    /// kvm:kvm_userspace_exit) through `format`'s print fmt.
    pub fn new(format: &EventFormat, reason_field: &str) -> Result<ReasonNames, ExitReasonError> {
        let event = format!("{}:{}", format.system, format.name);
        let print = match &format.printer {
            Printer::PrintFmt(print) => print.clone(),
            Printer::Fields(error) => {
                return Err(ExitReasonError::NoPrintFmt {
                    event,
                    reason: error.to_string(),
                });
            }
            Printer::Plugin(_) => {
                return Err(ExitReasonError::NoPrintFmt {
                    event,
                    reason: "printed by a plugin, not its print fmt".into(),
                });
            }
        };
        let reason =
            integer_field(format, reason_field).ok_or_else(|| ExitReasonError::NoField {
                event: event.clone(),
                field: reason_field.to_string(),
            })?;
        let record_len = format
            .fields
            .iter()
            .map(|f| f.offset + f.size)
            .max()
            .unwrap_or(0);
        let names = ReasonNames {
            print,
            fields: format.fields.clone(),
            reason,
            isa: integer_field(format, "isa"),
            record_len,
        };
        if names.rendered(&vec![0; record_len]).is_none() {
            return Err(ExitReasonError::NoReason { event });
        }
        Ok(names)
    }

    /// The name the kernel prints for `reason`, with `isa` (kvm_exit's 1 VMX, 2 SVM)
    /// where the format has that field (left 0 when None; ignored where the format has
    /// no such field). None where the print fmt has no name for it (it prints a number).
    pub fn name(&self, reason: u64, isa: Option<u64>) -> Option<String> {
        let mut record = vec![0; self.record_len];
        store(&mut record, &self.reason, reason);
        if let (Some(field), Some(isa)) = (&self.isa, isa) {
            store(&mut record, field, isa);
        }
        self.name_of_record(&record)
    }

    /// The reason name a real record of this format (common fields first, as in the
    /// ring buffer) prints; None where it prints a number.
    pub fn name_of_record(&self, record: &[u8]) -> Option<String> {
        let text = self.rendered(record)?;
        (!text.is_empty() && !is_number(&text)).then_some(text)
    }

    /// What the conversion after `reason ` prints for `record`.
    fn rendered(&self, record: &[u8]) -> Option<String> {
        let bytes =
            self.print
                .render_conversion_after(REASON_LABEL, &self.fields, record, &NoSymbols)?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The reason in a rendered kvm_exit / kvm_userspace_exit payload, as printed: the text
/// after `reason ` up to ` rip ` (kvm_exit, whose SVM names may hold a space: `DE excp`)
/// or ` (` (kvm_userspace_exit's `reason KVM_EXIT_IO (2)`), else up to the next space.
/// A VMX failed entry keeps its flag (`IO_INSTRUCTION FAILED_VMENTRY`); a value the
/// kernel has no name for comes back as it printed it (`0x7ff`).
pub fn reason_in_text(rendered_payload: &str) -> Option<&str> {
    let label = std::str::from_utf8(REASON_LABEL).ok()?;
    let start = if rendered_payload.starts_with(label) {
        label.len()
    } else {
        rendered_payload.find(" reason ")? + 1 + label.len()
    };
    let rest = &rendered_payload[start..];
    let end = [" rip ", " ("]
        .iter()
        .filter_map(|stop| rest.find(stop))
        .min()
        .or_else(|| rest.find(' '))
        .unwrap_or(rest.len());
    let reason = &rest[..end];
    (!reason.is_empty()).then_some(reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::parse_event_format;

    const KVM_EXIT_6_18: &str = include_str!("fixtures/kvm_exit_6.18.format");
    const KVM_EXIT_VMX_2013: &str = include_str!("fixtures/kvm_exit_vmx_2013.format");
    const USERSPACE_EXIT_6_18: &str = include_str!("fixtures/kvm_userspace_exit_6.18.format");

    const VMX: Option<u64> = Some(1);
    const SVM: Option<u64> = Some(2);

    fn names(text: &str, field: &str) -> ReasonNames {
        ReasonNames::new(&parse_event_format("kvm", text).unwrap(), field).unwrap()
    }

    fn rendered(format: &EventFormat, record: &[u8]) -> String {
        let mut out = Vec::new();
        format.render_payload(record, &NoSymbols, 0, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn svm_reasons_from_the_6_18_kvm_exit_format() {
        let names = names(KVM_EXIT_6_18, "exit_reason");
        assert_eq!(names.name(0x07b, SVM).as_deref(), Some("io"));
        assert_eq!(names.name(0x400, SVM).as_deref(), Some("npf"));
        assert_eq!(names.name(0x060, SVM).as_deref(), Some("interrupt"));
        // Names with a space come whole.
        assert_eq!(names.name(0x040 + 14, SVM).as_deref(), Some("PF excp"));
        assert_eq!(
            names.name(0x8000_0010, SVM).as_deref(),
            Some("vmgexit_page_state_change")
        );
        // isa left 0: not VMX, so the SVM table.
        assert_eq!(names.name(0x07b, None).as_deref(), Some("io"));
    }

    #[test]
    fn vmx_reasons_from_the_6_18_kvm_exit_format() {
        let names = names(KVM_EXIT_6_18, "exit_reason");
        assert_eq!(names.name(30, VMX).as_deref(), Some("IO_INSTRUCTION"));
        // The reason is masked with 0xffff; the failed-entry flag prints after it.
        assert_eq!(
            names.name(30 | 0x8000_0000, VMX).as_deref(),
            Some("IO_INSTRUCTION")
        );
        assert_eq!(names.name(48, VMX).as_deref(), Some("EPT_VIOLATION"));
        // The same number means another thing on SVM.
        assert_eq!(names.name(0x000, SVM).as_deref(), Some("read_cr0"));
        assert_eq!(names.name(0, VMX).as_deref(), Some("EXCEPTION_NMI"));
    }

    #[test]
    fn vmx_reasons_from_a_2013_style_vmx_only_format() {
        let names = names(KVM_EXIT_VMX_2013, "exit_reason");
        assert_eq!(names.name(30, None).as_deref(), Some("IO_INSTRUCTION"));
        assert_eq!(names.name(30, VMX).as_deref(), Some("IO_INSTRUCTION"));
        assert_eq!(names.name(12, None).as_deref(), Some("HLT"));
        assert_eq!(names.name(0x7b, None), None);
    }

    #[test]
    fn userspace_exit_reasons_from_the_6_18_format() {
        let names = names(USERSPACE_EXIT_6_18, "reason");
        assert_eq!(names.name(2, None).as_deref(), Some("KVM_EXIT_IO"));
        assert_eq!(names.name(6, None).as_deref(), Some("KVM_EXIT_MMIO"));
        assert_eq!(names.name(0, None).as_deref(), Some("KVM_EXIT_UNKNOWN"));
        assert_eq!(names.name(200, None), None);
    }

    #[test]
    fn values_without_a_name_are_none() {
        let names = names(KVM_EXIT_6_18, "exit_reason");
        assert_eq!(names.name(0x7ff, SVM), None);
        assert_eq!(names.name(99, VMX), None);
        assert_eq!(names.name(0xffff, VMX), None);
    }

    #[test]
    fn names_of_real_records_and_of_their_rendered_text_agree() {
        let format = parse_event_format("kvm", KVM_EXIT_6_18).unwrap();
        let names = ReasonNames::new(&format, "exit_reason").unwrap();
        let mut record = vec![0u8; 72];
        record[8..12].copy_from_slice(&0x07bu32.to_le_bytes());
        record[16..24].copy_from_slice(&0xc45du64.to_le_bytes());
        record[24..28].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(names.name_of_record(&record).as_deref(), Some("io"));
        let text = rendered(&format, &record);
        assert!(text.starts_with("vcpu 0 reason io rip 0xc45d "), "{text}");
        assert_eq!(reason_in_text(&text), Some("io"));

        record[8..12].copy_from_slice(&0x04eu32.to_le_bytes());
        let text = rendered(&format, &record);
        assert_eq!(reason_in_text(&text), Some("PF excp"), "{text}");

        // VMX with the failed-entry flag: the text keeps the flag, the name does not.
        record[8..12].copy_from_slice(&(30u32 | 0x8000_0000).to_le_bytes());
        record[24..28].copy_from_slice(&1u32.to_le_bytes());
        let text = rendered(&format, &record);
        assert_eq!(
            reason_in_text(&text),
            Some("IO_INSTRUCTION FAILED_VMENTRY"),
            "{text}"
        );
        assert_eq!(
            names.name_of_record(&record).as_deref(),
            Some("IO_INSTRUCTION")
        );
    }

    #[test]
    fn userspace_exit_records_with_an_errno() {
        let format = parse_event_format("kvm", USERSPACE_EXIT_6_18).unwrap();
        let names = ReasonNames::new(&format, "reason").unwrap();
        let mut record = vec![0u8; 16];
        record[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(rendered(&format, &record), "reason KVM_EXIT_IO (2)");
        assert_eq!(
            reason_in_text(&rendered(&format, &record)),
            Some("KVM_EXIT_IO")
        );
        record[12..16].copy_from_slice(&(-4i32).to_le_bytes());
        // The kvm command names it as the kernel prints it; the report prints it as
        // trace-cmd does, whose libtraceevent reads `REC->errno < 0` unsigned (false).
        assert_eq!(names.name_of_record(&record).as_deref(), Some("restart"));
        assert_eq!(rendered(&format, &record), "reason KVM_EXIT_IO (2)");
    }

    #[test]
    fn reasons_in_printed_text() {
        // Seed 003's kernel, kvm_exit in the 2013 layout.
        assert_eq!(
            reason_in_text("reason IO_INSTRUCTION rip 0xc45d info 710048 0"),
            Some("IO_INSTRUCTION")
        );
        assert_eq!(
            reason_in_text("vcpu 0 reason npf rip 0xfff0 info1 0x0000000000000000"),
            Some("npf")
        );
        assert_eq!(
            reason_in_text("reason KVM_EXIT_MMIO (6)"),
            Some("KVM_EXIT_MMIO")
        );
        assert_eq!(reason_in_text("reason hlt"), Some("hlt"));
        assert_eq!(reason_in_text("vcpu 0 rip 0x0"), None);
        assert_eq!(reason_in_text("exit_reason 123"), None);
    }

    #[test]
    fn formats_without_the_field_or_a_reason_are_refused() {
        let format = parse_event_format("kvm", KVM_EXIT_6_18).unwrap();
        assert!(matches!(
            ReasonNames::new(&format, "reason"),
            Err(ExitReasonError::NoField { .. })
        ));
        let entry = "name: kvm_entry\nID: 104\nformat:\n\
            \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
            \tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n\
            \tfield:unsigned long rip;\toffset:16;\tsize:8;\tsigned:0;\n\n\
            print fmt: \"vcpu %u, rip 0x%lx\", REC->vcpu_id, REC->rip\n";
        let format = parse_event_format("kvm", entry).unwrap();
        assert!(matches!(
            ReasonNames::new(&format, "vcpu_id"),
            Err(ExitReasonError::NoReason { .. })
        ));
    }
}
