//! `{{service}}`, `{{revision}}` and `{{args.NAME}}` (`core::placeholder`'s grammar) in queries,
//! URLs, bodies, headers and commands, so that one metric definition measures the canary and the
//! baseline alike.

use bellwether_core::placeholder::{self, Piece, Placeholder};

use super::{ProviderError, Target};

/// Replaces every placeholder in `text`; an unknown one is an error that names it.
pub(crate) fn expand(text: &str, target: &Target) -> Result<String, ProviderError> {
    let pieces = placeholder::parse(text).map_err(|e| ProviderError::Template(e.to_string()))?;
    let mut out = String::with_capacity(text.len());
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Placeholder(Placeholder::Service) => out.push_str(&target.service),
            Piece::Placeholder(Placeholder::Revision) => {
                out.push_str(&target.revision.to_string());
            }
            Piece::Placeholder(Placeholder::Arg(arg)) => match target.args.get(arg) {
                Some(value) => out.push_str(value),
                None => {
                    return Err(ProviderError::Template(format!(
                        "`{{{{args.{arg}}}}}` names an argument the analysis was not given"
                    )));
                }
            },
        }
    }
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
            canary: 7,
            stable: None,
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
