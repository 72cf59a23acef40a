//! The controller's own metrics, named like the router's (`bellwether_<part>_<what>`, base
//! units, `service` and `revision` labels). Counters and the commit histogram are recorded
//! where things happen: a measurement or a verdict reported, an event committed. The rollouts'
//! phases, steps and weights are read from each service's state when scraped.

use std::fmt;
use std::time::Duration;

use bellwether_api::{RevisionRole, ServiceView};
use bellwether_core::rollout::{Phase, Verdict};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// One service's measurement counters, each found in the family once: a service under
/// background analysis counts several measurements a second, and a lookup in the family takes
/// its lock and builds its labels.
#[derive(Debug, Default)]
pub(crate) struct Measured(Vec<(String, Verdict, Counter)>);

impl Measured {
    pub(crate) fn count(
        &mut self,
        metrics: &Metrics,
        service: &str,
        metric: &str,
        verdict: Verdict,
    ) {
        let known = self
            .0
            .iter()
            .position(|(m, v, _)| m == metric && *v == verdict);
        let at = known.unwrap_or_else(|| {
            let counter = metrics.measurements(service, metric, verdict);
            self.0.push((metric.to_owned(), verdict, counter));
            self.0.len() - 1
        });
        self.0[at].2.inc();
    }
}

/// Upper bounds of the commit histogram's buckets, in seconds: an fsync takes from well under
/// a millisecond (tmpfs, a cache with a battery) to tens of milliseconds (a spinning disk).
const COMMIT_BOUNDS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
const PHASES: [Phase; 4] = [
    Phase::Healthy,
    Phase::Progressing,
    Phase::Paused,
    Phase::Degraded,
];

type Labels<const N: usize> = [(&'static str, String); N];

/// What the controller counts. Cheap to clone: every clone records into the same metrics.
#[derive(Clone, Debug)]
pub(crate) struct Metrics {
    measurements: Family<Labels<3>, Counter>,
    verdicts: Family<Labels<2>, Counter>,
    commits: Histogram,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Self {
            measurements: Family::default(),
            verdicts: Family::default(),
            commits: Histogram::new(COMMIT_BOUNDS),
        }
    }

    fn measurements(&self, service: &str, metric: &str, verdict: Verdict) -> Counter {
        self.measurements
            .get_or_create(&[
                ("service", service.to_owned()),
                ("metric", metric.to_owned()),
                ("verdict", verdict_label(verdict).to_owned()),
            ])
            .clone()
    }

    pub(crate) fn concluded(&self, service: &str, verdict: Verdict) {
        self.verdicts
            .get_or_create(&[
                ("service", service.to_owned()),
                ("verdict", verdict_label(verdict).to_owned()),
            ])
            .inc();
    }

    /// A store call that wrote something took `took`.
    pub(crate) fn committed(&self, took: Duration) {
        self.commits.observe(took.as_secs_f64());
    }

    /// Registers the counters and the histogram, and the state of `services` as it is now.
    pub(crate) fn register(&self, registry: &mut Registry, services: Vec<ServiceView>) {
        registry.register(
            "bellwether_analysis_measurements",
            "Analysis measurements taken, by metric and verdict (waiting ones are inconclusive)",
            self.measurements.clone(),
        );
        registry.register(
            "bellwether_analysis_verdicts",
            "Analysis runs that reached a verdict, by verdict",
            self.verdicts.clone(),
        );
        registry.register(
            "bellwether_store_commit_duration_seconds",
            "Time each of the controller's store commits took (rollout events, finished analysis runs)",
            self.commits.clone(),
        );
        registry.register_collector(Box::new(Rollouts(services)));
    }
}

fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Successful => "successful",
        Verdict::Failed => "failed",
        Verdict::Inconclusive => "inconclusive",
        Verdict::Error => "error",
    }
}

/// Every service's rollout at the moment of a scrape.
#[derive(Debug)]
struct Rollouts(Vec<ServiceView>);

impl Collector for Rollouts {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "bellwether_rollout_phase",
            "1 for the phase each service's rollout is in, 0 for the others.",
            None,
            MetricType::Gauge,
        )?;
        for view in &self.0 {
            for phase in PHASES {
                let set = [
                    ("service", view.name.as_str()),
                    ("phase", &phase.to_string()),
                ];
                family
                    .encode_family(&set)?
                    .encode_gauge(&i64::from(view.phase == phase))?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "bellwether_rollout_step",
            "The canary step the rollout is at, counted from 1; 0 outside the steps.",
            None,
            MetricType::Gauge,
        )?;
        for view in &self.0 {
            let step = view.step.as_ref().map_or(0, |s| s.index + 1);
            family
                .encode_family(&[("service", view.name.as_str())])?
                .encode_gauge(&(step as i64))?;
        }
        let mut family = encoder.encode_descriptor(
            "bellwether_rollout_steps",
            "How many canary steps the rollout has; 0 outside the steps.",
            None,
            MetricType::Gauge,
        )?;
        for view in &self.0 {
            let total = view.step.as_ref().map_or(0, |s| s.total);
            family
                .encode_family(&[("service", view.name.as_str())])?
                .encode_gauge(&(total as i64))?;
        }
        let mut family = encoder.encode_descriptor(
            "bellwether_rollout_weight_ratio",
            "Share of the service's weighted traffic the rollout gives each revision (0 to 1), with its role.",
            None,
            MetricType::Gauge,
        )?;
        for view in &self.0 {
            for revision in &view.revisions {
                let name = format!("r{}", revision.number);
                let set = [
                    ("service", view.name.as_str()),
                    ("revision", name.as_str()),
                    ("role", role(revision.role)),
                ];
                family
                    .encode_family(&set)?
                    .encode_gauge(&revision.weight.fraction())?;
            }
        }
        Ok(())
    }
}

fn role(role: RevisionRole) -> &'static str {
    match role {
        RevisionRole::Stable => "stable",
        RevisionRole::Canary => "canary",
        RevisionRole::Preview => "preview",
        RevisionRole::Old => "old",
    }
}
