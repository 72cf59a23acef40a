//! Presets: the success-rate and latency checks of a service routed by Istio or NGINX Ingress,
//! as Flagger's builtin metrics `request-success-rate` and `request-duration`, written as PromQL
//! over the revision under analysis (`{{revision}}`).
//!
//! Istio: `destination_workload` as the server's sidecar reports it (`reporter="destination"`).
//! Istio names the workload of a pod owned by a ReplicaSet without a `pod-template-hash` after
//! that ReplicaSet, and the kubernetes platform makes one per revision, `<service>-r<revision>`:
//! exactly one revision's pods, whatever route reached them. `destination_version` would need the
//! pods to carry Istio's `version` label (they carry `bellwether.dev/revision`, which Istio's
//! telemetry does not read), and `destination_service_name` is the host both subsets share.
//!
//! NGINX Ingress: its `ingress` label, the canary Ingress `<stableIngress>-canary` that
//! bellwether writes, so these measure the canary of a canary rollout (NGINX's metrics do not
//! split what the stable Ingress sends by revision).
//!
//! A success rate is counted (`errors` and `total` of the counts form, so the sequential
//! analysis gets counts, not a ratio): answers other than 5xx among all for a threshold on
//! `success_rate`, 5xx answers among all for one on `error_rate`. A duration quantile is
//! `histogram_quantile` over the last minute's rate of the histogram's buckets (a minute holds
//! several scrapes at any usual scrape interval), in seconds.

use crate::model::TrafficRoutingConfig;

/// Where a service's requests are counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Mesh {
    Istio { workload: String },
    Nginx { canary_ingress: String },
}

impl Mesh {
    /// The mesh or ingress of `service`, routed by `routing`; `None` for any other routing.
    pub(super) fn of(service: &str, routing: Option<&TrafficRoutingConfig>) -> Option<Self> {
        let routing = routing?;
        if routing.istio.is_some() {
            let workload = format!("{service}-r{{{{revision}}}}");
            return Some(Self::Istio { workload });
        }
        let stable = routing.nginx.as_ref()?.value.stable_ingress.as_ref()?;
        let canary_ingress = format!("{}-canary", stable.value);
        Some(Self::Nginx { canary_ingress })
    }

    fn requests(&self) -> String {
        match self {
            Self::Istio { workload } => format!(
                "istio_requests_total{{reporter=\"destination\",destination_workload=\"{workload}\""
            ),
            Self::Nginx { canary_ingress } => {
                format!("nginx_ingress_controller_requests{{ingress=\"{canary_ingress}\"")
            }
        }
    }

    /// PromQL counting the revision's failed requests (5xx), or those that did not fail, and all
    /// of them; the first is 0 while no such request was counted.
    pub(super) fn counts(&self, failed: bool) -> (String, String) {
        let code = match self {
            Self::Istio { .. } => "response_code",
            Self::Nginx { .. } => "status",
        };
        let matches = if failed { "=~" } else { "!~" };
        let requests = self.requests();
        (
            format!("sum({requests},{code}{matches}\"5..\"}}) or vector(0)"),
            format!("sum({requests}}})"),
        )
    }

    /// PromQL for the revision's `quantile` of request durations over the last minute, in seconds.
    pub(super) fn duration(&self, quantile: f64) -> String {
        let (buckets, to_seconds) = match self {
            Self::Istio { workload } => (
                format!(
                    "istio_request_duration_milliseconds_bucket{{reporter=\"destination\",destination_workload=\"{workload}\"}}"
                ),
                " / 1000",
            ),
            Self::Nginx { canary_ingress } => (
                format!(
                    "nginx_ingress_controller_request_duration_seconds_bucket{{ingress=\"{canary_ingress}\"}}"
                ),
                "",
            ),
        };
        format!("histogram_quantile({quantile}, sum by (le) (rate({buckets}[1m]))){to_seconds}")
    }
}
