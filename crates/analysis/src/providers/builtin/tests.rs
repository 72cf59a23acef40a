//! The builtin provider against fake signal and resource sources.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bellwether_core::rollout::RevisionNumber;
use bellwether_core::signal::{
    LatencyQuantiles, ResourceSample, ResourceSource, SignalSource, SlowerCount, TrafficSample,
    TrafficTotals,
};
use bellwether_core::spec::{BuiltinMetric, ProviderSpec};

use super::BuiltinProvider;
use crate::providers::{MetricProvider, Target};
use crate::sequential::Tally;
use crate::value::{Observation, Role};

struct Fake;

impl SignalSource for Fake {
    fn sample(&self, _: &str, revision: RevisionNumber, window: Duration) -> Option<TrafficSample> {
        match revision {
            1 => Some(TrafficSample {
                window: window.min(Duration::from_secs(12)),
                requests: 2_413,
                status_classes: [0, 2_290, 0, 7, 100],
                proxy_errors: 16,
                latency: Some(LatencyQuantiles {
                    p50: 0.02,
                    p99: 0.412,
                    ..LatencyQuantiles::default()
                }),
                ..TrafficSample::default()
            }),
            2 => Some(TrafficSample {
                window,
                ..TrafficSample::default()
            }),
            _ => None,
        }
    }

    fn totals(
        &self,
        _: &str,
        revision: RevisionNumber,
        slower_than: Option<Duration>,
    ) -> Option<TrafficTotals> {
        (revision == 1).then_some(TrafficTotals {
            requests: 2_413,
            errors: 116,
            slower: slower_than.map(|_| SlowerCount {
                slower: 30,
                of: 2_000,
            }),
        })
    }
}

impl ResourceSource for Fake {
    fn resources(
        &self,
        _: &str,
        revision: RevisionNumber,
        window: Duration,
    ) -> Option<ResourceSample> {
        (revision == 1).then_some(ResourceSample {
            window,
            replicas: 3,
            cpu: Some(0.85),
            memory: None,
        })
    }
}

fn measure(
    metric: &str,
    revision: RevisionNumber,
    slower_than: Option<Duration>,
) -> Result<Observation, String> {
    let provider = BuiltinProvider::new(Arc::new(Fake), Arc::new(Fake));
    let spec = ProviderSpec::Builtin {
        metric: BuiltinMetric::from_name(metric).unwrap(),
        window: Duration::from_secs(30),
        slower_than,
    };
    let target = Target {
        service: "api".to_owned(),
        revision,
        role: Role::Canary,
        canary: revision,
        stable: None,
        args: BTreeMap::new(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(provider.measure(&spec, &target))
        .map_err(|e| e.to_string())
}

#[test]
fn each_builtin_metric() {
    let twelve = Duration::from_secs(12);
    let thirty = Duration::from_secs(30);
    let traffic = |v: f64| Ok(Observation::number(v).with_sample(2_413, twelve));
    let counted = |v: f64, hits| {
        let obs = Observation::number(v).with_sample(2_413, twelve);
        Ok(obs.with_tally(Tally::new(hits, 2_413)))
    };
    let cases = [
        ("error_rate", 1, counted(116.0 / 2_413.0, 116)),
        ("success_rate", 1, counted(1.0 - 116.0 / 2_413.0, 2_297)),
        ("latency_p99", 1, traffic(0.412)),
        ("latency_p50", 1, traffic(0.02)),
        ("request_rate", 1, traffic(2_413.0 / 12.0)),
        (
            "error_rate",
            2,
            Ok(Observation::no_data("no requests completed").with_sample(0, thirty)),
        ),
        (
            "latency_p99",
            2,
            Ok(Observation::no_data("no requests completed").with_sample(0, thirty)),
        ),
        ("cpu", 1, Ok(Observation::number(0.85).with_window(thirty))),
        (
            "memory",
            1,
            Ok(Observation::no_data("the platform has no memory reading yet").with_window(thirty)),
        ),
        (
            "error_rate",
            9,
            Err("no revision 9 of service `api` is known to the router".to_owned()),
        ),
        (
            "cpu",
            9,
            Err("no revision 9 of service `api` is known to the platform".to_owned()),
        ),
    ];
    for (metric, revision, want) in cases {
        assert_eq!(
            measure(metric, revision, None),
            want,
            "{metric} of revision {revision}"
        );
    }
    // A latency threshold judged on all the evidence counts the requests slower than it.
    let slow = measure("latency_p99", 1, Some(Duration::from_millis(200))).unwrap();
    assert_eq!(slow.tally, Some(Tally::new(30, 2_000)));
}
