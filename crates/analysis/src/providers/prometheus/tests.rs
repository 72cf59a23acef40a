//! Decoding Prometheus answers of every result type, and what each means as an observation.
//! The provider against a real Prometheus is in `tests/prometheus.rs`.

use std::collections::BTreeMap;

use super::QueryResult;
use super::api::{Undecodable, decode};
use crate::value::{Observation, Value};

fn observe(body: &str) -> Result<Observation, String> {
    match decode(body) {
        Ok(r) => r.into_observation(),
        Err(Undecodable::Rejected { kind, message }) => Err(format!("rejected {kind}: {message}")),
        Err(Undecodable::Malformed(m)) => Err(format!("malformed: {m}")),
    }
}

#[test]
fn every_result_type() {
    let vector = |items: &str| {
        format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{items}]}}}}"#)
    };
    let item = |v: &str| format!(r#"{{"metric":{{"job":"api"}},"value":[1700000000.5,"{v}"]}}"#);
    let cases = [
        (
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"0.25"]}}"#.to_owned(),
            Ok(Observation::number(0.25)),
        ),
        (
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"NaN"]}}"#.to_owned(),
            Ok(Observation::no_data("the query returned NaN (a ratio over no requests gives NaN)")),
        ),
        (vector(""), Ok(Observation::no_data("the query returned an empty vector"))),
        (vector(&item("0.125")), Ok(Observation::number(0.125))),
        (vector(&item("+Inf")), Ok(Observation::number(f64::INFINITY))),
        (
            vector(&item("NaN")),
            Ok(Observation::no_data("the query returned NaN (a ratio over no requests gives NaN)")),
        ),
        (
            vector(&format!("{},{},{}", item("1"), item("NaN"), item("2"))),
            Ok(Observation::value(Value::List(vec![Value::Number(1.0), Value::Number(2.0)]))
                .with_detail("3 series")),
        ),
        (
            r#"{"status":"success","data":{"resultType":"string","result":[1700000000,"ok"]}}"#.to_owned(),
            Ok(Observation::value(Value::Text("ok".to_owned()))),
        ),
        (
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}]}}"#.to_owned(),
            Err("the query returned a range vector; a measurement needs one value per series (wrap the selector in a function such as rate())".to_owned()),
        ),
        (
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error"}"#.to_owned(),
            Err(r#"rejected bad_data: invalid parameter "query": 1:5: parse error"#.to_owned()),
        ),
        (
            vector(&item("fast")),
            Err(r#"malformed: sample value "fast" is not a number"#.to_owned()),
        ),
        (
            vector(r#"{"metric":{},"histogram":[1,{}]}"#),
            Err("malformed: a vector sample without a value (native histograms are not supported)".to_owned()),
        ),
        (
            r#"{"status":"success"}"#.to_owned(),
            Err("malformed: a successful answer without data".to_owned()),
        ),
        (
            "<html>bad gateway</html>".to_owned(),
            Err("malformed: not a Prometheus API answer (expected value at line 1 column 1)".to_owned()),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(observe(&body), want, "{body}");
    }
}

#[test]
fn range_answers_keep_labels_and_points() {
    let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"revision":"2"},"values":[[10,"0.5"],[20,"NaN"]]}]}}"#;
    let Ok(QueryResult::Matrix(series)) = decode(body) else {
        panic!("a matrix");
    };
    assert_eq!(
        series[0].labels,
        BTreeMap::from([("revision".to_owned(), "2".to_owned())])
    );
    assert_eq!(series[0].points[0], (10.0, 0.5));
    assert!(series[0].points[1].1.is_nan());
}
