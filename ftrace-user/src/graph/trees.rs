//! Whole call trees out of a function_graph stream whose roots are at depth 0 (after
//! [`super::select::select_subtrees`] or a set_graph_function recording): each tree's
//! duration, and where the time of a set of trees went (self time per function)
//! (pure).

use std::collections::HashMap;

use super::GraphEvent;

/// One call tree: its events in order and the root's duration (None when the root's
/// exit was not recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallTree {
    pub events: Vec<GraphEvent>,
    pub duration_ns: Option<u64>,
    pub root: u64,
    /// Timestamps (trace clock) of the root's entry and exit records.
    pub start_ts: u64,
    pub end_ts: Option<u64>,
}

/// Splits the stream into trees, per task: a tree starts at a depth-0 entry and ends
/// at the depth-0 exit of the same function. Events outside trees are dropped; a tree
/// still open at the end is kept without a duration.
pub fn split_trees(events: &[GraphEvent]) -> Vec<CallTree> {
    let mut open: HashMap<i32, CallTree> = HashMap::new();
    let mut done: Vec<(usize, CallTree)> = Vec::new();
    let mut order: HashMap<i32, usize> = HashMap::new();
    for (index, event) in events.iter().enumerate() {
        match event {
            GraphEvent::Entry {
                pid,
                func,
                depth,
                ts,
                ..
            } => {
                if *depth == 0 && !open.contains_key(pid) {
                    order.insert(*pid, index);
                    open.insert(
                        *pid,
                        CallTree {
                            events: Vec::new(),
                            duration_ns: None,
                            root: *func,
                            start_ts: *ts,
                            end_ts: None,
                        },
                    );
                }
                if let Some(tree) = open.get_mut(pid) {
                    tree.events.push(event.clone());
                }
            }
            GraphEvent::Exit {
                pid,
                func,
                depth,
                calltime,
                rettime,
                ts,
                ..
            } => {
                let Some(tree) = open.get_mut(pid) else {
                    continue;
                };
                tree.events.push(event.clone());
                if *depth == 0 && *func == tree.root {
                    let mut tree = open.remove(pid).unwrap_or_else(|| unreachable!());
                    tree.duration_ns = Some(rettime.saturating_sub(*calltime));
                    tree.end_ts = Some(*ts);
                    done.push((order.remove(pid).unwrap_or(index), tree));
                }
            }
            GraphEvent::Comment { pid, .. } => {
                if let Some(tree) = open.get_mut(pid) {
                    tree.events.push(event.clone());
                }
            }
            GraphEvent::Lost { .. } => {}
        }
    }
    for (pid, tree) in open {
        done.push((order.get(&pid).copied().unwrap_or(usize::MAX), tree));
    }
    done.sort_by_key(|(start, _)| *start);
    done.into_iter().map(|(_, tree)| tree).collect()
}

/// Time spent in one function over a set of trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionTime {
    pub func: u64,
    pub calls: u64,
    /// Inclusive time.
    pub total_ns: u64,
    /// Time not spent in traced callees.
    pub self_ns: u64,
}

/// Self and inclusive time per function in `trees`, most self time first.
pub fn function_times<'a>(trees: impl IntoIterator<Item = &'a CallTree>) -> Vec<FunctionTime> {
    let mut times: HashMap<u64, FunctionTime> = HashMap::new();
    for tree in trees {
        // Per open call: time of its callees seen so far.
        let mut children: Vec<u64> = Vec::new();
        for event in &tree.events {
            match event {
                GraphEvent::Entry { .. } => children.push(0),
                GraphEvent::Exit {
                    func,
                    calltime,
                    rettime,
                    ..
                } => {
                    let duration = rettime.saturating_sub(*calltime);
                    // A leaf's entry and exit arrive as a pair; a closer ends the top.
                    let inner = children.pop().unwrap_or(0);
                    let entry = times.entry(*func).or_insert(FunctionTime {
                        func: *func,
                        calls: 0,
                        total_ns: 0,
                        self_ns: 0,
                    });
                    entry.calls += 1;
                    entry.total_ns += duration;
                    entry.self_ns += duration.saturating_sub(inner);
                    if let Some(parent) = children.last_mut() {
                        *parent += duration;
                    }
                }
                _ => {}
            }
        }
    }
    let mut list: Vec<FunctionTime> = times.into_values().collect();
    list.sort_by(|a, b| b.self_ns.cmp(&a.self_ns).then(a.func.cmp(&b.func)));
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::test_events::{entry, exit};

    #[test]
    fn trees_split_per_task_with_their_durations() {
        let events = [
            entry(0, 1, 10, 0),
            entry(0, 2, 10, 0),
            entry(0, 1, 11, 1),
            exit(0, 1, 11, 1, 40),
            exit(0, 2, 10, 0, 5),
            exit(0, 1, 10, 0, 100),
            exit(0, 3, 10, 0, 7), // no entry seen: not a tree
            entry(0, 1, 10, 0),   // still open at the end
        ];
        let trees = split_trees(&events);
        assert_eq!(trees.len(), 3);
        assert_eq!(trees[0].duration_ns, Some(100));
        assert_eq!(trees[0].events.len(), 4);
        assert_eq!(trees[1].duration_ns, Some(5));
        assert_eq!(trees[2].duration_ns, None);
    }

    #[test]
    fn self_time_is_what_callees_did_not_take() {
        // 10 (100) calls 11 (40, calls 12 (15)) and 12 (20).
        let tree = split_trees(&[
            entry(0, 1, 10, 0),
            entry(0, 1, 11, 1),
            entry(0, 1, 12, 2),
            exit(0, 1, 12, 2, 15),
            exit(0, 1, 11, 1, 40),
            entry(0, 1, 12, 1),
            exit(0, 1, 12, 1, 20),
            exit(0, 1, 10, 0, 100),
        ]);
        let times = function_times(&tree);
        let of = |f| times.iter().find(|t| t.func == f).unwrap().clone();
        assert_eq!(
            (of(10).calls, of(10).total_ns, of(10).self_ns),
            (1, 100, 40)
        );
        assert_eq!((of(11).calls, of(11).total_ns, of(11).self_ns), (1, 40, 25));
        assert_eq!((of(12).calls, of(12).total_ns, of(12).self_ns), (2, 35, 35));
        assert_eq!(times[0].func, 10);
    }
}
