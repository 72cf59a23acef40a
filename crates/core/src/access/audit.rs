//! The audit trail's entries: who or what did which action to which target, with what result
//! and why, from where and when. The trail is hash-chained: each entry is sealed with the
//! SHA-256 of its position, the previous entry's hash and its own content, so that [`verify`]
//! finds the first entry edited, deleted or moved. A cut of the newest entries leaves a valid
//! chain: compare the head hash `verify` reports with one kept elsewhere (an export) to see it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Role;

/// The "previous hash" of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an audited action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Done,
    /// Not allowed: no credential, a role without the permission, a failed browser check.
    Refused,
    /// Allowed, and it failed (invalid input, a conflict, an internal error).
    Failed,
}

/// One audited action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at_ms: u64,
    /// The token's name, `bellwether` for automatic decisions, `anonymous` without a credential.
    pub actor: String,
    pub role: Option<Role>,
    /// `deploy`, `promote`, `token create`, `rollout aborted`, …
    pub action: String,
    /// The service, pipeline, run or token acted on.
    pub target: Option<String>,
    pub environment: Option<String>,
    pub outcome: Outcome,
    /// The HTTP status answered, for requests.
    pub status: Option<u16>,
    pub reason: Option<String>,
    /// The client's address, for requests.
    pub source: Option<String>,
}

/// An entry in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub seq: u64,
    pub entry: Entry,
    pub prev: String,
    pub hash: String,
}

/// The hash of the entry at `seq` after the one hashed `prev`.
pub fn seal(seq: u64, prev: &str, entry: &Entry) -> Result<String, serde_json::Error> {
    Ok(digest(&format!(
        "{seq}\n{prev}\n{}",
        serde_json::to_string(entry)?
    )))
}

/// The first entry that breaks the chain, and how.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit entry {seq}: {why}")]
pub struct Broken {
    pub seq: u64,
    pub why: String,
}

/// Checks a whole trail, read from its start: the number of entries and the head hash when
/// every entry is where it was written, as it was written.
pub fn verify(entries: &[Sealed]) -> Result<(u64, String), Broken> {
    let mut prev = GENESIS.to_owned();
    for (i, e) in entries.iter().enumerate() {
        let expected = i as u64 + 1;
        let broken = |why: String| Broken { seq: e.seq, why };
        if e.seq != expected {
            return Err(broken(format!(
                "found where entry {expected} should be: an entry was deleted or moved"
            )));
        }
        if e.prev != prev {
            return Err(broken(
                "does not follow the entry before it: an entry was deleted, inserted or moved"
                    .to_owned(),
            ));
        }
        let hash = seal(e.seq, &e.prev, &e.entry).map_err(|err| broken(err.to_string()))?;
        if hash != e.hash {
            return Err(broken(
                "its content does not match its seal: it was edited".to_owned(),
            ));
        }
        prev = hash;
    }
    Ok((entries.len() as u64, prev))
}

/// The SHA-256 of `text`, in hex.
pub fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
