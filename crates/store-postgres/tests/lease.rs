//! The leader's lease and the fence its writes carry, on a real PostgreSQL: one holder at a
//! time, a new token at each new holder, and no write of a deposed holder stored after its
//! successor's claim, however the two interleave.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bellwether_store::{NewRun, Record, RunHistory, Store, StoreError};
use bellwether_store_postgres::testing::Cluster;
use bellwether_store_postgres::{Claim, Leases, PgRunStore, PgStore};

const LONG: Duration = Duration::from_secs(60);

fn new_run() -> NewRun {
    NewRun {
        pipeline: "ci".to_owned(),
        actor: "alice".to_owned(),
        summary: "push".to_owned(),
        trigger: serde_json::json!({}),
        at_ms: 1,
    }
}

fn record(n: u64) -> Record {
    Record::new(n, "e", serde_json::json!(n))
}

/// Claims until the lease is `holder`'s (the last one expired), bounded in time.
fn claim_once_expired(leases: &Leases, holder: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match leases.claim(holder, "http://b", LONG).unwrap() {
            Claim::Won { token } => return token,
            Claim::Held(_) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Claim::Held(held) => panic!("still held after 20 s: {held:?}"),
        }
    }
}

#[test]
fn one_holder_at_a_time_and_a_new_token_for_each_new_holder() {
    let target = Cluster::shared().database("lease_holders");
    let leases = Leases::open(&target).unwrap();
    assert_eq!(leases.holder().unwrap(), None);
    assert_eq!(
        leases.claim("a", "http://a", LONG).unwrap(),
        Claim::Won { token: 1 }
    );
    assert_eq!(
        leases.claim("a", "http://a", LONG).unwrap(),
        Claim::Won { token: 1 },
        "claiming again keeps the token"
    );
    let Claim::Held(held) = leases.claim("b", "http://b", LONG).unwrap() else {
        panic!("b took a live lease");
    };
    assert_eq!(
        (
            held.holder.as_str(),
            held.address.as_str(),
            held.token,
            held.live
        ),
        ("a", "http://a", 1, true)
    );
    assert!(leases.renew(1, LONG).unwrap());
    leases.release(1).unwrap();
    assert!(!leases.holder().unwrap().unwrap().live);
    assert_eq!(
        leases.claim("b", "http://b", LONG).unwrap(),
        Claim::Won { token: 2 }
    );
    assert!(!leases.renew(1, LONG).unwrap(), "a's token is not renewed");
    assert!(leases.renew(2, LONG).unwrap());
}

#[test]
fn an_expired_lease_is_taken_and_the_old_holders_writes_are_refused() {
    let target = Cluster::shared().database("lease_fence");
    let leases = Leases::open(&target).unwrap();
    let Claim::Won { token: a } = leases
        .claim("a", "http://a", Duration::from_millis(1))
        .unwrap()
    else {
        panic!("a new lease is free");
    };
    let old = PgStore::open(&target).unwrap().fenced(a);
    old.append("s", 0, &[record(1)]).unwrap();
    let old_runs = PgRunStore::open(&target).unwrap().fenced(a);
    let run = old_runs.create(&new_run(), 1).unwrap();
    let b = claim_once_expired(&leases, "b");
    assert_eq!(b, a + 1);
    let refused = old.append("s", 1, &[record(2)]).unwrap_err();
    assert!(
        matches!(refused, StoreError::Fenced { ours, current } if ours == a && current == b),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        format!(
            "this control plane no longer leads: another took over the store's lease (its token is {b}, this one's {a}), so its writes are refused"
        )
    );
    let snapshot = bellwether_store::Snapshot {
        stream: "s".into(),
        seq: 1,
        body: serde_json::json!({}),
    };
    assert!(matches!(
        old.save_snapshot(&snapshot),
        Err(StoreError::Fenced { .. })
    ));
    assert!(matches!(
        old.add_revision("svc", "v1", &serde_json::json!({}), 1),
        Err(StoreError::Fenced { .. })
    ));
    assert!(matches!(
        old.forget_events("s", u64::MAX),
        Err(StoreError::Fenced { .. })
    ));
    for refused in [
        old_runs.forget_finished(u64::MAX, 10, &[]).map(drop),
        old_runs.create(&new_run(), 1).map(drop),
        old_runs.start_attempt(run, 1, "alice", "abc", 2),
        old_runs.interrupt(run, 3, "gone").map(drop),
        old_runs.claim_delivery("d", 4, 0).map(drop),
    ] {
        assert!(is_fenced(&refused.unwrap_err()));
    }
    let runs = PgRunStore::open(&target).unwrap();
    assert_eq!(
        runs.list(None, 10).unwrap().len(),
        1,
        "only the run made before"
    );
    assert_eq!(runs.run(run).unwrap().unwrap().attempt, 0);
    assert!(
        runs.claim_delivery("d", 5, 0).unwrap(),
        "the refused claim left nothing"
    );
    let new = PgStore::open(&target).unwrap().fenced(b);
    assert_eq!(new.append("s", 1, &[record(2)]).unwrap(), 2);
    new.save_snapshot(&snapshot).unwrap();
    let reader = PgStore::open(&target).unwrap();
    let bodies: Vec<_> = reader
        .read("s", 0)
        .unwrap()
        .iter()
        .map(|r| r.at_ms)
        .collect();
    assert_eq!(bodies, [1, 2], "only the holders' writes are stored");
    assert!(reader.revisions("svc").unwrap().is_empty());
}

