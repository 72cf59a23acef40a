//! Who leads: one row of table `leases` names the control plane that may write, the token its
//! writes carry, and until when it holds, by the database's clock (so the machines' clocks
//! never matter). A new holder takes the lease only once it has expired, and bumps the token.
//!
//! Fencing: a [`PgStore`](crate::PgStore) made [`fenced`](crate::PgStore::fenced) with a token
//! starts every write transaction by reading the lease row `FOR KEY SHARE` and refuses to
//! write (`StoreError::Fenced`) unless the token is still its own. A claim takes the row
//! `FOR UPDATE`, which waits for those writes to commit and holds back the ones that start
//! meanwhile; once the claim commits they read the new token. So no write of a deposed leader
//! commits after its successor's claim, however late it arrives; a transaction left waiting on
//! its client (a leader cut off from the database) is ended by the server after a bound
//! instead of holding every claim back. Renewing takes a weaker lock
//! (`FOR NO KEY UPDATE`, by the `UPDATE` itself) that never waits on the leader's own writes.

use std::time::Duration;

use bellwether_store::StoreError;
use tokio_postgres::GenericClient;

use crate::Target;
use crate::db::{Db, backend, int, nat};

/// The lease of the one control plane of a database.
const LEADER: &str = "leader";

/// Claims, renewals and the current holder of the lease, on connections of their own, so that
/// a busy store never delays a renewal.
pub struct Leases {
    db: Db,
}

/// A lease someone else holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Who holds it, as they named themselves.
    pub holder: String,
    /// Where the holder serves the API, as it said when it claimed.
    pub address: String,
    pub token: u64,
    /// Whether it still holds by the database's clock.
    pub live: bool,
}

/// What a claim got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The lease is the claimant's, with this token for its writes.
    Won { token: u64 },
    /// Someone else holds it and it has not expired.
    Held(Holder),
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Leases({})", self.db.at)
    }
}

impl Leases {
    /// Connects to `target`, bringing its schema up to date.
    pub fn open(target: &Target) -> Result<Self, StoreError> {
        let db = Db::open(target)?;
        let at = db.at.clone();
        db.call(move |client| crate::schema::migrate(client, at))?;
        Ok(Self { db })
    }

    /// Takes the lease for `ttl` if nobody holds it, it has expired, or `holder` holds it
    /// already (then its token stays); `address` is where `holder` serves the API.
    pub fn claim(&self, holder: &str, address: &str, ttl: Duration) -> Result<Claim, StoreError> {
        let (holder, address) = (holder.to_owned(), address.to_owned());
        let ttl = millis(ttl);
        // A live lease of another is answered without a lock: standbys ask often, and taking
        // the row `FOR UPDATE` would hold the leader's writes up each time.
        if let Some(current) = self.holder()?
            && current.live
            && current.holder != holder
        {
            return Ok(Claim::Held(current));
        }
        self.db.call(move |mut client| async move {
            let tx = client.transaction().await.map_err(backend)?;
            let current = current(&*tx, "FOR UPDATE").await?;
            let token = match current {
                Some(current) if current.live && current.holder != holder => {
                    return Ok(Claim::Held(current));
                }
                Some(current) if current.holder == holder => current.token,
                Some(current) => current.token + 1,
                None => 1,
            };
            tx.execute(
                "INSERT INTO leases (name, holder, token, expires_at, address)
                 VALUES ($1, $2, $3, clock_timestamp() + $4 * interval '1 millisecond', $5)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                     token = excluded.token, expires_at = excluded.expires_at,
                     address = excluded.address",
                &[&LEADER, &holder, &int("a token", token)?, &ttl, &address],
            )
            .await
            .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            Ok(Claim::Won { token })
        })
    }

    /// Holds the lease of `token` for `ttl` more; false if it is someone else's now.
    pub fn renew(&self, token: u64, ttl: Duration) -> Result<bool, StoreError> {
        let ttl = millis(ttl);
        let token = int("a token", token)?;
        self.db.call(move |client| async move {
            let renewed = client
                .execute(
                    "UPDATE leases SET expires_at = clock_timestamp() + $3 * interval '1 millisecond'
                     WHERE name = $1 AND token = $2",
                    &[&LEADER, &token, &ttl],
                )
                .await
                .map_err(backend)?;
            Ok(renewed == 1)
        })
    }

    /// Lets the lease of `token` go now, so that a standby takes over without waiting for it
    /// to expire.
    pub fn release(&self, token: u64) -> Result<(), StoreError> {
        let token = int("a token", token)?;
        self.db.call(move |client| async move {
            client
                .execute(
                    "UPDATE leases SET expires_at = clock_timestamp() WHERE name = $1 AND token = $2",
                    &[&LEADER, &token],
                )
                .await
                .map_err(backend)?;
            Ok(())
        })
    }

    /// Who holds, or last held, the lease.
    pub fn holder(&self) -> Result<Option<Holder>, StoreError> {
        self.db
            .call(move |client| async move { current(&**client, "").await })
    }
}

/// The lease's row, read with the row lock `lock` (`FOR UPDATE`, or none).
async fn current(client: &impl GenericClient, lock: &str) -> Result<Option<Holder>, StoreError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT holder, address, token, expires_at > clock_timestamp()
                 FROM leases WHERE name = $1 {lock}"
            ),
            &[&LEADER],
        )
        .await
        .map_err(backend)?;
    Ok(row.map(|row| Holder {
        holder: row.get(0),
        address: row.get(1),
        token: nat(row.get(2)),
        live: row.get(3),
    }))
}

/// A lease's length in milliseconds, as the queries multiply an interval by it.
fn millis(ttl: Duration) -> f64 {
    ttl.as_secs_f64() * 1000.0
}

/// How long a fenced transaction may wait on its client before the server ends its session.
/// It holds the lease row, so a leader cut off mid-transaction (a partition) would otherwise
/// keep every claim waiting until the server noticed the connection was dead: the claim waits
/// this long at most.
const STUCK_MS: &str = "2000";

/// Refuses the transaction's writes unless the lease's token is still `ours`; holds the lease
/// row (`FOR KEY SHARE`) until the transaction ends, so that no claim commits meanwhile, and
/// has the server end the session if the transaction is left idle [`STUCK_MS`].
/// Without a fence (`None`) every write goes.
pub(crate) async fn check(
    client: &impl GenericClient,
    fence: Option<u64>,
) -> Result<(), StoreError> {
    let Some(ours) = fence else {
        return Ok(());
    };
    let row = client
        .query_opt(
            "SELECT token, set_config('idle_in_transaction_session_timeout', $2, true)
             FROM leases WHERE name = $1 FOR KEY SHARE",
            &[&LEADER, &STUCK_MS],
        )
        .await
        .map_err(backend)?;
    // Tokens start at 1: 0 is "no lease at all".
    let current = row.map_or(0, |row| nat(row.get(0)));
    match current == ours {
        true => Ok(()),
        false => Err(StoreError::Fenced { ours, current }),
    }
}
