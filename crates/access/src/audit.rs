//! The audit trail on the store's `audit` stream: appended after the last entry whoever wrote
//! it, each entry sealed with the hash chain of [`bellwether_core::access::audit`].

use std::sync::{Arc, Mutex, MutexGuard};

use bellwether_store::{Record, Store, StoreError};
use serde::{Deserialize, Serialize};

use bellwether_core::access::audit::{Entry, GENESIS, Sealed, seal};

use crate::AccessError;

const STREAM: &str = "audit";

#[derive(Serialize, Deserialize)]
struct Body {
    entry: Entry,
    prev: String,
    hash: String,
}

/// The audit trail of a control plane.
pub struct AuditLog {
    store: Arc<dyn Store>,
    /// The last entry's position and hash.
    head: Mutex<(u64, String)>,
}

impl AuditLog {
    pub fn open(store: Arc<dyn Store>) -> Result<Self, AccessError> {
        let head = head(store.as_ref())?;
        Ok(Self {
            store,
            head: Mutex::new(head),
        })
    }

    /// Seals and appends `entry` after the last one, whoever wrote it.
    pub fn append(&self, entry: Entry) -> Result<Sealed, AccessError> {
        let mut head = self.head();
        loop {
            let (seq, prev) = (head.0 + 1, head.1.clone());
            let hash = seal(seq, &prev, &entry)?;
            let body = Body {
                entry: entry.clone(),
                prev: prev.clone(),
                hash: hash.clone(),
            };
            let record = Record::new(entry.at_ms, "audit", serde_json::to_value(&body)?);
            match self.store.append(STREAM, head.0, &[record]) {
                Ok(_) => {
                    *head = (seq, hash.clone());
                    return Ok(Sealed {
                        seq,
                        entry,
                        prev,
                        hash,
                    });
                }
                Err(StoreError::Conflict { .. }) => *head = self::head(self.store.as_ref())?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Every entry after position `after`, in order, as stored.
    pub fn read(&self, after: u64) -> Result<Vec<Sealed>, AccessError> {
        read(self.store.as_ref(), after)
    }

    fn head(&self) -> MutexGuard<'_, (u64, String)> {
        self.head.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every entry after position `after`, straight from a store (`audit verify` on a data
/// directory reads it so, trusting no server).
pub fn read(store: &dyn Store, after: u64) -> Result<Vec<Sealed>, AccessError> {
    store
        .read(STREAM, after)?
        .into_iter()
        .map(|r| {
            let body: Body = serde_json::from_value(r.body)?;
            Ok(Sealed {
                seq: r.seq,
                entry: body.entry,
                prev: body.prev,
                hash: body.hash,
            })
        })
        .collect()
}

fn head(store: &dyn Store) -> Result<(u64, String), AccessError> {
    let last = store.last_seq(STREAM)?;
    if last == 0 {
        return Ok((0, GENESIS.to_owned()));
    }
    let sealed = read(store, last - 1)?;
    Ok(sealed
        .last()
        .map_or((0, GENESIS.to_owned()), |s| (s.seq, s.hash.clone())))
}

#[cfg(test)]
mod tests;
