//! Which of several `bellwether up` sharing one PostgreSQL store leads. Each claims the
//! store's lease; the one that holds it runs the control plane, with every write fenced by the
//! lease's token, and renews it; the others stand by (answering the API with the leader's
//! address) and claim it again and again, so that one of them leads within [`TTL`] and a poll
//! of the leader's death. A leader that cannot renew in time stops leading: its successor may
//! hold the lease already, and the fence refuses its writes anyway.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bellwether_store_postgres::{Claim, Leases};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How long a lease holds without renewal: how long after a leader dies a standby may claim.
const TTL: Duration = Duration::from_secs(3);

/// How often the leader renews: a renewal or two may fail before the lease runs out.
const RENEW: Duration = Duration::from_secs(1);

/// How often a standby tries to claim.
const POLL: Duration = Duration::from_millis(250);

/// This process's hold on the lease, while it leads.
pub(crate) struct Leadership {
    leases: Arc<Leases>,
    pub(crate) token: u64,
    /// Cancelled when the lease is lost.
    lost: CancellationToken,
    /// Why it was lost.
    why: Arc<Mutex<String>>,
    renewing: CancellationToken,
}

/// What a standby serves meanwhile, on the API's listener.
pub(crate) struct Standby<'a> {
    pub(crate) listener: &'a TcpListener,
    /// The host names the API answers to besides IP addresses and `localhost`.
    pub(crate) names: Vec<String>,
    pub(crate) limits: bellwether_server::Limits,
    pub(crate) tls: Option<bellwether_server::Tls>,
}

/// A name for this process as the lease's holder: the host, the process and when it asked,
/// so that a restarted process is a new holder.
pub(crate) fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{host}/{}/{}", std::process::id(), now.as_nanos())
}

/// Waits until this process holds the lease, standing by meanwhile; `None` if `shutdown`
/// came first. `address` is where this process serves the API, for the standbys to say.
pub(crate) async fn lead(
    leases: Arc<Leases>,
    holder: String,
    address: String,
    standby: Standby<'_>,
    shutdown: &CancellationToken,
) -> Option<Leadership> {
    let (leader, said) = watch::channel(String::new());
    let stop_standing_by = CancellationToken::new();
    let serving = bellwether_server::serve_standby(
        standby.listener,
        said,
        standby.names,
        standby.limits,
        standby.tls,
        stop_standing_by.clone(),
    );
    let claiming = async {
        let mut announced = String::new();
        loop {
            match claim(&leases, &holder, &address).await {
                Ok(Claim::Won { token }) => return token,
                Ok(Claim::Held(held)) => {
                    if held.holder != announced {
                        tracing::info!(
                            "standing by: {} leads, its API at {}",
                            held.holder,
                            held.address
                        );
                        crate::output::say(&format!(
                            "control plane API listening on {address} as a standby: the control plane at {} leads\n",
                            held.address
                        ));
                        announced = held.holder;
                    }
                    leader.send_replace(held.address);
                }
                Err(e) => tracing::warn!("cannot claim the lead: {e:#}"),
            }
            tokio::time::sleep(POLL).await;
        }
    };
    tokio::pin!(serving);
    let won = tokio::select! {
        token = claiming => Some(token),
        () = shutdown.cancelled() => None,
        () = &mut serving => None,
    };
    stop_standing_by.cancel();
    serving.await;
    let token = won?;
    tracing::info!("leading, with lease token {token}");
    Some(Leadership::hold(leases, token))
}

async fn claim(leases: &Arc<Leases>, holder: &str, address: &str) -> anyhow::Result<Claim> {
    let (leases, holder, address) = (Arc::clone(leases), holder.to_owned(), address.to_owned());
    let claimed = tokio::time::timeout(
        TTL,
        tokio::task::spawn_blocking(move || leases.claim(&holder, &address, TTL)),
    )
    .await
    .context("the store did not answer")?
    .context("the claim stopped")?;
    Ok(claimed?)
}

impl Leadership {
    fn hold(leases: Arc<Leases>, token: u64) -> Self {
        let lead = Self {
            leases,
            token,
            lost: CancellationToken::new(),
            why: Arc::new(Mutex::new(String::new())),
            renewing: CancellationToken::new(),
        };
        tokio::spawn(renew(
            Arc::clone(&lead.leases),
            token,
            lead.lost.clone(),
            Arc::clone(&lead.why),
            lead.renewing.clone(),
        ));
        lead
    }

    /// Cancelled when the lease is lost.
    pub(crate) fn lost_token(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// Why the lease was lost, once it was.
    pub(crate) fn why_lost(&self) -> Option<String> {
        self.lost
            .is_cancelled()
            .then(|| self.why.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Stops renewing and lets the lease go, so that a standby leads at once.
    pub(crate) async fn release(self) {
        self.renewing.cancel();
        if self.lost.is_cancelled() {
            return;
        }
        let (leases, token) = (self.leases, self.token);
        let released = tokio::time::timeout(
            TTL,
            tokio::task::spawn_blocking(move || leases.release(token)),
        )
        .await;
        if !matches!(released, Ok(Ok(Ok(())))) {
            tracing::warn!("cannot let the lease go: a standby leads once it expires");
        }
    }
}

/// Renews the lease every [`RENEW`] until `stop`; cancels `lost` with why when another holds
/// it, or when no renewal succeeded for long enough that it may have expired.
async fn renew(
    leases: Arc<Leases>,
    token: u64,
    lost: CancellationToken,
    why: Arc<Mutex<String>>,
    stop: CancellationToken,
) {
    // The lease holds until TTL after the start of the last renewal that succeeded; giving up
    // a renewal early leaves a margin for the clocks of this machine and the database's.
    let mut held_from = Instant::now();
    let lose = |reason: String| {
        *why.lock().unwrap_or_else(|p| p.into_inner()) = reason;
        lost.cancel();
    };
    loop {
        tokio::select! {
            () = tokio::time::sleep(RENEW) => {}
            () = stop.cancelled() => return,
        }
        let started = Instant::now();
        let remaining = (held_from + TTL - RENEW / 2).saturating_duration_since(started);
        let leases = Arc::clone(&leases);
        let renewed = tokio::time::timeout(
            remaining,
            tokio::task::spawn_blocking(move || leases.renew(token, TTL)),
        )
        .await;
        match renewed {
            Ok(Ok(Ok(true))) => held_from = started,
            Ok(Ok(Ok(false))) => {
                return lose("another control plane took over the lease".to_owned());
            }
            Ok(Ok(Err(e))) if started + RENEW < held_from + TTL - RENEW / 2 => {
                tracing::warn!(
                    "cannot renew the lease: {}",
                    bellwether_core::error::chain(&e)
                );
            }
            Ok(Ok(Err(e))) => {
                return lose(format!(
                    "cannot renew the lease before it runs out: {}",
                    bellwether_core::error::chain(&e)
                ));
            }
            Ok(Err(_)) | Err(_) => {
                return lose("the store did not answer before the lease ran out".to_owned());
            }
        }
    }
}
