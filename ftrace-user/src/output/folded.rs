//! Folded stacks as text: `STACK COUNT` per line.

use std::fmt::Write as _;

/// One line per (stack, count).
pub fn text(folded: &[(String, u64)]) -> String {
    let mut out = String::new();
    for (stack, count) in folded {
        let _ = writeln!(out, "{stack} {count}");
    }
    out
}
