//! Arguments, as in an Argo Rollouts AnalysisTemplate: those a service's analysis declares
//! (`analysis.args`, with optional defaults), the `{{args.NAME}}` placeholders each metric
//! names, and the values each analysis reference gives; checked against each other, so that no
//! analysis starts with a placeholder it cannot fill in.

use std::collections::BTreeMap;

use bellwether_core::placeholder::{self, Piece, Placeholder};
use bellwether_core::spec::{AnalysisRef, MetricSpec, ProviderSpec};

use crate::diagnostic::Sink;
use crate::model::{ArgConfig, ValueFromConfig};
use crate::span::{Pos, Spanned};
use crate::suggest::did_you_mean;

/// A service's declared arguments and what its metrics use of them.
#[derive(Default)]
pub(in crate::lower) struct Args {
    /// Declared names, their defaults and where they are declared, in file order.
    declared: Vec<(String, Option<String>, Pos)>,
    /// Each metric's arguments, by metric name.
    uses: BTreeMap<String, Vec<String>>,
    /// The metrics the judge measures.
    pub(super) judged: Vec<String>,
}

impl Args {
    /// Checks the declarations of `analysis.args`.
    pub(super) fn declare(args: &[Spanned<ArgConfig>], service: &str, sink: &mut Sink<'_>) -> Self {
        let mut declared: Vec<(String, Option<String>, Pos)> = Vec::new();
        for arg in args {
            let name = &arg.value.name;
            if !valid_name(&name.value) {
                sink.error(
                    name.pos,
                    format!("argument name `{}` is not valid (expected letters, digits, `-`, `_` and `.`, as in `{{{{args.service-name}}}}`)", name.value),
                );
            }
            if declared.iter().any(|(n, ..)| *n == name.value) {
                sink.error(
                    name.pos,
                    format!(
                        "argument `{}` is declared twice (expected each name once)",
                        name.value
                    ),
                );
                continue;
            }
            declared.push((name.value.clone(), value(arg, service, sink), name.pos));
        }
        Self {
            declared,
            ..Self::default()
        }
    }

    /// Checks every placeholder of `metric`'s queries, URLs, headers, bodies and commands, and
    /// notes which arguments it uses. `at` is where to report: the metric's query, or the metric.
    pub(super) fn check_metric(&mut self, metric: &MetricSpec, at: Pos, sink: &mut Sink<'_>) {
        let mut used: Vec<String> = Vec::new();
        for text in templated(&metric.provider) {
            let pieces = match placeholder::parse(text) {
                Ok(pieces) => pieces,
                Err(e) => {
                    sink.error(at, format!("metric `{}`: {e}", metric.name));
                    continue;
                }
            };
            for piece in pieces {
                let Piece::Placeholder(Placeholder::Arg(arg)) = piece else {
                    continue;
                };
                if used.iter().any(|u| u == arg) {
                    continue;
                }
                if !self.declared.iter().any(|(n, ..)| n == arg) {
                    let declared = self.declared.iter().map(|(n, ..)| n.as_str());
                    sink.error(
                        at,
                        format!(
                            "metric `{}` uses `{{{{args.{arg}}}}}`, an argument the service's analysis does not declare{} (expected it in `analysis.args`, e.g. `args: [{{name: {arg}}}]`)",
                            metric.name,
                            did_you_mean(arg, declared)
                        ),
                    );
                }
                used.push(arg.to_owned());
            }
        }
        self.uses.insert(metric.name.clone(), used);
    }

