//! Webhook deliveries: each id claimed once, across handles and restarts, for the retention
//! window; a released id may be claimed again.

use super::Fixture;
use super::support::race;

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

pub fn a_delivery_is_claimed_once(f: &Fixture) {
    let runs = f.runs();
    assert!(runs.claim_delivery("d1", 1_000, 0).expect("claimed"));
    assert!(!runs.claim_delivery("d1", 2_000, 0).expect("answered"));
    assert!(runs.claim_delivery("d2", 2_000, 0).expect("claimed"));
    // Another handle, as another process or the next start has.
    drop(runs);
    assert!(!f.runs().claim_delivery("d1", 3_000, 0).expect("answered"));
}

pub fn concurrent_claims_of_one_delivery_admit_one(f: &Fixture) {
    const CLAIMERS: usize = 6;
    let handles: Vec<_> = (0..CLAIMERS).map(|_| f.runs()).collect();
    let claimed = race(CLAIMERS, |i| {
        handles[i]
            .claim_delivery("same", 1_000, 0)
            .expect("answered")
    });
    assert_eq!(claimed.iter().filter(|c| **c).count(), 1, "{claimed:?}");
}

pub fn deliveries_older_than_the_window_are_forgotten(f: &Fixture) {
    let runs = f.runs();
    assert!(runs.claim_delivery("old", DAY_MS, 0).expect("claimed"));
    assert!(
        runs.claim_delivery("new", 8 * DAY_MS, DAY_MS)
            .expect("claimed")
    );
    // `old` was received at the window's start: still remembered.
    assert!(
        !runs
            .claim_delivery("old", 8 * DAY_MS, DAY_MS)
            .expect("answered")
    );
    assert!(
        runs.claim_delivery("other", 9 * DAY_MS, 2 * DAY_MS)
            .expect("claimed")
    );
    assert!(
        runs.claim_delivery("old", 9 * DAY_MS, 2 * DAY_MS)
            .expect("claimed again once forgotten")
    );
    assert!(
        !runs
            .claim_delivery("new", 9 * DAY_MS, 2 * DAY_MS)
            .expect("answered")
    );
}

pub fn a_released_delivery_is_claimed_again(f: &Fixture) {
    let runs = f.runs();
    assert!(runs.claim_delivery("d", 1_000, 0).expect("claimed"));
    runs.release_delivery("d").expect("released");
    runs.release_delivery("never claimed").expect("released");
    assert!(runs.claim_delivery("d", 2_000, 0).expect("claimed again"));
    assert!(!runs.claim_delivery("d", 3_000, 0).expect("answered"));
}
