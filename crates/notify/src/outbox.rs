//! The outbox: stream `notifications` of the event store. A delivery is `queued` with its
//! notice, then has `failed` attempts, and ends `delivered` or `gave_up`. Its state is the
//! replay of its records, so what was queued before a crash is still there after it.

use bellwether_core::notify::Notice;
use bellwether_store::{Record, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::NotifyError;

const STREAM: &str = "notifications";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Delivered,
    /// Given up on after every attempt failed.
    Failed,
}

/// One notice for one target, and how its delivery went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `<target>/<notice id>`.
    pub id: String,
    pub target: String,
    pub notice: Notice,
    pub status: Status,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub queued_ms: u64,
    pub updated_ms: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum Body {
    Queued {
        id: String,
        target: String,
        notice: Box<Notice>,
    },
    Failed {
        id: String,
        attempt: u32,
        error: String,
    },
    Delivered {
        id: String,
        attempt: u32,
    },
    GaveUp {
        id: String,
        attempt: u32,
        error: String,
    },
}

pub(crate) fn queue(
    store: &dyn Store,
    target: &str,
    notice: &Notice,
) -> Result<Delivery, NotifyError> {
    let id = format!("{target}/{}", notice.id);
    let at = append(
        store,
        Body::Queued {
            id: id.clone(),
            target: target.to_owned(),
            notice: Box::new(notice.clone()),
        },
    )?;
    Ok(Delivery {
        id,
        target: target.to_owned(),
        notice: notice.clone(),
        status: Status::Queued,
        attempts: 0,
        last_error: None,
        queued_ms: at,
        updated_ms: at,
    })
}

pub(crate) fn failed(
    store: &dyn Store,
    id: &str,
    attempt: u32,
    error: &str,
) -> Result<(), NotifyError> {
    append(
        store,
        Body::Failed {
            id: id.to_owned(),
            attempt,
            error: error.to_owned(),
        },
    )
    .map(drop)
}

pub(crate) fn delivered(store: &dyn Store, id: &str, attempt: u32) -> Result<(), NotifyError> {
    append(
        store,
        Body::Delivered {
            id: id.to_owned(),
            attempt,
        },
    )
    .map(drop)
}

pub(crate) fn gave_up(
    store: &dyn Store,
    id: &str,
    attempt: u32,
    error: &str,
) -> Result<(), NotifyError> {
    append(
        store,
        Body::GaveUp {
            id: id.to_owned(),
            attempt,
            error: error.to_owned(),
        },
    )
    .map(drop)
}

/// Every delivery, in the order queued.
pub fn read(store: &dyn Store) -> Result<Vec<Delivery>, NotifyError> {
    let mut out: Vec<Delivery> = Vec::new();
    for record in store.read(STREAM, 0)? {
        let at = record.at_ms;
        let find = |out: &mut Vec<Delivery>, id: &str| out.iter().rposition(|d| d.id == id);
        match serde_json::from_value(record.body)? {
            Body::Queued { id, target, notice } => out.push(Delivery {
                id,
                target,
                notice: *notice,
                status: Status::Queued,
                attempts: 0,
                last_error: None,
                queued_ms: at,
                updated_ms: at,
            }),
            Body::Failed { id, attempt, error } => {
                if let Some(i) = find(&mut out, &id) {
                    out[i].attempts = attempt;
                    out[i].last_error = Some(error);
                    out[i].updated_ms = at;
                }
            }
            Body::Delivered { id, attempt } => {
                if let Some(i) = find(&mut out, &id) {
                    out[i].attempts = attempt;
                    out[i].status = Status::Delivered;
                    out[i].updated_ms = at;
                }
            }
            Body::GaveUp { id, attempt, error } => {
                if let Some(i) = find(&mut out, &id) {
                    out[i].attempts = attempt;
                    out[i].status = Status::Failed;
                    out[i].last_error = Some(error);
                    out[i].updated_ms = at;
                }
            }
        }
    }
    Ok(out)
}

/// Appends after whatever is last, whoever wrote it; returns the record's time.
fn append(store: &dyn Store, body: Body) -> Result<u64, NotifyError> {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let kind = match &body {
        Body::Queued { .. } => "queued",
        Body::Failed { .. } => "failed",
        Body::Delivered { .. } => "delivered",
        Body::GaveUp { .. } => "gave_up",
    };
    let record = Record::new(at, kind, serde_json::to_value(&body)?);
    loop {
        let last = store.last_seq(STREAM)?;
        match store.append(STREAM, last, std::slice::from_ref(&record)) {
            Ok(_) => return Ok(at),
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
