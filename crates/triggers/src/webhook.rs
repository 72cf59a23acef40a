//! Webhooks in GitHub's format: the `X-Hub-Signature-256` check (HMAC-SHA256 of the exact
//! body, compared in constant time) and the `push` and `pull_request` payloads, read into
//! the event a pipeline's `on:` filters judge. Pure: no I/O.

use bellwether_core::spec::Origin;
use bellwether_pipeline_core::trigger::{Event, EventName, GitRef};
use hmac::{KeyInit, Mac};
use serde::Deserialize;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error(
        "the delivery is not signed (expected an X-Hub-Signature-256 header: sha256=<hex HMAC of the body>)"
    )]
    Unsigned,
    #[error("the X-Hub-Signature-256 header is malformed (expected sha256= and 64 hex digits)")]
    MalformedSignature,
    #[error("the signature does not match the body under the webhook secret")]
    WrongSignature,
    #[error(
        "no X-GitHub-Delivery header: every delivery needs a unique id, by which a redelivery is told apart (GitHub sends one; another sender must too)"
    )]
    NoDelivery,
    #[error(
        "the X-GitHub-Delivery header is malformed (expected at most 128 letters, digits, `-`, `_` or `.`, as in a UUID)"
    )]
    MalformedDelivery,
    #[error("no X-GitHub-Event header (expected push, pull_request or ping)")]
    NoEventName,
    #[error("the {event} payload is malformed: {reason}")]
    Malformed { event: String, reason: String },
}

impl WebhookError {
    /// Whether the delivery failed its signature check (rather than being malformed).
    pub fn is_signature(&self) -> bool {
        matches!(
            self,
            WebhookError::Unsigned
                | WebhookError::MalformedSignature
                | WebhookError::WrongSignature
        )
    }
}

/// Checks `header` (`sha256=<hex>`) against the HMAC-SHA256 of `body` under `secret`.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), WebhookError> {
    let mut verifier = Verifier::new(secret, header)?;
    verifier.update(body);
    verifier.finish().map(|_| ())
}

/// The signature check of a body that arrives in pieces: the header is read before any of
/// the body, each piece goes into the HMAC as it comes, and only a body whose signature
/// matches is handed back ([`Verified`]), so nothing reads a body that was not checked.
pub struct Verifier {
    mac: HmacSha256,
    given: Vec<u8>,
    body: Vec<u8>,
}

impl Verifier {
    /// Refuses a missing or malformed `header` at once, before the body is read.
    pub fn new(secret: &[u8], header: Option<&str>) -> Result<Verifier, WebhookError> {
        let header = header.ok_or(WebhookError::Unsigned)?;
        let hex = header
            .trim()
            .strip_prefix("sha256=")
            .ok_or(WebhookError::MalformedSignature)?;
        let given = decode_hex(hex).ok_or(WebhookError::MalformedSignature)?;
        let mac = HmacSha256::new_from_slice(secret).map_err(|_| WebhookError::WrongSignature)?;
        Ok(Verifier {
            mac,
            given,
            body: Vec::new(),
        })
    }

    pub fn update(&mut self, piece: &[u8]) {
        self.mac.update(piece);
        self.body.extend_from_slice(piece);
    }

    /// How many bytes of the body have come so far.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// The whole body, if the signature matches it.
    pub fn finish(self) -> Result<Verified, WebhookError> {
        self.mac
            .verify_slice(&self.given)
            .map_err(|_| WebhookError::WrongSignature)?;
        Ok(Verified(self.body))
    }
}

/// A body whose signature matched: only [`Verifier::finish`] makes one.
pub struct Verified(Vec<u8>);

impl Verified {
    pub fn body(&self) -> &[u8] {
        &self.0
    }
}

/// The `X-GitHub-Delivery` header: every delivery carries its own id, by which a
/// redelivery is told apart.
pub fn delivery_id(header: Option<&str>) -> Result<&str, WebhookError> {
    let id = header.map(str::trim).unwrap_or_default();
    if id.is_empty() {
        return Err(WebhookError::NoDelivery);
    }
    let fits = id.len() <= MAX_DELIVERY_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if fits {
        Ok(id)
    } else {
        Err(WebhookError::MalformedDelivery)
    }
}

