//! The web provider against a real HTTP server on loopback.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use bellwether_analysis::providers::{MetricProvider, ProviderError, WebProvider};
use bellwether_analysis::{Observation, Value};
use bellwether_core::spec::ProviderSpec;
use support::{Answer, Server, target};
use tokio::time::timeout;

fn web(url: String, method: &str, json_path: Option<&str>) -> ProviderSpec {
    ProviderSpec::Web {
        url,
        method: method.to_owned(),
        headers: BTreeMap::from([
            ("Authorization".to_owned(), "Bearer s3cret".to_owned()),
            ("X-Revision".to_owned(), "{{revision}}".to_owned()),
        ]),
        body: None,
        json_path: json_path.map(str::to_owned),
        timeout: Duration::from_millis(500),
    }
}

async fn measure(spec: &ProviderSpec) -> Result<Observation, String> {
    let provider = WebProvider::new(reqwest::Client::new());
    let t = target(7, &[("route", "checkout")]);
    timeout(Duration::from_secs(10), provider.measure(spec, &t))
        .await
        .expect("bounded")
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn picks_a_value_out_of_json_with_templated_requests() {
    let server = Server::start(|r| match r.path.as_str() {
        "/api/7/stats?route=checkout" => {
            Answer::ok(r#"{"data":{"errorRate":0.012,"ok":true,"name":"x","n":null}}"#)
        }
        _ => Answer::status(404, "no such page"),
    })
    .await;
    let url = format!(
        "{}/{{{{service}}}}/{{{{revision}}}}/stats?route={{{{args.route}}}}",
        server.base
    )
    .replace("{{service}}", "api");
    let cases = [
        (Some("$.data.errorRate"), Ok(Observation::number(0.012))),
        (Some("$.data.ok"), Ok(Observation::value(Value::Bool(true)))),
        (
            Some("{$.data.name}"),
            Ok(Observation::value(Value::Text("x".into()))),
        ),
        (
            Some("$.data.n"),
            Ok(Observation::no_data("the value is null")),
        ),
        // A document is a value too, for conditions such as `result.ok`; `null` members are
        // left out.
        (
            Some("$.data"),
            Ok(Observation::value(Value::Map(BTreeMap::from([
                ("errorRate".to_owned(), Value::Number(0.012)),
                ("ok".to_owned(), Value::Bool(true)),
                ("name".to_owned(), Value::Text("x".into())),
            ])))),
        ),
    ];
    for (path, want) in cases {
        assert_eq!(
            measure(&web(url.clone(), "GET", path)).await,
            want,
            "{path:?}"
        );
    }
    let seen = server.requests();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].headers["authorization"], "Bearer s3cret");
    assert_eq!(seen[0].headers["x-revision"], "7");
}

#[tokio::test]
async fn posts_a_templated_body() {
    let server = Server::start(|r| Answer::ok(format!(r#"{{"echo":{}}}"#, r.body))).await;
    let mut spec = web(
        format!("{}/check", server.base),
        "POST",
        Some("$.echo.revision"),
    );
    if let ProviderSpec::Web { body, .. } = &mut spec {
        *body = Some(r#"{"revision":{{revision}}}"#.to_owned());
    }
    assert_eq!(measure(&spec).await, Ok(Observation::number(7.0)));
    assert_eq!(server.requests()[0].method, "POST");
}

#[tokio::test]
async fn bad_answers_are_errors_that_say_why() {
    let server = Server::start(|r| match r.path.as_str() {
        "/down" => Answer::status(503, "upstream unavailable"),
        "/html" => Answer::ok("<html>hi</html>"),
        "/object" => Answer::ok(r#"{"data":{"a":1}}"#),
        _ => Answer {
            delay: Duration::from_secs(3),
            ..Answer::ok("{}")
        },
    })
    .await;
    let base = &server.base;
    let cases = [
        (
            format!("{base}/down"),
            None,
            format!("{base}/down answered HTTP 503: upstream unavailable"),
        ),
        (
            format!("{base}/html"),
            None,
            format!(
                "unexpected answer from {base}/html: the answer is not JSON (expected value at line 1 column 1): <html>hi</html>"
            ),
        ),
        (
            format!("{base}/object"),
            Some("$.data.b"),
            format!(
                r#"unexpected answer from {base}/object: the answer has nothing at `$.data.b`: {{"data":{{"a":1}}}}"#
            ),
        ),
        (
            format!("{base}/slow"),
            None,
            format!("request to {base}/slow failed: no answer within 500ms"),
        ),
    ];
    for (url, path, want) in cases {
        assert_eq!(
            measure(&web(url.clone(), "GET", path)).await,
            Err(want),
            "{url}"
        );
    }
}

#[tokio::test]
async fn a_closed_port_is_a_request_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/x");
    let err = measure(&web(url.clone(), "GET", None)).await.unwrap_err();
    assert!(
        err.starts_with(&format!("request to {url} failed: ")),
        "{err}"
    );
    assert!(err.contains("onnection refused"), "{err}");
    let provider = WebProvider::new(reqwest::Client::new());
    let wrong = ProviderSpec::Job {
        command: vec!["true".to_owned()],
        timeout: Duration::from_secs(1),
    };
    let mismatch = provider.measure(&wrong, &target(1, &[])).await;
    assert!(matches!(mismatch, Err(ProviderError::Mismatch { .. })));
}
