//! `notifications:`: each target checked where it is written.

use bellwether_core::notify::ATTEMPTS;
use bellwether_core::spec::{NoticeKind, NotificationSpec, Target, Url};

use super::{exactly_one, names};
use crate::diagnostic::Sink;
use crate::model::{NotificationConfig, ProjectFile};
use crate::span::{Pos, Spanned};

pub(super) fn lower(file: &ProjectFile, sink: &mut Sink<'_>) -> Vec<NotificationSpec> {
    let services: Vec<&str> = file.services.names().collect();
    let environments: Vec<&str> = file.environments.names().collect();
    let pipelines: Vec<&str> = file.pipelines.names().collect();
    let mut out = Vec::new();
    for (name, config) in file.notifications.iter() {
        let c = &config.value;
        let Some(target) = target(c, config.pos, sink) else {
            continue;
        };
        let on =
            c.on.iter()
                .filter_map(|kind| {
                    let parsed = NoticeKind::parse(&kind.value);
                    if parsed.is_none() {
                        let known: Vec<&str> = NoticeKind::ALL.iter().map(|k| k.name()).collect();
                        names::reference("notice kind", kind, &known, sink);
                    }
                    parsed
                })
                .collect();
        let checked =
            |list: &[Spanned<String>], kind: &str, declared: &[&str], sink: &mut Sink<'_>| {
                list.iter()
                    .filter(|r| {
                        if declared.is_empty() {
                            let why = format!(
                                "unknown {kind} `{}` (the file declares no {kind}s)",
                                r.value
                            );
                            sink.error(r.pos, why);
                            return false;
                        }
                        names::reference(kind, r, declared, sink)
                    })
                    .map(|r| r.value.clone())
                    .collect()
            };
        out.push(NotificationSpec {
            name: name.value.clone(),
            target,
            on,
            services: checked(&c.services, "service", &services, sink),
            environments: checked(&c.environments, "environment", &environments, sink),
            pipelines: checked(&c.pipelines, "pipeline", &pipelines, sink),
            attempts: match &c.attempts {
                Some(a) if a.value == 0 => {
                    sink.error(
                        a.pos,
                        "attempts 0 would never send anything (expected 1 or more)",
                    );
                    ATTEMPTS
                }
                Some(a) => a.value,
                None => ATTEMPTS,
            },
        });
    }
    out
}

fn target(c: &NotificationConfig, pos: Pos, sink: &mut Sink<'_>) -> Option<Target> {
    let keys = [
        ("slack", c.slack.is_some()),
        ("webhook", c.webhook.is_some()),
        ("command", c.command.is_some()),
    ];
    if !exactly_one(sink, pos, "a notification target", &keys) {
        return None;
    }
    if let Some(slack) = &c.slack {
        let url = url(
            "slack",
            &slack.value.url,
            &slack.value.url_secret,
            slack.pos,
            sink,
        )?;
        return Some(Target::Slack { url });
    }
    if let Some(hook) = &c.webhook {
        let signing_secret = hook.value.signing_secret.as_ref().and_then(|s| {
            // Secret names ignore case, as `secret set` stores them.
            names::secret("signingSecret", s, sink).then(|| s.value.to_ascii_uppercase())
        });
        let url = url(
            "webhook",
            &hook.value.url,
            &hook.value.url_secret,
            hook.pos,
            sink,
        )?;
        return Some(Target::Webhook {
            url,
            signing_secret,
        });
    }
    let command = c.command.as_ref()?;
    super::provider::command(command, sink).then(|| Target::Command {
        command: command.value.0.clone(),
    })
}

fn url(
    what: &str,
    url: &Option<Spanned<String>>,
    secret: &Option<Spanned<String>>,
    pos: Pos,
    sink: &mut Sink<'_>,
) -> Option<Url> {
    match (url, secret) {
        (Some(u), None) => {
            let ok = u.value.starts_with("http://") || u.value.starts_with("https://");
            if !ok {
                sink.error(
                    u.pos,
                    format!("url `{}` is not an http:// or https:// address", u.value),
                );
            }
            ok.then(|| Url::Literal(u.value.clone()))
        }
        (None, Some(s)) => {
            names::secret("urlSecret", s, sink).then(|| Url::Secret(s.value.to_ascii_uppercase()))
        }
        (Some(_), Some(_)) => {
            sink.error(
                pos,
                format!("`{what}` has both `url` and `urlSecret` (expected one of them)"),
            );
            None
        }
        (None, None) => {
            sink.error(
                pos,
                format!("`{what}` has no address (expected `url`, or `urlSecret` naming the secret that holds it)"),
            );
            None
        }
    }
}
