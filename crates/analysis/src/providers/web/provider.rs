//! Sends the request, checks the status, and picks the value out of the JSON answer.

use bellwether_core::spec::ProviderSpec;
use bellwether_core::time::human_duration;

use crate::providers::{
    Measuring, MetricProvider, ProviderError, Target, error_chain, excerpt, expand, kind,
};
use crate::value::{Observation, Value};
use bellwether_core::json_path::json_path;

pub struct WebProvider {
    client: reqwest::Client,
}

impl WebProvider {
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

impl MetricProvider for WebProvider {
    fn measure<'a>(&'a self, spec: &'a ProviderSpec, target: &'a Target) -> Measuring<'a> {
        Box::pin(async move {
            let ProviderSpec::Web {
                url,
                method,
                headers,
                body,
                json_path: path,
                timeout,
            } = spec
            else {
                return Err(ProviderError::Mismatch {
                    provider: "web",
                    kind: kind(spec),
                });
            };
            let url = expand(url, target)?;
            let failed = |reason: String| ProviderError::Request {
                url: url.clone(),
                reason,
            };
            let method = reqwest::Method::from_bytes(method.as_bytes())
                .map_err(|_| failed(format!("`{method}` is not an HTTP method")))?;
            let mut request = self.client.request(method, &url).timeout(*timeout);
            for (name, value) in headers {
                request = request.header(name, expand(value, target)?);
            }
            if let Some(body) = body {
                request = request.body(expand(body, target)?);
            }
            let response = request.send().await.map_err(|e| {
                if e.is_timeout() {
                    failed(format!("no answer within {}", human_duration(*timeout)))
                } else {
                    failed(error_chain(&e))
                }
            })?;
            let status = response.status();
            let text = response.text().await.map_err(|e| failed(error_chain(&e)))?;
            if !status.is_success() {
                return Err(ProviderError::Status {
                    url,
                    status: status.as_u16(),
                    body: excerpt(&text),
                });
            }
            let decode = |reason: String| ProviderError::Decode {
                url: url.clone(),
                reason,
            };
            let doc: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| decode(format!("the answer is not JSON ({e}): {}", excerpt(&text))))?;
            let picked = match path {
                Some(p) => json_path(&doc, p).map_err(decode)?.ok_or_else(|| {
                    decode(format!(
                        "the answer has nothing at `{p}`: {}",
                        excerpt(&text)
                    ))
                })?,
                None => &doc,
            };
            observation(picked).map_err(decode)
        })
    }
}

/// A JSON value as a measured value, an object's `null` members left out; `null` is no data.
fn observation(v: &serde_json::Value) -> Result<Observation, String> {
    match v {
        serde_json::Value::Null => Ok(Observation::no_data("the value is null")),
        other => value(other).map(Observation::value),
    }
}

fn value(v: &serde_json::Value) -> Result<Value, String> {
    match v {
        serde_json::Value::Number(n) => n
            .as_f64()
            .map(Value::Number)
            .ok_or_else(|| format!("{n} is not representable as a number")),
        serde_json::Value::Bool(b) => Ok(Value::Bool(*b)),
        serde_json::Value::String(s) => Ok(Value::Text(s.clone())),
        serde_json::Value::Array(items) => items
            .iter()
            .map(value)
            .collect::<Result<_, _>>()
            .map(Value::List),
        serde_json::Value::Null => Err("a list holds null".to_owned()),
        serde_json::Value::Object(members) => members
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| value(v).map(|v| (k.clone(), v)))
            .collect::<Result<_, _>>()
            .map(Value::Map),
    }
}
