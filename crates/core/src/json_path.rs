//! The JSON paths metrics and checks use to pick a value: `$.data.errorRate`,
//! `$.items[0].value`, `$['odd key']`, optionally in Kubernetes' braces (`{$.data.ok}`) as Argo
//! Rollouts writes them. Filters, wildcards and slices are not supported: one value is picked.

use serde_json::Value;

/// The value at `path` in `doc`: `Ok(None)` when the document has nothing there, an error when
/// the path itself is not understood.
pub fn json_path<'a>(doc: &'a Value, path: &str) -> Result<Option<&'a Value>, String> {
    let p = path.trim();
    let p = p
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(p)
        .trim();
    let mut rest = p
        .strip_prefix('$')
        .ok_or_else(|| format!("JSON path `{path}` must start with `$`"))?;
    let mut at = Some(doc);
    while !rest.is_empty() {
        let (step, after) = if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(format!("JSON path `{path}` has an empty key"));
            }
            (Step::Key(&r[..end]), &r[end..])
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r
                .find(']')
                .ok_or_else(|| format!("JSON path `{path}` has an unclosed `[`"))?;
            let inner = r[..end].trim();
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            let step = match (quoted, inner.parse::<usize>()) {
                (Some(key), _) => Step::Key(key),
                (None, Ok(i)) => Step::Index(i),
                (None, Err(_)) => {
                    return Err(format!(
                        "JSON path `{path}` has `[{inner}]` (expected an index like [0] or a key like ['name'])"
                    ));
                }
            };
            (step, &r[end + 1..])
        } else {
            return Err(format!(
                "JSON path `{path}` has `{rest}` where `.key` or `[...]` was expected"
            ));
        };
        at = at.and_then(|v| match step {
            Step::Key(k) => v.get(k),
            Step::Index(i) => v.get(i),
        });
        rest = after;
    }
    Ok(at)
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

#[cfg(test)]
mod tests {
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
}
