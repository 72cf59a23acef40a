//! The scheduler alone: a 1,000-job DAG (the one `bench/pipeline-dag.sh` runs) played through
//! `Run::apply` with steps that finish the moment they start, so that what is measured is the
//! state machine's own time per job, without processes.
//!
//!   cargo bench -p bellwether-pipeline-core --bench scheduler            # 1,000 jobs
//!   cargo bench -p bellwether-pipeline-core --bench scheduler -- 5000    # any count

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Instant;

use bellwether_core::time::Timestamp;
use bellwether_pipeline_core::expr::WorkspaceFiles;
use bellwether_pipeline_core::run::{
    Action, Event, ExitStatus, Run, RunInput, StepOutcome, Workspaces,
};
use bellwether_pipeline_core::trigger::{EventName, GitRef};

struct NoFiles;

impl WorkspaceFiles for NoFiles {
    fn hash_files_in(&self, _: &str, _: &[String]) -> Result<String, String> {
        Ok(String::new())
    }
}

/// Job i needs up to three of the 50 jobs before it, from a fixed-seed generator.
fn dag(jobs: usize) -> String {
    let mut seed: u64 = 42;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize % n.max(1)
    };
    let mut out = String::from("pipelines:\n  dag:\n    jobs:\n");
    for i in 0..jobs {
        let _ = writeln!(out, "      j{i}:");
        if i > 0 {
            let lo = i.saturating_sub(50);
            let mut needs: Vec<usize> = (0..next(4)).map(|_| lo + next(i - lo)).collect();
            needs.sort_unstable();
            needs.dedup();
            if !needs.is_empty() {
                let list: Vec<String> = needs.iter().map(|n| format!("j{n}")).collect();
                let _ = writeln!(out, "        needs: [{}]", list.join(", "));
            }
        }
        out.push_str("        steps: [{run: \"true\"}]\n");
    }
    out
}

fn main() {
    let jobs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let loaded = match bellwether_config::load("dag.yaml", &dag(jobs)) {
        Ok(l) => l,
        Err(d) => {
            eprintln!("{d}");
            std::process::exit(1);
        }
    };
    let Some(spec) = loaded.pipelines.into_iter().next() else {
        return;
    };
    let started = Instant::now();
    let mut run = Run::new(RunInput {
        spec,
        event: bellwether_pipeline_core::trigger::Event {
            name: EventName::Push,
            git_ref: GitRef::Branch("main".into()),
            base: None,
            action: None,
            changed_paths: None,
            workflow_run: None,
        },
        sha: "0".repeat(40),
        repository: "bench".into(),
        actor: "bench".into(),
        workspace: Workspaces::Shared("/tmp".into()),
        run_id: "1".into(),
        run_number: 1,
        attempt: 1,
        reused: BTreeMap::new(),
        inputs: BTreeMap::new(),
        secrets: BTreeMap::new(),
        environment_secrets: BTreeMap::new(),
        environments: BTreeMap::new(),
        closed_environments: Default::default(),
        services: Vec::new(),
        runner: BTreeMap::new(),
        max_parallel: 2,
    });
    let mut pending = std::collections::VecDeque::from([Event::Start]);
    let mut events = 0u64;
    let mut steps = 0u64;
    while let Some(event) = pending.pop_front() {
        events += 1;
        for action in run.apply(Timestamp(events), event, &NoFiles) {
            if let Action::RunStep(request) = action {
                steps += 1;
                pending.push_back(Event::StepFinished {
                    step: request.id,
                    outcome: StepOutcome::status(ExitStatus::Exited(0)),
                });
            }
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{jobs} jobs, {steps} steps, {events} events, {:?} in all: {:.1} µs per job, conclusion {:?}",
        elapsed,
        elapsed.as_secs_f64() * 1e6 / jobs as f64,
        run.conclusion()
    );
}
