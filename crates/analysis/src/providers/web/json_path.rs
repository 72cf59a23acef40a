//! The JSON paths metrics use to pick a value: `$.data.errorRate`, `$.items[0].value`,
//! `$['odd key']`, optionally in Kubernetes' braces (`{$.data.ok}`) as Argo Rollouts writes
//! them. Filters, wildcards and slices are not supported: a metric needs one value. Pure.

use serde_json::Value;

/// The value at `path` in `doc`: `Ok(None)` when the document has nothing there, an error when
/// the path itself is not understood.
pub(crate) fn json_path<'a>(doc: &'a Value, path: &str) -> Result<Option<&'a Value>, String> {
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
