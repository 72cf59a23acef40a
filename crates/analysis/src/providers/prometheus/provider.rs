//! Queries over Prometheus' HTTP API: address, headers (a bearer token goes in
//! `Authorization`), a timeout, and templated queries.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bellwether_core::spec::{ProviderSpec, Unit};
use bellwether_core::time::human_duration;

use super::api::{QueryResult, RangeSeries, Undecodable, decode};
use crate::providers::{
    Measuring, MetricProvider, ProviderError, Target, error_chain, excerpt, expand, kind,
};
use crate::sequential::Tally;
use crate::value::{Observation, Value};

/// A client of one Prometheus server.
#[derive(Clone, Debug)]
pub struct Prometheus {
    client: reqwest::Client,
    address: String,
    headers: BTreeMap<String, String>,
    timeout: Duration,
}

impl Prometheus {
    pub fn new(
        client: reqwest::Client,
        address: &str,
        headers: BTreeMap<String, String>,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            address: address.trim_end_matches('/').to_owned(),
            headers,
            timeout,
        }
    }

    /// `/api/v1/query`: the query's value now.
    pub async fn instant(&self, query: &str) -> Result<QueryResult, ProviderError> {
        self.get("query", &[("query", query.to_owned())]).await
    }

    /// `/api/v1/query_range`: the query's series from `start` to `end`, one point per `step`.
    pub async fn range(
        &self,
        query: &str,
        start: SystemTime,
        end: SystemTime,
        step: Duration,
    ) -> Result<Vec<RangeSeries>, ProviderError> {
        let secs = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64()
                .to_string()
        };
        let params = [
            ("query", query.to_owned()),
            ("start", secs(start)),
            ("end", secs(end)),
            ("step", step.as_secs_f64().to_string()),
        ];
        match self.get("query_range", &params).await? {
            QueryResult::Matrix(series) => Ok(series),
            other => Err(ProviderError::Decode {
                url: self.url("query_range"),
                reason: format!("a range query answered {other:?} instead of a matrix"),
            }),
        }
    }

    fn url(&self, endpoint: &str) -> String {
        format!("{}/api/v1/{endpoint}", self.address)
    }

    async fn get(
        &self,
        endpoint: &str,
        params: &[(&str, String)],
    ) -> Result<QueryResult, ProviderError> {
        let url = self.url(endpoint);
        let failed = |reason: String| ProviderError::Request {
            url: url.clone(),
            reason,
        };
        let full = reqwest::Url::parse_with_params(&url, params)
            .map_err(|e| failed(format!("not a URL: {e}")))?;
        let mut request = self.client.get(full).timeout(self.timeout);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                failed(format!("no answer within {}", human_duration(self.timeout)))
            } else {
                failed(error_chain(&e))
            }
        })?;
        let status = response.status();
        let body = response.text().await.map_err(|e| failed(error_chain(&e)))?;
        match decode(&body) {
            Ok(result) => Ok(result),
            Err(Undecodable::Rejected { kind, message }) => {
                Err(ProviderError::Prometheus { kind, message })
            }
            Err(Undecodable::Malformed(_)) if !status.is_success() => Err(ProviderError::Status {
                url,
                status: status.as_u16(),
                body: excerpt(&body),
            }),
            Err(Undecodable::Malformed(reason)) => Err(ProviderError::Decode { url, reason }),
        }
    }
}

/// Measures a prometheus metric with an instant query, its `{{...}}` placeholders filled in;
/// in the counts form, with two: hits and all requests.
pub struct PrometheusProvider {
    client: reqwest::Client,
}

impl PrometheusProvider {
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

impl MetricProvider for PrometheusProvider {
    fn measure<'a>(&'a self, spec: &'a ProviderSpec, target: &'a Target) -> Measuring<'a> {
        Box::pin(async move {
            let ProviderSpec::Prometheus {
                address,
                query,
                headers,
                timeout,
                total,
            } = spec
            else {
                return Err(ProviderError::Mismatch {
                    provider: "prometheus",
                    kind: kind(spec),
                });
            };
            let prometheus =
                Prometheus::new(self.client.clone(), address, headers.clone(), *timeout);
            let query = expand(query, target)?;
            match total {
                None => prometheus.value(&query).await,
                Some(total) => prometheus.counts(&query, &expand(total, target)?).await,
            }
        })
    }
}

impl Prometheus {
    /// The instant query's value, as an observation.
    async fn value(&self, query: &str) -> Result<Observation, ProviderError> {
        self.instant(query)
            .await?
            .into_observation()
            .map_err(|reason| self.undecodable(reason))
    }

    /// Hits among requests, both running counts read at the same moment: the share as the
    /// value, the counts as the tally the analysis subtracts its first reading from.
    async fn counts(&self, hits: &str, total: &str) -> Result<Observation, ProviderError> {
        let (h, t) = tokio::join!(self.count(hits, "errors"), self.count(total, "total"));
        let (hits, total) = (h?, t?);
        let obs = match hits.zip(total) {
            Some((hits, total)) => {
                let tally = Tally::new(hits, total);
                let value = tally.share().map_or_else(
                    || Observation::no_data("no requests counted yet"),
                    Observation::number,
                );
                value.with_tally(tally)
            }
            None => Observation::no_data("the counts are not there yet (an empty vector)"),
        };
        Ok(obs)
    }

    /// A count: one number, rounded; `None` for an empty vector (no series yet).
    async fn count(&self, query: &str, what: &str) -> Result<Option<u64>, ProviderError> {
        let obs = self.value(query).await?;
        match obs.value {
            None => Ok(None),
            Some(Value::Number(n)) if n.is_finite() && n >= 0.0 => Ok(Some(n.round() as u64)),
            Some(other) => Err(self.undecodable(format!(
                "`{what}` must count requests (one number, 0 or more), and `{query}` gave {}",
                other.display(Unit::Plain)
            ))),
        }
    }

    fn undecodable(&self, reason: String) -> ProviderError {
        ProviderError::Decode {
            url: self.url("query"),
            reason,
        }
    }
}