    /// The arguments of an analysis reference: the values it gives (`given`, each declared),
    /// over the declared defaults; every argument of a metric it runs must have one. `at` is
    /// where the reference is written, `None` for an analysis that runs by default.
    pub(in crate::lower) fn resolve(
        &self,
        given: &[Spanned<ArgConfig>],
        runs: &AnalysisRef,
        service: &str,
        at: Option<Pos>,
        sink: &mut Sink<'_>,
    ) -> BTreeMap<String, String> {
        let mut values: BTreeMap<String, String> = self
            .declared
            .iter()
            .filter_map(|(n, v, _)| v.clone().map(|v| (n.clone(), v)))
            .collect();
        let mut seen: Vec<&str> = Vec::new();
        for arg in given {
            let name = &arg.value.name;
            if !self.declared.iter().any(|(n, ..)| *n == name.value) {
                let declared: Vec<&str> = self.declared.iter().map(|(n, ..)| n.as_str()).collect();
                let expected = if declared.is_empty() {
                    "the service's analysis declares no `args`".to_owned()
                } else {
                    format!("expected one of {}", declared.join(", "))
                };
                sink.error(
                    name.pos,
                    format!(
                        "unknown argument `{}`{} ({expected})",
                        name.value,
                        did_you_mean(&name.value, declared.iter().copied())
                    ),
                );
                continue;
            }
            if seen.contains(&name.value.as_str()) {
                sink.error(
                    name.pos,
                    format!(
                        "argument `{}` is given twice (expected each name once)",
                        name.value
                    ),
                );
                continue;
            }
            seen.push(&name.value);
            match value(arg, service, sink) {
                Some(v) => {
                    values.insert(name.value.clone(), v);
                }
                None if arg.value.value.is_none() && arg.value.value_from.is_none() => {
                    sink.error(
                        arg.pos,
                        format!("argument `{}` has no value (expected `value: …` or `valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}`)", name.value),
                    );
                }
                None => {}
            }
        }
        let metrics: Vec<&String> = if runs.is_all() {
            self.uses.keys().collect()
        } else {
            let judged = self.judged.iter().filter(|_| runs.judge);
            runs.metrics.iter().chain(judged).collect()
        };
        let mut missing: Vec<(&str, &str, Pos)> = Vec::new();
        for metric in metrics {
            for arg in self.uses.get(metric).into_iter().flatten() {
                let declared = self.declared.iter().find(|(n, ..)| n == arg);
                if let Some((_, _, declared_at)) = declared
                    && !values.contains_key(arg)
                    && !missing.iter().any(|(_, a, _)| a == arg)
                {
                    missing.push((metric, arg, *declared_at));
                }
            }
        }
        for (metric, arg, declared_at) in missing {
            match at {
                Some(at) => sink.error(
                    at,
                    format!("the analysis runs metric `{metric}`, whose `{{{{args.{arg}}}}}` has no value (expected `args: [{{name: {arg}, value: …}}]` on the analysis, or a `value` where `analysis.args` declares it)"),
                ),
                None => sink.error(
                    declared_at,
                    format!("argument `{arg}` has no `value`, and metric `{metric}`, which uses it, runs in the strategy's default analysis, which gives none (expected a `value` here, or the analysis written out with `args`)"),
                ),
            }
        }
        values
    }
}

/// An argument's value: `value`, or `valueFrom`'s field of the service. `None` after an error
/// and when there is neither.
fn value(arg: &Spanned<ArgConfig>, service: &str, sink: &mut Sink<'_>) -> Option<String> {
    let a = &arg.value;
    match (&a.value, &a.value_from) {
        (Some(v), Some(from)) => {
            sink.error(
                from.pos,
                format!(
                    "argument `{}` has both `value` and `valueFrom` (expected one of them)",
                    a.name.value
                ),
            );
            Some(v.value.clone())
        }
        (Some(v), None) => Some(v.value.clone()),
        (None, Some(from)) => value_from(from, service, sink),
        (None, None) => None,
    }
}

fn value_from(
    from: &Spanned<ValueFromConfig>,
    service: &str,
    sink: &mut Sink<'_>,
) -> Option<String> {
    let f = &from.value;
    if let Some(secret) = &f.secret_key_ref {
        sink.error(
            secret.pos,
            "valueFrom.secretKeyRef is not supported: arguments are not secret (expected a provider's `headers` for credentials, or `value: …`)",
        );
        return None;
    }
    if let Some(hash) = &f.pod_template_hash_value {
        sink.error(
            hash.pos,
            "valueFrom.podTemplateHashValue is not supported (expected `{{revision}}` in the query, the number of the revision under analysis)",
        );
        return None;
    }
    let Some(field) = &f.field_ref else {
        sink.error(
            from.pos,
            "valueFrom is empty (expected `fieldRef: {fieldPath: metadata.name}`)",
        );
        return None;
    };
    let path = &field.value.field_path;
    match path.value.as_str() {
        "metadata.name" => Some(service.to_owned()),
        other => {
            sink.error(
                path.pos,
                format!("fieldPath `{other}` names no field of the service (expected metadata.name, the service's name)"),
            );
            None
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The strings of a provider that the analysis fills placeholders in.
fn templated(provider: &ProviderSpec) -> Vec<&str> {
    match provider {
        ProviderSpec::Prometheus { query, total, .. } => std::iter::once(query.as_str())
            .chain(total.as_deref())
            .collect(),
        ProviderSpec::Web {
            url, headers, body, ..
        } => std::iter::once(url.as_str())
            .chain(headers.values().map(String::as_str))
            .chain(body.as_deref())
            .collect(),
        ProviderSpec::Job { command, .. } => command.iter().map(String::as_str).collect(),
        ProviderSpec::Builtin { .. } | ProviderSpec::Verify { .. } => Vec::new(),
    }
}
