//! The routers' signals and weights in the Prometheus text format, with `service` and
//! `revision` labels. Counters and the histogram cover each revision's life since it started;
//! the rolling windows are for analysis, which reads them directly.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::Router;
use crate::signals::{Bucket, RevisionSignals, Signals};

/// Upper bounds of the latency histogram's buckets, in seconds.
const BOUNDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Renders every revision of `signals` and the weights of `routers`.
pub fn render(signals: &Signals, routers: &[&Router]) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Snapshot {
        revisions: signals
            .all()
            .into_iter()
            .map(|r| {
                let (total, in_flight) = r.total();
                (r, total, in_flight)
            })
            .collect(),
        weights: routers
            .iter()
            .flat_map(|router| {
                let spec = router.spec();
                spec.revisions
                    .into_iter()
                    .map(move |r| (spec.service.clone(), r.name, r.weight.fraction()))
                    .collect::<Vec<_>>()
            })
            .collect(),
    }));
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut text, &registry);
    text
}

/// The values of one scrape, taken before encoding so that no lock is held while it runs.
#[derive(Debug)]
struct Snapshot {
    revisions: Vec<(Arc<RevisionSignals>, Bucket, u64)>,
    weights: Vec<(String, String, f64)>,
}

type Labels<'a> = [(&'a str, &'a str); 2];

fn labels(r: &RevisionSignals) -> Labels<'_> {
    [("service", r.service()), ("revision", r.name())]
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "bellwether_router_requests",
            "Requests completed, by status class; proxy_error when the router could not get an answer.",
            None,
            MetricType::Counter,
        )?;
        for (r, total, _) in &self.revisions {
            let [service, revision] = labels(r);
            let classes = CLASSES.iter().zip(total.status_classes);
            for (class, count) in classes.chain([(&"proxy_error", total.proxy_errors)]) {
                let set = [service, revision, ("class", class)];
                family
                    .encode_family(&set)?
                    .encode_counter::<NoLabelSet, _, u64>(&count, None)?;
            }
        }
        counter(
            &mut encoder,
            "bellwether_router_received_bytes",
            "Request body bytes received from clients.",
            &self.revisions,
            |b| b.bytes_in,
        )?;
        counter(
            &mut encoder,
            "bellwether_router_sent_bytes",
            "Response body bytes sent to clients.",
            &self.revisions,
            |b| b.bytes_out,
        )?;
        let mut family = encoder.encode_descriptor(
            "bellwether_router_in_flight",
            "Requests in flight now.",
            None,
            MetricType::Gauge,
        )?;
        for (r, _, in_flight) in &self.revisions {
            family.encode_family(&labels(r))?.encode_gauge(in_flight)?;
        }
        let mut family = encoder.encode_descriptor(
            "bellwether_router_request_duration_seconds",
            "Time from receiving a request to the end of its response.",
            None,
            MetricType::Histogram,
        )?;
        for (r, total, _) in &self.revisions {
            let h = &total.latency;
            let mut below = 0;
            let mut buckets: Vec<(f64, u64)> = BOUNDS
                .iter()
                .map(|bound| {
                    let upto = h.count_between(0, (bound * 1e6) as u64);
                    let count = upto - below;
                    below = upto;
                    (*bound, count)
                })
                .collect();
            buckets.push((f64::MAX, h.len() - below));
            let sum = h.mean() * h.len() as f64 / 1e6;
            family
                .encode_family(&labels(r))?
                .encode_histogram::<NoLabelSet>(sum, h.len(), &buckets, None)?;
        }
        let mut family = encoder.encode_descriptor(
            "bellwether_router_weight_ratio",
            "Share of weighted traffic routed to the revision (0 to 1).",
            None,
            MetricType::Gauge,
        )?;
        for (service, revision, weight) in &self.weights {
            let set = [
                ("service", service.as_str()),
                ("revision", revision.as_str()),
            ];
            family.encode_family(&set)?.encode_gauge(weight)?;
        }
        Ok(())
    }
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    revisions: &[(Arc<RevisionSignals>, Bucket, u64)],
    value: impl Fn(&Bucket) -> u64,
) -> Result<(), fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (r, total, _) in revisions {
        family
            .encode_family(&labels(r))?
            .encode_counter::<NoLabelSet, _, u64>(&value(total), None)?;
    }
    Ok(())
}
