//! The rules as tables: one answer, each expectation, the failures it gives.

use bellwether_core::spec::{BodyMatch, Expect, HeaderExpect, StatusRange};
use http::HeaderMap;
use serde_json::json;

use super::{Answer, certificate, days_left, http, parse_json_expect};

fn answer<'a>(status: u16, headers: &'a HeaderMap, body: &'a str) -> Answer<'a> {
    Answer {
        status,
        headers,
        body: body.as_bytes(),
    }
}

#[test]
fn status_ranges() {
    let headers = HeaderMap::new();
    let ok = Expect::default();
    assert!(http(&ok, &answer(204, &headers, "")).is_empty());
    assert_eq!(
        http(&ok, &answer(503, &headers, "")),
        ["status 503 (expected 2xx)"]
    );
    let either = Expect {
        status: vec![
            StatusRange::parse("200").unwrap(),
            StatusRange::parse("3xx").unwrap(),
        ],
        ..Expect::default()
    };
    assert!(http(&either, &answer(302, &headers, "")).is_empty());
    assert_eq!(
        http(&either, &answer(201, &headers, "")),
        ["status 201 (expected 200 or 3xx)"]
    );
    for bad in ["6xx", "0", "abc", "99", "600", "2x"] {
        assert_eq!(StatusRange::parse(bad), None, "{bad}");
    }
}

#[test]
fn bodies() {
    let headers = HeaderMap::new();
    let contains = Expect {
        body: Some(BodyMatch::Contains("healthy".into())),
        ..Expect::default()
    };
    assert!(http(&contains, &answer(200, &headers, "all healthy")).is_empty());
    assert_eq!(
        http(&contains, &answer(200, &headers, "degraded\nstill")),
        [r#"body does not contain "healthy": degraded still"#]
    );
    let regex = Expect {
        body: Some(BodyMatch::Regex(r"^v\d+\.\d+".into())),
        ..Expect::default()
    };
    assert!(http(&regex, &answer(200, &headers, "v1.42 ok")).is_empty());
    assert_eq!(
        http(&regex, &answer(200, &headers, "")),
        [r"body does not match /^v\d+\.\d+/: (empty)"]
    );
    let long = "x".repeat(500);
    let failure = &http(&contains, &answer(200, &headers, &long))[0];
    assert!(
        failure.ends_with(&format!("{}…", "x".repeat(120))),
        "{failure}"
    );
}

#[test]
fn json_paths() {
    let headers = HeaderMap::new();
    let expect = Expect {
        json: vec![
            parse_json_expect("$.status=ok").unwrap(),
            parse_json_expect("$.replicas=3").unwrap(),
            parse_json_expect("$.checks[0].ok=true").unwrap(),
        ],
        ..Expect::default()
    };
    let body = json!({"status": "ok", "replicas": 3.0, "checks": [{"ok": true}]}).to_string();
    assert!(http(&expect, &answer(200, &headers, &body)).is_empty());
    let body = json!({"status": "down", "replicas": "3", "checks": []}).to_string();
    assert_eq!(
        http(&expect, &answer(200, &headers, &body)),
        [
            r#"$.status is "down" (expected "ok")"#,
            r#"$.replicas is "3" (expected 3)"#,
            "nothing at $.checks[0].ok (expected true)",
        ]
    );
    assert_eq!(
        http(&expect, &answer(200, &headers, "<html>")),
        ["body is not JSON (expected value at line 1 column 1): <html>"]
    );
    assert_eq!(
        parse_json_expect("status").unwrap_err(),
        "`status` is not PATH=VALUE (e.g. `$.status=ok`)"
    );
    assert_eq!(
        parse_json_expect("status=ok").unwrap_err(),
        "JSON path `status` must start with `$`"
    );
}

#[test]
fn headers() {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    let expect = Expect {
        headers: vec![
            HeaderExpect {
                name: "Content-Type".into(),
                value: Some("text/plain".into()),
            },
            HeaderExpect {
                name: "x-version".into(),
                value: None,
            },
        ],
        ..Expect::default()
    };
    assert_eq!(
        http(&expect, &answer(200, &headers, "")),
        [
            r#"header `Content-Type` is "application/json" (expected "text/plain")"#,
            "no `x-version` header",
        ]
    );
}

#[test]
fn every_failure_is_reported() {
    let headers = HeaderMap::new();
    let expect = Expect {
        body: Some(BodyMatch::Contains("ok".into())),
        ..Expect::default()
    };
    assert_eq!(http(&expect, &answer(500, &headers, "boom")).len(), 2);
}

#[test]
fn certificates() {
    let day = 86_400;
    assert_eq!(days_left(10 * day, 7 * day), 3.0);
    assert_eq!(certificate(3.0, None), None);
    assert_eq!(certificate(20.0, Some(14)), None);
    assert_eq!(
        certificate(3.0, Some(14)).unwrap(),
        "certificate expires in 3.0 days (expected at least 14)"
    );
    assert_eq!(
        certificate(days_left(0, day / 2), Some(1)).unwrap(),
        "certificate expired 0.5 days ago (expected at least 1 days left)"
    );
}
