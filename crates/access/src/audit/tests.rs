use std::sync::Arc;

use bellwether_core::access::Role;
use bellwether_core::access::audit::{Outcome, verify};
use bellwether_store::SqliteStore;

use super::*;

fn entry(i: u64) -> Entry {
    Entry {
        at_ms: 1_000 + i,
        actor: format!("user{i}"),
        role: Some(Role::Deployer),
        action: "deploy".into(),
        target: Some("shop".into()),
        environment: None,
        outcome: Outcome::Done,
        status: Some(200),
        reason: None,
        source: Some("127.0.0.1:5000".into()),
    }
}

fn trail(n: u64) -> (AuditLog, Vec<Sealed>) {
    let log = AuditLog::open(Arc::new(SqliteStore::in_memory().unwrap())).unwrap();
    for i in 1..=n {
        log.append(entry(i)).unwrap();
    }
    let all = log.read(0).unwrap();
    (log, all)
}

#[test]
fn a_written_trail_verifies_and_reports_its_head() {
    let (log, all) = trail(5);
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].prev, GENESIS);
    assert_eq!(verify(&all), Ok((5, all[4].hash.clone())));
    assert_eq!(verify(&[]), Ok((0, GENESIS.to_owned())));
    // A log opened later continues the chain.
    let next = log.append(entry(6)).unwrap();
    assert_eq!(next.prev, all[4].hash);
}

#[test]
fn an_edit_a_deletion_or_a_move_is_found_at_the_first_bad_entry() {
    let (_, all) = trail(5);
    let mut edited = all.clone();
    edited[2].entry.actor = "someone else".into();
    assert_eq!(verify(&edited).unwrap_err().seq, 3);

    let mut deleted = all.clone();
    deleted.remove(1);
    assert_eq!(verify(&deleted).unwrap_err().seq, 3);

    let mut moved = all.clone();
    moved.swap(1, 3);
    assert_eq!(verify(&moved).unwrap_err().seq, 4);

    // Resealing an edited entry breaks the next one, which still names the old hash.
    let mut resealed = all.clone();
    resealed[2].entry.reason = Some("nothing happened".into());
    resealed[2].hash = seal(3, &resealed[2].prev, &resealed[2].entry).unwrap();
    assert_eq!(verify(&resealed).unwrap_err().seq, 4);
}

#[test]
fn any_single_byte_edit_of_a_stored_entry_is_found() {
    let (_, all) = trail(3);
    let body = serde_json::to_string(&Body {
        entry: all[1].entry.clone(),
        prev: all[1].prev.clone(),
        hash: all[1].hash.clone(),
    })
    .unwrap();
    let mut readable = 0;
    for i in 0..body.len() {
        for replacement in [b'0', b'x'] {
            let mut bytes = body.clone().into_bytes();
            if bytes[i] == replacement {
                continue;
            }
            bytes[i] = replacement;
            // An edit that leaves unreadable JSON fails reading; one that reads must not verify.
            let Ok(read) = serde_json::from_slice::<Body>(&bytes) else {
                continue;
            };
            if (&read.entry, &read.prev, &read.hash) == (&all[1].entry, &all[1].prev, &all[1].hash)
            {
                continue; // The byte was insignificant to JSON (an escape spelled another way).
            }
            readable += 1;
            let mut edited = all.clone();
            edited[1] = Sealed {
                seq: 2,
                entry: read.entry,
                prev: read.prev,
                hash: read.hash,
            };
            assert!(verify(&edited).is_err(), "byte {i} set to {replacement}");
        }
    }
    assert!(readable > 100, "{readable} readable edits tried");
}
