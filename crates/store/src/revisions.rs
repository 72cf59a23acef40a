//! The revision history of a service: every version deployed, numbered, with its template.

use serde::{Deserialize, Serialize};

/// One immutable version of a service as stored: what `undo` can go back to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredRevision {
    pub service: String,
    pub number: u64,
    pub version: String,
    /// How the revision runs (the platform's template, e.g. command and env), as JSON.
    pub template: serde_json::Value,
    pub created_at_ms: u64,
}

impl StoredRevision {
    pub fn revision(&self) -> bellwether_core::rollout::Revision {
        bellwether_core::rollout::Revision {
            number: self.number,
            version: self.version.clone(),
        }
    }
}