/// Writers of the old holder race its successor's claim: whatever they had committed before
/// the claim returned stays, and nothing of theirs is stored after it.
#[test]
fn no_write_of_a_deposed_holder_lands_after_the_claim() {
    let target = Cluster::shared().database("lease_race");
    let leases = Leases::open(&target).unwrap();
    let reader = PgStore::open(&target).unwrap();
    for round in 0..5u64 {
        let Claim::Won { token } = leases
            .claim(
                &format!("old{round}"),
                "http://old",
                Duration::from_millis(1),
            )
            .unwrap()
        else {
            panic!("round {round}: the lease was not free");
        };
        let old = Arc::new(PgStore::open(&target).unwrap().fenced(token));
        let claimed = Arc::new(AtomicBool::new(false));
        let streams: Vec<String> = (0..4).map(|w| format!("r{round}w{w}")).collect();
        let writers: Vec<_> = streams
            .iter()
            .map(|stream| {
                let (old, claimed, stream) =
                    (Arc::clone(&old), Arc::clone(&claimed), stream.clone());
                std::thread::spawn(move || {
                    let deadline = Instant::now() + Duration::from_secs(30);
                    let (mut at, mut refused_after_claim) = (0, 0);
                    // Until refused three times once the claim has returned.
                    while refused_after_claim < 3 {
                        assert!(Instant::now() < deadline, "{stream}: never refused");
                        let after_claim = claimed.load(Ordering::SeqCst);
                        match old.append(&stream, at, &[record(at + 1)]) {
                            Ok(seq) => at = seq,
                            Err(e) if is_fenced(&e) => {
                                refused_after_claim += u32::from(after_claim)
                            }
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        while streams.iter().any(|s| reader.last_seq(s).unwrap() < 3) {
            assert!(Instant::now() < deadline, "the writers store nothing");
        }
        let successor = claim_once_expired(&leases, &format!("new{round}"));
        let at_claim: Vec<u64> = streams
            .iter()
            .map(|s| reader.last_seq(s).unwrap())
            .collect();
        claimed.store(true, Ordering::SeqCst);
        for writer in writers {
            writer.join().unwrap();
        }
        for (stream, before) in streams.iter().zip(at_claim) {
            assert_eq!(
                reader.last_seq(stream).unwrap(),
                before,
                "round {round}: {stream} grew after the claim"
            );
        }
        leases.release(successor).unwrap();
    }
}

/// A write refused by the fence, alone or with its group.
fn is_fenced(e: &StoreError) -> bool {
    match e {
        StoreError::Fenced { .. } => true,
        StoreError::Grouped(e) => is_fenced(e),
        _ => false,
    }
}

/// A write of the holder already past its fence when a successor claims finishes first: the
/// claim waits for it, so a write is either before the claim or refused.
#[test]
fn a_claim_waits_for_the_holders_writes_in_flight() {
    let cluster = Cluster::shared();
    let target = cluster.database("lease_in_flight");
    let leases = Leases::open(&target).unwrap();
    let Claim::Won { token } = leases
        .claim("a", "http://a", Duration::from_millis(1))
        .unwrap()
    else {
        panic!("a new lease is free");
    };
    let old = PgStore::open(&target).unwrap().fenced(token);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = format!(
        "host=127.0.0.1 port={} user={} password={} dbname=lease_in_flight",
        cluster.port(),
        bellwether_store_postgres::testing::USER,
        cluster.password()
    );
    let (raw, connection) = runtime
        .block_on(tokio_postgres::connect(&config, tokio_postgres::NoTls))
        .unwrap();
    runtime.spawn(connection);
    // Whether `n` sessions wait on a lock within 10 s.
    let waiting = |n: i64| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let row = runtime
                .block_on(raw.query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
                    &[],
                ))
                .unwrap();
            if row.get::<_, i64>(0) == n {
                return true;
            }
        }
        false
    };
    // Inserts into events wait while the table is held: the write stops past its fence.
    runtime
        .block_on(raw.batch_execute("BEGIN; LOCK TABLE events IN SHARE MODE"))
        .unwrap();
    std::thread::scope(|scope| {
        let write = scope.spawn(|| old.append("s", 0, &[record(1)]));
        let write_waits = waiting(1);
        let claim = scope.spawn(|| claim_once_expired(&leases, "b"));
        let claim_waits = waiting(2) && !claim.is_finished();
        // Let the write go before asserting, or a failure would leave it waiting forever.
        runtime.block_on(raw.batch_execute("COMMIT")).unwrap();
        assert!(write_waits, "the write never reached the held table");
        assert!(claim_waits, "the claim did not wait for the write");
        assert_eq!(write.join().unwrap().unwrap(), 1, "the write went first");
        assert_eq!(claim.join().unwrap(), token + 1);
    });
    assert!(is_fenced(&old.append("s", 1, &[record(2)]).unwrap_err()));
    assert_eq!(PgStore::open(&target).unwrap().last_seq("s").unwrap(), 1);
}