/// GitHub's ids are UUIDs (36 characters); room for other senders' forms.
const MAX_DELIVERY_ID: usize = 128;

/// `sha256=<hex>` for `body` under `secret`: what a sender puts in `X-Hub-Signature-256`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// What a delivery asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// GitHub's hello when a webhook is set up.
    Ping,
    /// Something that may start runs.
    Event(Box<Pushed>),
    /// A delivery that starts nothing, and why.
    Ignored(String),
}

/// An event and the commit it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pushed {
    pub event: Event,
    /// The commit to run: a push's `after`, a pull request's head; for a release, empty
    /// until its tag is looked up.
    pub sha: String,
    /// For a pull request: the commit of its base, to tell what it changes.
    pub base_sha: Option<String>,
    /// Who pushed or acted.
    pub actor: String,
    /// The fork a pull request comes from (`owner/name`), when it is not the repository's own.
    pub fork: Option<String>,
    /// GitHub's `author_association` of a pull request's author.
    pub association: Option<String>,
}

impl Pushed {
    /// Where the event comes from, for the project's trust policy.
    pub fn origin(&self) -> Origin {
        Origin {
            actor: self.actor.clone(),
            fork: self.fork.clone(),
            association: self.association.clone(),
        }
    }
}

/// Reads a delivery of event `name` (the `X-GitHub-Event` header).
pub fn parse(name: Option<&str>, body: &[u8]) -> Result<Delivery, WebhookError> {
    let name = name.ok_or(WebhookError::NoEventName)?;
    let malformed = |e: serde_json::Error| WebhookError::Malformed {
        event: name.to_owned(),
        reason: e.to_string(),
    };
    match name {
        "ping" => Ok(Delivery::Ping),
        "push" => push(serde_json::from_slice(body).map_err(malformed)?),
        "pull_request" => pull_request(serde_json::from_slice(body).map_err(malformed)?),
        "release" => release(serde_json::from_slice(body).map_err(malformed)?),
        other => Ok(Delivery::Ignored(format!(
            "`{other}` deliveries start nothing (pipelines run on push, pull_request and release)"
        ))),
    }
}

#[derive(Deserialize)]
struct PushPayload {
    #[serde(rename = "ref")]
    git_ref: String,
    after: String,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    commits: Vec<Commit>,
    pusher: Option<Person>,
    sender: Option<Account>,
}

#[derive(Deserialize)]
struct Commit {
    #[serde(default)]
    added: Vec<String>,
    #[serde(default)]
    modified: Vec<String>,
    #[serde(default)]
    removed: Vec<String>,
}

#[derive(Deserialize)]
struct Person {
    name: String,
}

#[derive(Deserialize)]
struct Account {
    login: String,
}

#[derive(Deserialize)]
struct ReleasePayload {
    action: String,
    release: Release,
    sender: Option<Account>,
}

#[derive(Deserialize)]
struct Release {
    tag_name: String,
}

#[derive(Deserialize)]
struct PullRequestPayload {
    action: String,
    pull_request: PullRequest,
    sender: Option<Account>,
}

#[derive(Deserialize)]
struct PullRequest {
    head: Side,
    base: Side,
    author_association: Option<String>,
}

