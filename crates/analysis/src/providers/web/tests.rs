//! JSON paths as a table. The provider against a real HTTP server is in `tests/web.rs`.

use serde_json::json;

use super::json_path;

#[test]
fn json_paths() {
    let doc = json!({
        "data": {"errorRate": 0.012, "ok": true, "odd key": "x"},
        "items": [{"value": 3}, {"value": 4}],
    });
    let cases = [
        ("$", Ok(Some(doc.clone()))),
        ("$.data.errorRate", Ok(Some(json!(0.012)))),
        ("{$.data.ok}", Ok(Some(json!(true)))),
        ("$.items[1].value", Ok(Some(json!(4)))),
        ("$['data'][\"odd key\"]", Ok(Some(json!("x")))),
        ("$.data.missing", Ok(None)),
        ("$.items[7]", Ok(None)),
        (
            "data.errorRate",
            Err("JSON path `data.errorRate` must start with `$`"),
        ),
        (
            "$.items[*]",
            Err(
                "JSON path `$.items[*]` has `[*]` (expected an index like [0] or a key like ['name'])",
            ),
        ),
        (
            "$.items[0",
            Err("JSON path `$.items[0` has an unclosed `[`"),
        ),
        ("$..data", Err("JSON path `$..data` has an empty key")),
        (
            "$data",
            Err("JSON path `$data` has `data` where `.key` or `[...]` was expected"),
        ),
    ];
    for (path, want) in cases {
        let got = json_path(&doc, path).map(|v| v.cloned());
        assert_eq!(got, want.map_err(str::to_owned), "{path}");
    }
}
