//! `{{service}}`, `{{revision}}` and `{{args.NAME}}` in queries, URLs, bodies, headers and
//! commands, so that one metric definition measures the canary and the baseline alike.

use super::{ProviderError, Target};

/// Replaces every placeholder in `text`; an unknown one is an error that names it.
pub(crate) fn expand(text: &str, target: &Target) -> Result<String, ProviderError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(ProviderError::Template(format!(
                "`{text}` opens a placeholder with {{{{ that is never closed"
            )));
        };
        let name = after[..end].trim();
        let value = match name {
            "service" => target.service.clone(),
            "revision" => target.revision.to_string(),
            _ => match name.strip_prefix("args.") {
                Some(arg) => target.args.get(arg).cloned().ok_or_else(|| {
                    ProviderError::Template(format!(
                        "`{{{{{name}}}}}` names an argument the analysis was not given"
                    ))
                })?,
                None => {
                    return Err(ProviderError::Template(format!(
                        "unknown placeholder `{{{{{name}}}}}` (expected {{{{service}}}}, {{{{revision}}}} or {{{{args.NAME}}}})"
                    )));
                }
            },
        };
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::value::Role;

    #[test]
    fn placeholders() {
        let target = Target {
            service: "api".to_owned(),
            revision: 7,
            role: Role::Canary,
            args: BTreeMap::from([("route".to_owned(), "/checkout".to_owned())]),
        };
        let cases = [
            ("plain", Ok("plain")),
            (
                r#"rate(x{service="{{service}}",rev="{{ revision }}"}[1m])"#,
                Ok(r#"rate(x{service="api",rev="7"}[1m])"#),
            ),
            ("{{args.route}}?r={{revision}}", Ok("/checkout?r=7")),
            (
                "{{args.nope}}",
                Err("`{{args.nope}}` names an argument the analysis was not given"),
            ),
            (
                "{{version}}",
                Err(
                    "unknown placeholder `{{version}}` (expected {{service}}, {{revision}} or {{args.NAME}})",
                ),
            ),
            (
                "x{{service",
                Err("`x{{service` opens a placeholder with {{ that is never closed"),
            ),
        ];
        for (text, want) in cases {
            let got = expand(text, &target).map_err(|e| e.to_string());
            assert_eq!(
                got,
                want.map(str::to_owned).map_err(str::to_owned),
                "{text}"
            );
        }
    }
}
