//! `dependsOn` between services must form no cycle, or no service could start first.

use std::collections::BTreeMap;

use crate::diagnostic::Sink;
use crate::model::ProjectFile;
use crate::span::Spanned;

/// Reports each cycle once, at the reference that closes it, naming every service on it.
pub(super) fn check_cycles(file: &ProjectFile, sink: &mut Sink<'_>) {
    let edges: BTreeMap<&str, &[Spanned<String>]> = file
        .services
        .iter()
        .map(|(name, s)| {
            (
                name.value.as_str(),
                s.value.depends_on.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    let mut state: BTreeMap<&str, Visit> = BTreeMap::new();
    for name in edges.keys() {
        let mut path = Vec::new();
        visit(name, &edges, &mut state, &mut path, sink);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Visit {
    InProgress,
    Done,
}

fn visit<'a>(
    name: &'a str,
    edges: &BTreeMap<&'a str, &'a [Spanned<String>]>,
    state: &mut BTreeMap<&'a str, Visit>,
    path: &mut Vec<&'a str>,
    sink: &mut Sink<'_>,
) {
    if state.contains_key(name) {
        return;
    }
    state.insert(name, Visit::InProgress);
    path.push(name);
    for dependency in edges.get(name).copied().unwrap_or_default() {
        let next = dependency.value.as_str();
        // Unknown services and self-references are reported where they are written.
        let Some((&next, _)) = edges.get_key_value(next) else {
            continue;
        };
        if next == name {
            continue;
        }
        match state.get(next) {
            Some(Visit::InProgress) => {
                let start = path.iter().position(|n| *n == next).unwrap_or(0);
                let cycle: Vec<&str> = path[start..].iter().copied().chain([next]).collect();
                sink.error(
                    dependency.pos,
                    format!(
                        "dependsOn forms a cycle: {} (expected services that can start one after another)",
                        cycle.join(" -> ")
                    ),
                );
            }
            Some(Visit::Done) => {}
            None => visit(next, edges, state, path, sink),
        }
    }
    path.pop();
    state.insert(name, Visit::Done);
}
