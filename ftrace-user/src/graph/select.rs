//! Call trees rooted at chosen functions, picked out of a function_graph recording of
//! everything a process called: what `set_graph_function` does in the kernel, done
//! after recording where a tracefs instance lacks that file (pure).

use std::collections::HashMap;

use super::GraphEvent;

/// Applies a stored selection: the trees under its roots (names from `name_of`), or,
/// with no roots, every call above its depth.
pub fn apply(
    selection: &GraphSelection,
    events: Vec<GraphEvent>,
    name_of: impl Fn(u64) -> String,
) -> Vec<GraphEvent> {
    if !selection.roots.is_empty() {
        return select_subtrees(
            &events,
            |func| selection.is_root(&name_of(func)),
            selection.max_depth,
        );
    }
    let Some(max) = selection.max_depth else {
        return events;
    };
    events
        .into_iter()
        .filter(|event| match event {
            GraphEvent::Entry { depth, .. } | GraphEvent::Exit { depth, .. } => *depth < max,
            _ => true,
        })
        .collect()
}

/// Keeps the calls of `is_root` functions and everything below them, per task, with
/// depths counted from the root (0), and at most `max_depth` levels (root included)
/// when given. Comments and losses on a CPU are kept while one of its tasks is inside
/// a root.
pub fn select_subtrees(
    events: &[GraphEvent],
    is_root: impl Fn(u64) -> bool,
    max_depth: Option<u32>,
) -> Vec<GraphEvent> {
    // pid -> (root function, depth of the root).
    let mut inside: HashMap<i32, (u64, u32)> = HashMap::new();
    let mut out = Vec::new();
    let keep_depth = |relative: u32| max_depth.is_none_or(|max| relative < max);
    for event in events {
        match event {
            GraphEvent::Entry {
                cpu,
                pid,
                func,
                depth,
                ts,
            } => match inside.get(pid) {
                Some(&(_, root_depth)) if *depth > root_depth && keep_depth(depth - root_depth) => {
                    out.push(GraphEvent::Entry {
                        cpu: *cpu,
                        pid: *pid,
                        func: *func,
                        depth: depth - root_depth,
                        ts: *ts,
                    });
                }
                Some(_) => {}
                None if is_root(*func) => {
                    inside.insert(*pid, (*func, *depth));
                    out.push(GraphEvent::Entry {
                        cpu: *cpu,
                        pid: *pid,
                        func: *func,
                        depth: 0,
                        ts: *ts,
                    });
                }
                None => {}
            },
            GraphEvent::Exit {
                cpu,
                pid,
                func,
                depth,
                calltime,
                rettime,
                ts,
            } => {
                let Some(&(root, root_depth)) = inside.get(pid) else {
                    continue;
                };
                if *depth < root_depth {
                    // The root's own exit was lost; what follows is outside it.
                    inside.remove(pid);
                    continue;
                }
                let relative = depth - root_depth;
                if keep_depth(relative) {
                    out.push(GraphEvent::Exit {
                        cpu: *cpu,
                        pid: *pid,
                        func: *func,
                        depth: relative,
                        calltime: *calltime,
                        rettime: *rettime,
                        ts: *ts,
                    });
                }
                if relative == 0 && *func == root {
                    inside.remove(pid);
                }
            }
            GraphEvent::Comment { pid, .. } => {
                if inside.contains_key(pid) {
                    out.push(event.clone());
                }
            }
            GraphEvent::Lost { .. } => out.push(event.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::test_events::{entry, exit};

    #[test]
    fn keeps_root_trees_rebased_and_cut_at_depth() {
        let events = [
            entry(0, 1, 100, 3),
            entry(0, 1, 7, 4), // root at depth 4
            entry(0, 1, 8, 5),
            entry(0, 1, 9, 6),
            exit(0, 1, 9, 6, 10),
            exit(0, 1, 8, 5, 10),
            entry(0, 2, 8, 0), // another task, outside any root
            exit(0, 2, 8, 0, 10),
            exit(0, 1, 7, 4, 10),
            entry(0, 1, 8, 4), // after the root
            exit(0, 1, 8, 4, 10),
            exit(0, 1, 100, 3, 10),
        ];
        let all = select_subtrees(&events, |f| f == 7, None);
        assert_eq!(
            all,
            vec![
                entry(0, 1, 7, 0),
                entry(0, 1, 8, 1),
                entry(0, 1, 9, 2),
                exit(0, 1, 9, 2, 10),
                exit(0, 1, 8, 1, 10),
                exit(0, 1, 7, 0, 10),
            ]
        );
        let shallow = select_subtrees(&events, |f| f == 7, Some(2));
        assert_eq!(
            shallow,
            vec![
                entry(0, 1, 7, 0),
                entry(0, 1, 8, 1),
                exit(0, 1, 8, 1, 10),
                exit(0, 1, 7, 0, 10)
            ]
        );
        assert!(select_subtrees(&events, |f| f == 42, None).is_empty());
    }

    #[test]
    fn a_lost_root_exit_ends_the_tree() {
        let events = [
            entry(0, 1, 7, 2),
            entry(0, 1, 8, 3),
            exit(0, 1, 5, 1, 10),
            entry(0, 1, 9, 1),
        ];
        assert_eq!(
            select_subtrees(&events, |f| f == 7, None),
            vec![entry(0, 1, 7, 0), entry(0, 1, 8, 1)]
        );
    }
}

/// The graph roots and depth a recording asked for but the kernel could not apply,
/// stored in the file (hytrace option kind GRAPH_SELECTION) for `report --graph`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphSelection {
    /// Function names or globs (`vfs_*`).
    pub roots: Vec<String>,
    pub max_depth: Option<u32>,
}

impl GraphSelection {
    /// `root NAME` and `max_depth N` lines.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for root in &self.roots {
            text.push_str(&format!("root {root}\n"));
        }
        if let Some(depth) = self.max_depth {
            text.push_str(&format!("max_depth {depth}\n"));
        }
        text
    }

    /// Reads [`GraphSelection::to_text`]'s form; None when a line is not of it.
    pub fn parse(text: &str) -> Option<GraphSelection> {
        let mut selection = GraphSelection::default();
        for line in text.lines().filter(|l| !l.is_empty()) {
            match line.split_once(' ')? {
                ("root", name) if !name.is_empty() => selection.roots.push(name.to_string()),
                ("max_depth", n) => selection.max_depth = Some(n.parse().ok()?),
                _ => return None,
            }
        }
        Some(selection)
    }

    /// Whether `name` is one of the roots (`*` matches any run of characters).
    pub fn is_root(&self, name: &str) -> bool {
        self.roots.iter().any(|pattern| glob_match(pattern, name))
    }
}

/// `*`-only glob matching.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod selection_tests {
    use super::*;

    #[test]
    fn selections_round_trip_and_globs_match() {
        let selection = GraphSelection {
            roots: vec!["vfs_read".into(), "ksys_*".into()],
            max_depth: Some(3),
        };
        assert_eq!(
            selection.to_text(),
            "root vfs_read\nroot ksys_*\nmax_depth 3\n"
        );
        assert_eq!(
            GraphSelection::parse(&selection.to_text()),
            Some(selection.clone())
        );
        assert_eq!(GraphSelection::parse("bogus line\n"), None);
        assert!(selection.is_root("vfs_read") && selection.is_root("ksys_write"));
        assert!(!selection.is_root("vfs_readv") && !selection.is_root("do_ksys_x"));
        assert!(glob_match("*", "") && glob_match("a*b*c", "aXbYc") && !glob_match("a*b", "ab_"));
        assert!(glob_match("*read", "vfs_read") && !glob_match("*read", "vfs_write"));
    }
}
