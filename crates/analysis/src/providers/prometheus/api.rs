//! The shape of Prometheus' `/api/v1/query` and `/api/v1/query_range` answers, and what an
//! instant query's result means as an observation. Pure.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::value::{Observation, Value};

/// A query's result, with sample values parsed (`"NaN"`, `"+Inf"` included).
#[derive(Clone, Debug, PartialEq)]
pub enum QueryResult {
    Scalar(f64),
    /// An instant vector: one value per series, with its labels.
    Vector(Vec<(BTreeMap<String, String>, f64)>),
    /// A range vector, or a range query's answer.
    Matrix(Vec<RangeSeries>),
    String(String),
}

/// One series of a range query: its labels and `(unix seconds, value)` points.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeSeries {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(f64, f64)>,
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Scalar((f64, String)),
    String((f64, String)),
    Vector(Vec<VectorItem>),
    Matrix(Vec<MatrixItem>),
}

#[derive(Deserialize)]
struct VectorItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: Option<(f64, String)>,
}

#[derive(Deserialize)]
struct MatrixItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// Why an answer could not be used.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Undecodable {
    /// Prometheus said `"status": "error"`.
    Rejected { kind: String, message: String },
    /// Not an answer of the documented shape.
    Malformed(String),
}

/// Decodes an answer's body, whatever its HTTP status: Prometheus reports bad queries as JSON
/// with a 4xx status.
pub(super) fn decode(body: &str) -> Result<QueryResult, Undecodable> {
    let envelope: Envelope = serde_json::from_str(body)
        .map_err(|e| Undecodable::Malformed(format!("not a Prometheus API answer ({e})")))?;
    if envelope.status != "success" {
        return Err(Undecodable::Rejected {
            kind: envelope.error_type.unwrap_or_else(|| "unknown".to_owned()),
            message: envelope.error.unwrap_or_else(|| "no message".to_owned()),
        });
    }
    let data = envelope
        .data
        .ok_or_else(|| Undecodable::Malformed("a successful answer without data".to_owned()))?;
    Ok(match data {
        Data::Scalar((_, v)) => QueryResult::Scalar(number(&v)?),
        Data::String((_, s)) => QueryResult::String(s),
        Data::Vector(items) => QueryResult::Vector(
            items
                .into_iter()
                .map(|i| {
                    let (_, v) = i.value.ok_or_else(|| {
                        Undecodable::Malformed(
                            "a vector sample without a value (native histograms are not supported)"
                                .to_owned(),
                        )
                    })?;
                    Ok((i.metric, number(&v)?))
                })
                .collect::<Result<_, Undecodable>>()?,
        ),
        Data::Matrix(items) => QueryResult::Matrix(
            items
                .into_iter()
                .map(|i| {
                    let points = i
                        .values
                        .iter()
                        .map(|(t, v)| Ok((*t, number(v)?)))
                        .collect::<Result<_, Undecodable>>()?;
                    Ok(RangeSeries {
                        labels: i.metric,
                        points,
                    })
                })
                .collect::<Result<_, Undecodable>>()?,
        ),
    })
}

fn number(text: &str) -> Result<f64, Undecodable> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => text
            .parse()
            .map_err(|_| Undecodable::Malformed(format!("sample value {text:?} is not a number"))),
    }
}

impl QueryResult {
    /// What an instant query's result says about a metric. A range vector is an error: the
    /// query needs a function such as `rate()` to give one value per series.
    pub fn into_observation(self) -> Result<Observation, String> {
        let nan = "the query returned NaN (a ratio over no requests gives NaN)";
        match self {
            QueryResult::Scalar(v) if v.is_nan() => Ok(Observation::no_data(nan)),
            QueryResult::Scalar(v) => Ok(Observation::number(v)),
            QueryResult::String(s) => Ok(Observation::value(Value::Text(s))),
            QueryResult::Vector(items) => {
                let values: Vec<f64> = items.iter().map(|(_, v)| *v).filter(|v| !v.is_nan()).collect();
                Ok(match (items.len(), values.as_slice()) {
                    (0, _) => Observation::no_data("the query returned an empty vector"),
                    (_, []) => Observation::no_data(nan),
                    (1, [v]) => Observation::number(*v),
                    (n, _) => Observation::value(Value::List(
                        values.iter().map(|v| Value::Number(*v)).collect(),
                    ))
                    .with_detail(format!("{n} series")),
                })
            }
            QueryResult::Matrix(_) => Err(
                "the query returned a range vector; a measurement needs one value per series (wrap the selector in a function such as rate())"
                    .to_owned(),
            ),
        }
    }
}
