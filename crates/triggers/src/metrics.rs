//! The pipelines' metrics, named like the router's (`bellwether_<part>_<what>`, base units):
//! runs this control plane finished by conclusion and its jobs' durations, recorded as they
//! end, and the runs of the data directory not finished yet by status, read from the run
//! history when scraped.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use bellwether_core::time::Timestamp;
use bellwether_pipeline_core::run::{InstanceId, InstanceStatus, Run};
use bellwether_runner::Observer;
use bellwether_store::{RunHistory, RunStatus, StoreError};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the job duration histogram's buckets, in seconds: from a script that
/// checks something to an hour-long build.
const JOB_BOUNDS: [f64; 12] = [
    0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];
/// The statuses of a run not finished yet.
const UNFINISHED: [RunStatus; 3] = [RunStatus::Queued, RunStatus::Running, RunStatus::Waiting];

type Labels = [(&'static str, String); 2];
type Jobs = Family<Labels, Histogram, fn() -> Histogram>;

/// Cheap to clone: every clone records into the same metrics.
#[derive(Clone, Debug)]
pub(crate) struct Metrics {
    runs: Family<Labels, Counter>,
    jobs: Jobs,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Self {
            runs: Family::default(),
            jobs: Family::new_with_constructor(|| Histogram::new(JOB_BOUNDS)),
        }
    }

    /// A run of `pipeline` ended with `conclusion` (`success`, `failure`, `cancelled`).
    pub(crate) fn finished(&self, pipeline: &str, conclusion: &str) {
        self.runs
            .get_or_create(&[
                ("pipeline", pipeline.to_owned()),
                ("conclusion", conclusion.to_owned()),
            ])
            .inc();
    }

    /// The observer of one run that times each of its jobs' instances as it ends.
    pub(crate) fn observer(&self, pipeline: &str) -> Arc<dyn Observer> {
        Arc::new(JobTimer {
            pipeline: pipeline.to_owned(),
            jobs: self.jobs.clone(),
            timed: Mutex::new(BTreeSet::new()),
        })
    }

    /// Registers the counters and the histogram, and the unfinished runs of `history` now.
    pub(crate) fn register(
        &self,
        registry: &mut Registry,
        history: &dyn RunHistory,
    ) -> Result<(), StoreError> {
        let unfinished = history.unfinished()?;
        let counts = UNFINISHED.map(|status| {
            let n = unfinished.iter().filter(|r| r.status == status).count();
            (status, n)
        });
        registry.register(
            "bellwether_pipeline_runs",
            "Pipeline runs the control plane finished, by conclusion",
            self.runs.clone(),
        );
        registry.register(
            "bellwether_pipeline_job_duration_seconds",
            "Time each job instance of the control plane's runs took, from its start to its end",
            self.jobs.clone(),
        );
        registry.register_collector(Box::new(InProgress(counts)));
        Ok(())
    }
}

/// Times every instance once, when it is seen done; a skipped one never started.
struct JobTimer {
    pipeline: String,
    jobs: Jobs,
    timed: Mutex<BTreeSet<(usize, usize, u32)>>,
}

impl Observer for JobTimer {
    fn update(&self, run: &Run, _: Timestamp) {
        let mut timed = self.timed.lock().unwrap_or_else(PoisonError::into_inner);
        for (j, job) in run.jobs().iter().enumerate() {
            for (i, instance) in job.instances.iter().enumerate() {
                let InstanceStatus::Done { .. } = instance.status else {
                    continue;
                };
                let (Some(start), Some(end)) = (instance.started_at, instance.finished_at) else {
                    continue;
                };
                if timed.insert((j, i, instance.attempt)) {
                    self.jobs
                        .get_or_create(&[
                            ("pipeline", self.pipeline.clone()),
                            ("job", job.id.clone()),
                        ])
                        .observe(end.since(start).as_secs_f64());
                }
            }
        }
    }

    fn line(&self, _: InstanceId, _: &[u8]) {}

    fn note(&self, _: Option<InstanceId>, _: &str) {}
}

/// How many runs of the data directory are queued (for a slot or a concurrency group),
/// running or waiting (for an approval) at the moment of a scrape.
#[derive(Debug)]
struct InProgress([(RunStatus, usize); 3]);

impl Collector for InProgress {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "bellwether_pipeline_runs_in_progress",
            "Runs not finished yet, by status: queued (for a slot among the runs at once or a concurrency group), running, or waiting for an approval.",
            None,
            MetricType::Gauge,
        )?;
        for (status, count) in &self.0 {
            family
                .encode_family(&[("status", status.as_str())])?
                .encode_gauge(&(*count as i64))?;
        }
        Ok(())
    }
}
