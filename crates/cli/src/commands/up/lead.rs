//! Which of several `bellwether up` sharing one PostgreSQL store leads. Each claims the
//! store's lease; the one that holds it runs the control plane, with every write fenced by the
//! lease's token, and renews it; the others stand by (answering the API with the leader's
//! address) and claim it again and again, so that one of them leads within [`TTL`] and a poll
//! of the leader's death. A leader that cannot renew in time stops leading: its successor may
//! hold the lease already, and the fence refuses its writes anyway.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bellwether_store::StoreError;
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
    /// Why it was lost, set once when it is.
    why: Arc<OnceLock<String>>,
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
                Err(why) => tracing::warn!("cannot claim the lead: {why}"),
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

async fn claim(leases: &Arc<Leases>, holder: &str, address: &str) -> Result<Claim, String> {
    let (leases, holder, address) = (Arc::clone(leases), holder.to_owned(), address.to_owned());
    within(TTL, move || leases.claim(&holder, &address, TTL)).await
}

/// Runs a call of the store off the runtime's threads, waiting for it at most `bound`: what
/// went wrong, for people, if it failed or did not answer in time.
async fn within<T: Send + 'static>(
    bound: Duration,
    call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    match tokio::time::timeout(bound, tokio::task::spawn_blocking(call)).await {
        Ok(Ok(answer)) => answer.map_err(|e| bellwether_core::error::chain(&e)),
        Ok(Err(stopped)) => Err(format!("the call stopped: {stopped}")),
        Err(_) => Err(format!("the store did not answer within {bound:?}")),
    }
}

impl Leadership {
    fn hold(leases: Arc<Leases>, token: u64) -> Self {
        let lead = Self {
            leases,
            token,
            lost: CancellationToken::new(),
            why: Arc::new(OnceLock::new()),
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
        self.why.get().cloned()
    }

    /// Stops renewing and lets the lease go, so that a standby leads at once.
    pub(crate) async fn release(self) {
        self.renewing.cancel();
        if self.lost.is_cancelled() {
            return;
        }
        let (leases, token) = (self.leases, self.token);
        if let Err(why) = within(TTL, move || leases.release(token)).await {
            tracing::warn!("cannot let the lease go ({why}): a standby leads once it expires");
        }
    }
}

/// Renews the lease every [`RENEW`] until `stop`; cancels `lost` with why when another holds
/// it, or when no renewal succeeded for long enough that it may have expired.
async fn renew(
    leases: Arc<Leases>,
    token: u64,
    lost: CancellationToken,
    why: Arc<OnceLock<String>>,
    stop: CancellationToken,
) {
    // The lease holds until TTL after the start of the last renewal that succeeded; giving up
    // a renewal early leaves a margin for the clocks of this machine and the database's.
    let mut held_from = Instant::now();
    let lose = |reason: String| {
        let _ = why.set(reason);
        lost.cancel();
    };
    loop {
        tokio::select! {
            () = tokio::time::sleep(RENEW) => {}
            () = stop.cancelled() => return,
        }
        let started = Instant::now();
        let runs_out = held_from + TTL - RENEW / 2;
        let leases = Arc::clone(&leases);
        let bound = runs_out.saturating_duration_since(started);
        match within(bound, move || leases.renew(token, TTL)).await {
            Ok(true) => held_from = started,
            Ok(false) => return lose("another control plane took over the lease".to_owned()),
            Err(why) if started + RENEW < runs_out => {
                tracing::warn!("cannot renew the lease: {why}");
            }
            Err(why) => return lose(format!("cannot renew the lease before it runs out: {why}")),
        }
    }
}
