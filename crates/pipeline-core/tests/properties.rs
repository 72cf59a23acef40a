//! The scheduler's promises over random pipelines: random DAGs of jobs with conditions,
//! matrices, retries, failures, timeouts and cancellations, played to the end.
//!
//! While it plays, `support::World` checks that no instance starts before every job it
//! needs has finished and that the parallelism limit holds. At the end: the run finished
//! exactly once, every job and instance is in exactly one terminal state, no step is left
//! running, and each instance started no earlier than the instances of its needs ended.

mod support;

use std::fmt::Write;

use bellwether_pipeline_core::run::{InstanceStatus, JobPhase, StepStatus};
use proptest::prelude::*;
use support::{World, push};

#[derive(Clone, Debug)]
struct JobPlan {
    needs: Vec<usize>,
    condition: Option<&'static str>,
    matrix: usize,
    fail_fast: bool,
    max_parallel: Option<u32>,
    continue_on_error: bool,
    attempts: u32,
    timeout: Option<u32>,
    steps: Vec<(u32, Option<u8>, bool)>,
}

fn job_plan(index: usize) -> impl Strategy<Value = JobPlan> {
    (
        prop::collection::vec(any::<bool>(), index),
        prop::sample::select(vec![
            None,
            Some("always()"),
            Some("failure()"),
            Some("success()"),
            Some("cancelled()"),
        ]),
        0..4usize,
        any::<bool>(),
        prop::option::of(1..3u32),
        prop::bool::weighted(0.2),
        1..4u32,
        prop::option::weighted(0.2, 2..8u32),
        prop::collection::vec(
            (
                1..4u32,
                prop::option::weighted(0.25, prop::sample::select(vec![1u8, 75])),
                prop::bool::weighted(0.2),
            ),
            1..4,
        ),
    )
        .prop_map(
            |(
                picks,
                condition,
                matrix,
                fail_fast,
                max_parallel,
                continue_on_error,
                attempts,
                timeout,
                steps,
            )| JobPlan {
                needs: picks
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| **p)
                    .map(|(i, _)| i)
                    .take(3)
                    .collect(),
                condition,
                matrix,
                fail_fast,
                max_parallel,
                continue_on_error,
                attempts,
                timeout,
                steps,
            },
        )
}

fn pipeline() -> impl Strategy<Value = Vec<JobPlan>> {
    (1..9usize).prop_flat_map(|n| (0..n).map(job_plan).collect::<Vec<_>>())
}

fn yaml(jobs: &[JobPlan]) -> String {
    let mut out = String::from("pipelines:\n  ci:\n    jobs:\n");
    for (i, job) in jobs.iter().enumerate() {
        let _ = writeln!(out, "      j{i}:");
        if !job.needs.is_empty() {
            let needs: Vec<String> = job.needs.iter().map(|n| format!("j{n}")).collect();
            let _ = writeln!(out, "        needs: [{}]", needs.join(", "));
        }
        if let Some(c) = job.condition {
            let _ = writeln!(out, "        if: {c}");
        }
        if job.matrix > 0 {
            let values: Vec<String> = (0..job.matrix).map(|v| v.to_string()).collect();
            let _ = writeln!(
                out,
                "        strategy:\n          fail-fast: {}\n          matrix: {{shard: [{}]}}",
                job.fail_fast,
                values.join(", ")
            );
            if let Some(m) = job.max_parallel {
                let _ = writeln!(out, "          max-parallel: {m}");
            }
        }
        if job.continue_on_error {
            let _ = writeln!(out, "        continue-on-error: true");
        }
        if job.attempts > 1 {
            let _ = writeln!(out, "        retry: {}", job.attempts);
        }
        if let Some(t) = job.timeout {
            let _ = writeln!(out, "        timeout: {t}s");
        }
        let _ = writeln!(out, "        steps:");
        for (sleep, exit, always) in &job.steps {
            let exit = exit.map(|c| format!("\\nexit {c}")).unwrap_or_default();
            let _ = writeln!(out, "          - run: \"sleep {sleep}{exit}\"");
            if *always {
                let _ = writeln!(out, "            if: always()");
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_run_ends_once_in_dag_order(jobs in pipeline(), parallel in 1..4usize, cancel in prop::option::weighted(0.2, 1..10u64)) {
        let source = yaml(&jobs);
        let mut world = World::with_parallelism(&source, "ci", push("main"), parallel);
        world.cancel_at = cancel;
        let timeline = world.play();
        prop_assert_eq!(world.finished, 1, "{}\n{}", source, timeline);
        prop_assert!(world.run.conclusion().is_some());
        let run_jobs = world.run.jobs();
        for (j, job) in run_jobs.iter().enumerate() {
            prop_assert!(matches!(job.phase, JobPhase::Done(_)), "{} is {:?}\n{}", job.id, job.phase, timeline);
            for instance in &job.instances {
                prop_assert!(matches!(instance.status, InstanceStatus::Done { .. }), "{} is {:?}\n{}", instance.name, instance.status, timeline);
                prop_assert!(instance.steps.iter().all(|s| s.status != StepStatus::Running), "{} has a running step", instance.name);
                let Some(started) = instance.started_at else { continue };
                for &need in &jobs[j].needs {
                    for other in &run_jobs[need].instances {
                        let ended = other.finished_at.unwrap_or_default();
                        prop_assert!(ended <= started, "{} started at {} before {} ended at {}\n{}", instance.name, started, other.name, ended, timeline);
                    }
                }
            }
        }
    }
}
