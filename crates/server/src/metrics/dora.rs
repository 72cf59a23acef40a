//! The DORA figures of the last 30 days as gauges, computed when scraped, by service and
//! environment (`""` for a service deployed to none).

use std::fmt;

use bellwether_core::dora::{Figures, Spread};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

#[derive(Debug)]
pub(crate) struct Dora(pub(crate) Vec<Figures>);

impl Collector for Dora {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let labels = |f: &Figures| {
            [
                ("service", f.service.clone()),
                ("environment", f.environment.clone().unwrap_or_default()),
            ]
        };
        let mut family = encoder.encode_descriptor(
            "bellwether_dora_deployments",
            "Rollouts promoted in the last 30 days.",
            None,
            MetricType::Gauge,
        )?;
        for f in &self.0 {
            let count = i64::try_from(f.deployment_frequency.deployments).unwrap_or(i64::MAX);
            ConstGauge::new(count).encode(family.encode_family(&labels(f))?)?;
        }
        let mut family = encoder.encode_descriptor(
            "bellwether_dora_change_failure_ratio",
            "Rollouts of the last 30 days that failed (aborted, rolled back or undone), over those that ended; absent without any.",
            None,
            MetricType::Gauge,
        )?;
        for f in &self.0 {
            if let Some(rate) = f.change_failure_rate.rate {
                ConstGauge::new(rate).encode(family.encode_family(&labels(f))?)?;
            }
        }
        for (name, help, spread) in [
            (
                "bellwether_dora_lead_time_seconds",
                "From a version's commit to its first promotion, over the last 30 days: the median and the 90th percentile.",
                (|f: &Figures| f.lead_time.spread.clone()) as fn(&Figures) -> Spread,
            ),
            (
                "bellwether_dora_time_to_restore_seconds",
                "From a failure to healthy again, over the last 30 days: the median and the 90th percentile.",
                |f: &Figures| f.time_to_restore.spread.clone(),
            ),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for f in &self.0 {
                let spread = spread(f);
                for (quantile, ms) in [("0.5", spread.median_ms), ("0.9", spread.p90_ms)] {
                    let Some(ms) = ms else { continue };
                    let [service, environment] = labels(f);
                    let set = [service, environment, ("quantile", quantile.to_owned())];
                    ConstGauge::new(ms as f64 / 1000.0).encode(family.encode_family(&set)?)?;
                }
            }
        }
        Ok(())
    }
}
