//! `needs` must form a DAG: a cycle is reported once, naming every job on it.

use std::collections::{BTreeMap, HashMap};

use crate::diagnostic::Sink;
use crate::model::PipelineJobConfig;
use crate::span::{Entries, Pos, Spanned};

/// Reports each cycle at the `needs` entry that closes it: `build -> test -> build`.
pub(super) fn check_cycles(jobs: &Entries<PipelineJobConfig>, sink: &mut Sink<'_>) -> bool {
    let edges: BTreeMap<&str, Vec<&Spanned<String>>> = jobs
        .iter()
        .map(|(id, job)| {
            let needs = job
                .value
                .needs
                .iter()
                .flat_map(|n| n.value.0.iter())
                .collect();
            (id.value.as_str(), needs)
        })
        .collect();
    let mut state: BTreeMap<&str, bool> = BTreeMap::new();
    let mut acyclic = true;
    for (id, _) in jobs.iter() {
        let mut path = Vec::new();
        acyclic &= visit(&id.value, &edges, &mut state, &mut path, jobs, sink);
    }
    acyclic
}

/// Depth-first; `state` is `false` while a job is on the path, `true` once it is done.
fn visit<'a>(
    id: &'a str,
    edges: &BTreeMap<&'a str, Vec<&'a Spanned<String>>>,
    state: &mut BTreeMap<&'a str, bool>,
    path: &mut Vec<&'a str>,
    jobs: &Entries<PipelineJobConfig>,
    sink: &mut Sink<'_>,
) -> bool {
    if state.contains_key(id) {
        return true;
    }
    state.insert(id, false);
    path.push(id);
    let mut acyclic = true;
    for need in edges.get(id).into_iter().flatten() {
        // Unknown jobs and self-references are reported where they are written.
        let Some((&next, _)) = edges.get_key_value(need.value.as_str()) else {
            continue;
        };
        if next == id {
            continue;
        }
        match state.get(next) {
            Some(false) => {
                let start = path.iter().position(|n| *n == next).unwrap_or(0);
                let cycle: Vec<&str> = path[start..].iter().copied().chain([next]).collect();
                let at = need.pos.or(needs_pos(jobs, id));
                sink.error(
                    at,
                    format!(
                        "needs form a cycle: {} (expected jobs that can run one after another)",
                        cycle.join(" -> ")
                    ),
                );
                acyclic = false;
            }
            Some(true) => {}
            None => acyclic &= visit(next, edges, state, path, jobs, sink),
        }
    }
    path.pop();
    state.insert(id, true);
    acyclic
}

/// The jobs of a pipeline by id, to find every job one needs: built once per pipeline, so
/// that a thousand jobs take a thousand lookups each at most, not a scan of the list per need.
pub(super) struct Ancestry<'a> {
    jobs: Vec<(&'a Spanned<String>, &'a Spanned<PipelineJobConfig>)>,
    position: HashMap<&'a str, usize>,
}

impl<'a> Ancestry<'a> {
    pub(super) fn new(jobs: &'a Entries<PipelineJobConfig>) -> Self {
        let mut position = HashMap::new();
        for (i, name) in jobs.names().enumerate() {
            // The first of duplicate ids is the one `Entries::get` finds.
            position.entry(name).or_insert(i);
        }
        Self {
            jobs: jobs.iter().collect(),
            position,
        }
    }

    /// Every job that `id` needs, directly or through others, in the order they are found.
    pub(super) fn of(&self, id: &str) -> Vec<&'a str> {
        let mut seen = vec![false; self.jobs.len()];
        let mut out: Vec<&str> = Vec::new();
        let mut stack: Vec<usize> = self.position.get(id).copied().into_iter().collect();
        while let Some(current) = stack.pop() {
            let job = self.jobs[current].1;
            for need in job.value.needs.iter().flat_map(|n| n.value.0.iter()) {
                let need = need.value.as_str();
                if need == id {
                    continue;
                }
                if let Some(&at) = self.position.get(need)
                    && !seen[at]
                {
                    seen[at] = true;
                    out.push(self.jobs[at].0.value.as_str());
                    stack.push(at);
                }
            }
        }
        out
    }
}

/// A lone `needs: build` has no position of its own: the `needs` value's is used.
fn needs_pos(jobs: &Entries<PipelineJobConfig>, id: &str) -> Pos {
    jobs.get(id)
        .and_then(|j| j.value.needs.as_ref())
        .map_or(Pos::UNKNOWN, |n| n.pos)
}