#[derive(Deserialize)]
struct Side {
    #[serde(rename = "ref")]
    git_ref: String,
    sha: String,
    /// Absent when the fork was deleted.
    repo: Option<Repository>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

fn push(p: PushPayload) -> Result<Delivery, WebhookError> {
    let git_ref = if let Some(branch) = p.git_ref.strip_prefix("refs/heads/") {
        GitRef::Branch(branch.to_owned())
    } else if let Some(tag) = p.git_ref.strip_prefix("refs/tags/") {
        GitRef::Tag(tag.to_owned())
    } else {
        return Err(WebhookError::Malformed {
            event: "push".to_owned(),
            reason: format!(
                "ref `{}` is neither refs/heads/… nor refs/tags/…",
                p.git_ref
            ),
        });
    };
    if p.deleted {
        return Ok(Delivery::Ignored(format!(
            "{} `{}` was deleted",
            git_ref.kind(),
            git_ref.name()
        )));
    }
    check_sha("push", &p.after)?;
    let mut changed: Vec<String> = p
        .commits
        .into_iter()
        .flat_map(|c| c.added.into_iter().chain(c.modified).chain(c.removed))
        .collect();
    changed.sort();
    changed.dedup();
    let actor = p
        .pusher
        .map(|p| p.name)
        .or(p.sender.map(|s| s.login))
        .unwrap_or_else(|| "a webhook".to_owned());
    Ok(Delivery::Event(Box::new(Pushed {
        event: Event {
            name: EventName::Push,
            git_ref,
            base: None,
            action: None,
            changed_paths: Some(changed),
            workflow_run: None,
        },
        sha: p.after,
        base_sha: None,
        actor,
        fork: None,
        association: None,
    })))
}

fn pull_request(p: PullRequestPayload) -> Result<Delivery, WebhookError> {
    check_sha("pull_request", &p.pull_request.head.sha)?;
    check_sha("pull_request", &p.pull_request.base.sha)?;
    let repository = |side: &Side| side.repo.as_ref().map(|r| r.full_name.clone());
    // A head without a repository beside a base with one is a fork that was deleted: a fork
    // all the same.
    let fork = match (
        repository(&p.pull_request.head),
        repository(&p.pull_request.base),
    ) {
        (Some(head), Some(base)) if head == base => None,
        (Some(head), _) => Some(head),
        (None, Some(_)) => Some("a deleted fork".to_owned()),
        (None, None) => None,
    };
    Ok(Delivery::Event(Box::new(Pushed {
        event: Event {
            name: EventName::PullRequest,
            git_ref: GitRef::Branch(p.pull_request.head.git_ref),
            base: Some(p.pull_request.base.git_ref),
            action: Some(p.action),
            // Filled in from the repository when it has both commits.
            changed_paths: None,
            workflow_run: None,
        },
        sha: p.pull_request.head.sha,
        base_sha: Some(p.pull_request.base.sha),
        actor: p
            .sender
            .map(|s| s.login)
            .unwrap_or_else(|| "a webhook".to_owned()),
        fork,
        association: p.pull_request.author_association,
    })))
}

/// A release's activity. Its payload names a tag and no commit: the tag's commit is looked up
/// in the repository ([`Pushed::sha`] is empty until then).
fn release(p: ReleasePayload) -> Result<Delivery, WebhookError> {
    let tag = p.release.tag_name;
    let valid = !tag.is_empty()
        && tag.len() <= 255
        && !tag.starts_with('-')
        && !tag.contains("..")
        && tag.chars().all(|c| {
            c.is_ascii_graphic() && !matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')
        });
    if !valid {
        return Err(WebhookError::Malformed {
            event: "release".to_owned(),
            reason: format!("`{tag}` is not a tag name git allows"),
        });
    }
    Ok(Delivery::Event(Box::new(Pushed {
        event: Event {
            name: EventName::Release,
            git_ref: GitRef::Tag(tag),
            base: None,
            action: Some(p.action),
            changed_paths: None,
            workflow_run: None,
        },
        sha: String::new(),
        base_sha: None,
        actor: p
            .sender
            .map(|s| s.login)
            .unwrap_or_else(|| "a webhook".to_owned()),
        fork: None,
        association: None,
    })))
}

/// A commit id is 40 (SHA-1) or 64 (SHA-256) hex digits: anything else never reaches git.
fn check_sha(event: &str, sha: &str) -> Result<(), WebhookError> {
    let ok = matches!(sha.len(), 40 | 64) && sha.bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(WebhookError::Malformed {
            event: event.to_owned(),
            reason: format!("`{sha}` is not a commit id (expected 40 hex digits)"),
        })
    }
}

#[cfg(test)]
mod tests;
