//! What a stream holds: records of events, and snapshots of the state they add up to.

use serde::{Deserialize, Serialize};

/// One stored event. The body is the event as JSON; `kind` names it for queries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the stream, from 1; assigned by the store on append.
    pub seq: u64,
    /// When it happened, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub kind: String,
    pub body: serde_json::Value,
}

impl Record {
    /// A record to append; the store assigns `seq`.
    pub fn new(at_ms: u64, kind: impl Into<String>, body: serde_json::Value) -> Self {
        Self {
            seq: 0,
            at_ms,
            kind: kind.into(),
            body,
        }
    }
}

/// The state of a stream after its record `seq`, so that replay can start there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub stream: String,
    pub seq: u64,
    pub body: serde_json::Value,
}
