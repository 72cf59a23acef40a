//! Reads a [`SignalSource`] for traffic metrics and a [`ResourceSource`] for CPU and memory.

use std::sync::Arc;

use bellwether_core::signal::{Change, ResourceSource, SignalSource};
use bellwether_core::spec::{BuiltinMetric, ProviderSpec};

use crate::providers::{Measuring, MetricProvider, ProviderError, Target, kind};
use crate::sequential::{Latencies, Tally};
use crate::value::{Observation, Value};

pub struct BuiltinProvider {
    signals: Arc<dyn SignalSource>,
    resources: Arc<dyn ResourceSource>,
}

impl BuiltinProvider {
    pub fn new(signals: Arc<dyn SignalSource>, resources: Arc<dyn ResourceSource>) -> Self {
        Self { signals, resources }
    }

    fn observe(&self, spec: &ProviderSpec, t: &Target) -> Result<Observation, ProviderError> {
        let ProviderSpec::Builtin {
            metric,
            window,
            slower_than,
        } = spec
        else {
            return Err(ProviderError::Mismatch {
                provider: "builtin",
                kind: kind(spec),
            });
        };
        let unknown = |source_name| ProviderError::UnknownRevision {
            source_name,
            service: t.service.clone(),
            revision: t.revision,
        };
        if metric.is_traffic() {
            let s = self
                .signals
                .sample(&t.service, t.revision, *window)
                .ok_or_else(|| unknown("router"))?;
            let value = match metric {
                BuiltinMetric::SuccessRate => s.success_rate(),
                BuiltinMetric::ErrorRate => s.error_rate(),
                BuiltinMetric::Latency { permille } => s.latency_quantile(*permille),
                _ => s.request_rate(),
            };
            let obs = match value {
                Some(v) => Observation::number(v),
                None => Observation::no_data("no requests completed"),
            };
            let mut obs = obs.with_sample(s.requests, s.window);
            if let (BuiltinMetric::Latency { .. }, None) = (metric, slower_than)
                && let Some(latencies) = self.signals.latencies(&t.service, t.revision)
            {
                obs = obs.with_latencies(Latencies(latencies));
            }
            let Some(totals) = self.signals.totals(&t.service, t.revision, *slower_than) else {
                return Ok(obs);
            };
            let tally = match metric {
                BuiltinMetric::SuccessRate => Some(Tally::new(
                    totals.requests.saturating_sub(totals.errors),
                    totals.requests,
                )),
                BuiltinMetric::ErrorRate => Some(Tally::new(totals.errors, totals.requests)),
                BuiltinMetric::Latency { .. } => {
                    totals.slower.map(|slow| Tally::new(slow.slower, slow.of))
                }
                _ => None,
            };
            return Ok(match tally {
                Some(tally) => obs.with_tally(tally),
                None => obs,
            });
        }
        let r = self
            .resources
            .resources(&t.service, t.revision, *window)
            .ok_or_else(|| unknown("platform"))?;
        let value = if *metric == BuiltinMetric::Cpu {
            r.cpu
        } else {
            r.memory
        };
        let obs = match value {
            Some(v) => Observation::value(Value::Number(v)),
            None => Observation::no_data(format!("the platform has no {metric} reading yet")),
        };
        Ok(obs.with_window(r.window))
    }
}

impl MetricProvider for BuiltinProvider {
    fn measure<'a>(&'a self, spec: &'a ProviderSpec, target: &'a Target) -> Measuring<'a> {
        let result = self.observe(spec, target);
        Box::pin(async move { result })
    }

    /// A traffic metric reads nothing new until a request completes; CPU and memory nothing
    /// until the platform's next reading.
    fn watch(&self, spec: &ProviderSpec, t: &Target) -> Option<Change> {
        match spec {
            ProviderSpec::Builtin { metric, .. } if metric.is_traffic() => {
                self.signals.next_completion(&t.service, t.revision)
            }
            ProviderSpec::Builtin { .. } => self.resources.next_reading(&t.service, t.revision),
            _ => None,
        }
    }
}
