//! Folded stacks as an interactive SVG flame graph (inferno, FlameGraph's Rust port):
//! frames as boxes as wide as their share of the count, root at the bottom, with
//! search and zoom in the browser.

use thiserror::Error;

#[derive(Debug, Error)]
#[error("cannot draw the flame graph")]
pub struct FlameGraphError(#[source] std::io::Error);

/// The SVG of `folded` ((stack, count) pairs), titled `title`, counts named
/// `count_name` ("events", "ns").
pub fn svg(
    folded: &[(String, u64)],
    title: &str,
    count_name: &str,
) -> Result<Vec<u8>, FlameGraphError> {
    let lines: Vec<String> = folded
        .iter()
        .map(|(stack, count)| format!("{stack} {count}"))
        .collect();
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_string();
    options.count_name = count_name.to_string();
    let mut out = Vec::new();
    inferno::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), &mut out)
        .map_err(FlameGraphError)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frame_of_the_stacks_is_in_the_svg_with_its_count() {
        let folded = vec![
            ("deep;main;a;b;c;recurse;recurse".to_string(), 1000),
            ("deep;main;other".to_string(), 10),
        ];
        let svg = String::from_utf8(svg(&folded, "hytrace report", "events").unwrap()).unwrap();
        assert!(svg.starts_with("<?xml"), "{}", &svg[..100]);
        for name in ["main", "recurse", "other", "hytrace report"] {
            assert!(svg.contains(name), "{name} missing");
        }
        // The root's tooltip: all 1010 events.
        assert!(svg.contains("all (1,010 events, 100%)"), "no root total");
        assert!(svg::is_error_free(&svg));
    }

    mod svg {
        /// No inferno error text (an empty graph says "ERROR: No valid input").
        pub fn is_error_free(svg: &str) -> bool {
            !svg.contains("ERROR")
        }
    }
}
