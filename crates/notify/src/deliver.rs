//! One attempt at delivering a notice to a target: Slack's incoming-webhook JSON, the notice
//! as signed JSON, or a program's standard input.

use std::process::Stdio;
use std::time::Duration;

use bellwether_core::notify::Notice;
use bellwether_core::platform::{INHERITED_ENV, SecretSource};
use bellwether_core::spec::{NotificationSpec, Target, Url};
use hmac::{KeyInit, Mac};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::outbox::Delivery;

/// The longest one attempt may take: a receiver that hangs is tried again later.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// Why an attempt failed, and how long the receiver asked to be left alone.
pub(crate) struct Failure {
    pub(crate) reason: String,
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

pub(crate) async fn once(
    client: &reqwest::Client,
    spec: &NotificationSpec,
    secrets: &dyn SecretSource,
    delivery: &Delivery,
) -> Result<(), Failure> {
    let notice = &delivery.notice;
    match &spec.target {
        Target::Slack { url } => {
            let url = address(url, secrets)?;
            post(client.post(url).json(&slack(notice))).await
        }
        Target::Webhook {
            url,
            signing_secret,
        } => {
            let url = address(url, secrets)?;
            let body = serde_json::to_vec(notice).map_err(|e| Failure::new(e.to_string()))?;
            let mut request = client
                .post(url)
                .header("content-type", "application/json")
                .header("x-bellwether-event", notice.kind.name())
                .header("x-bellwether-delivery", &delivery.id);
            if let Some(name) = signing_secret {
                let key = secret(secrets, name)?;
                request = request.header("x-bellwether-signature-256", sign(key.as_bytes(), &body));
            }
            post(request.body(body)).await
        }
        Target::Command { command } => run(command, notice).await,
    }
}

fn secret(secrets: &dyn SecretSource, name: &str) -> Result<String, Failure> {
    secrets
        .values(None, &[name.to_owned()])
        .map_err(Failure::new)?
        .remove(name)
        .ok_or_else(|| Failure::new(format!("secret `{name}` is not set")))
}

fn address(url: &Url, secrets: &dyn SecretSource) -> Result<String, Failure> {
    match url {
        Url::Literal(u) => Ok(u.clone()),
        Url::Secret(name) => secret(secrets, name),
    }
}

/// Sends `request`: a 2xx is delivered; anything else is tried again, after the receiver's
/// `Retry-After` when it gives one (a 429 or 503 usually does). The address is never in the
/// reason: it may be a credential.
async fn post(request: reqwest::RequestBuilder) -> Result<(), Failure> {
    let response = request.send().await.map_err(|e| {
        let what = if e.is_timeout() {
            "no answer within 10s"
        } else if e.is_connect() {
            "cannot connect"
        } else {
            "the request failed"
        };
        Failure::new(what)
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    Err(Failure {
        reason: format!("answered {status}"),
        retry_after,
    })
}

async fn run(command: &[String], notice: &Notice) -> Result<(), Failure> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Failure::new("the command is empty"))?;
    let body = serde_json::to_vec(notice).map_err(|e| Failure::new(e.to_string()))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(
            INHERITED_ENV
                .iter()
                .filter_map(|k| Some((k, std::env::var_os(k)?))),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::new(format!("cannot start `{program}`: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A program that does not read its input still gets to say how it went.
        let _ = stdin.write_all(&body).await;
    }
    match tokio::time::timeout(TIMEOUT * 3, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(Failure::new(format!("`{program}` ended with {status}"))),
        Ok(Err(e)) => Err(Failure::new(format!("`{program}`: {e}"))),
        Err(_) => Err(Failure::new(format!("`{program}` took over 30s"))),
    }
}

/// `sha256=<hex>` of the body under `key`, as GitHub signs its webhooks.
pub(crate) fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A Slack message: a headline, the details, and a link to the dashboard.
fn slack(notice: &Notice) -> serde_json::Value {
    let subject = match (&notice.service, &notice.pipeline, notice.run) {
        (Some(service), _, _) => format!("*{}*", escape(service)),
        (None, Some(pipeline), Some(run)) => format!("*{}* run {run}", escape(pipeline)),
        _ => String::new(),
    };
    let mut facts = Vec::new();
    if let Some(version) = &notice.version {
        facts.push(format!("version `{}`", escape(version)));
    }
    if !notice.environments.is_empty() {
        facts.push(format!(
            "environment {}",
            escape(&notice.environments.join(", "))
        ));
    }
    if let Some(step) = &notice.step {
        facts.push(escape(step));
    }
    let headline = format!("{} {subject}: {}", emoji(notice), escape(&notice.message));
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": headline}})];
    let mut context: Vec<serde_json::Value> = facts
        .iter()
        .map(|f| json!({"type": "mrkdwn", "text": f}))
        .collect();
    if let Some(link) = &notice.link {
        context.push(json!({"type": "mrkdwn", "text": format!("<{link}|open in bellwether>")}));
    }
    if !context.is_empty() {
        blocks.push(json!({"type": "context", "elements": context}));
    }
    json!({"text": format!("{} {}", notice.kind, notice.message), "blocks": blocks})
}

fn emoji(notice: &Notice) -> &'static str {
    use bellwether_core::spec::NoticeKind::*;
    match notice.kind {
        Promoted | RunSucceeded => ":white_check_mark:",
        Aborted | EmergencyRollback | RunFailed => ":rotating_light:",
        Paused | ApprovalNeeded => ":raised_hand:",
        RolloutStarted | RunStarted => ":rocket:",
        Step => ":arrow_forward:",
    }
}

/// Slack's mrkdwn treats these three as markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
