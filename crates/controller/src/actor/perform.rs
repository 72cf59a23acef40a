//! Performing a rollout's actions: routing tables first (so no replica is stopped while it
//! still takes requests), then replicas, analysis runs and the revision history.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bellwether_analysis::engine::{Report, RunRequest};
use bellwether_core::error::chain;
use bellwether_core::rollout::{Action, Event, EventKind, RevisionNumber, RunId, Verdict};
use bellwether_core::spec::{AnalysisRef, Strategy};
use bellwether_router::{Router, TableSpec};
use tokio::sync::mpsc;

use super::Actor;
use crate::analyses::{self, StoredRun};
use crate::listener::empty_table;
use crate::replicas;
use crate::seams::Listen;
use crate::shared::{LiveRun, lock};
use crate::traffic::Routing;

impl Actor {
    /// Performs `actions` once the cluster routes as the rollout now stands; until then they
    /// wait, with those of earlier calls, and [`Actor::retry`] tries again. Whether they were
    /// performed.
    pub(super) async fn perform(&mut self, actions: Vec<Action>) -> bool {
        self.route();
        let routed = self.route_cluster().await;
        self.publish();
        if !routed {
            self.held.extend(actions);
            return false;
        }
        let actions = if self.held.is_empty() {
            actions
        } else {
            let mut held = std::mem::take(&mut self.held);
            held.extend(actions);
            held
        };
        // An analysis that starts or stops may start or stop synthetic traffic.
        let runs_change = actions.iter().any(|a| {
            matches!(
                a,
                Action::StartAnalysis { .. } | Action::StopAnalysis { .. }
            )
        });
        for action in actions {
            match action {
                Action::Scale { revision, replicas } => self.scale(revision, replicas),
                Action::StartAnalysis {
                    run,
                    analysis,
                    revision,
                    baseline,
                } => self.start_analysis(run, &analysis, revision, baseline),
                Action::StopAnalysis { run } => self.stop_analysis(run).await,
                Action::ConcludeAnalysis { run } => self.conclude_analysis(run),
                Action::MarkStable { .. } => self.prune_revisions().await,
                // The routing table was applied above, from the rollout as it now stands;
                // notes travel with the event.
                Action::SetTraffic(_) | Action::Record(_) => {}
            }
        }
        if runs_change {
            self.route();
        }
        true
    }

    /// Brings the routers in line with the rollout's traffic and the replicas ready now.
    /// Replicas beyond a revision's desired count are left out even while they still run,
    /// so a scale-down never stops a replica that takes new requests.
    pub(super) fn route(&mut self) {
        let rollout = &self.log.rollout;
        let addrs: BTreeMap<RevisionNumber, Vec<SocketAddr>> = rollout
            .scales
            .iter()
            .map(|(&revision, &desired)| {
                let state = self.replicas.get(&revision);
                (revision, replicas::routable(state, desired))
            })
            .collect();
        let mut main = TableSpec::from_traffic(&self.service, &rollout.traffic, &addrs);
        let canary = match &self.spec.strategy {
            Strategy::Canary(canary) => canary.traffic_generator.as_deref().cloned(),
            _ => None,
        };
        let (listen, analysed) = {
            let shared = lock(&self.shared);
            let analysed = shared
                .runs
                .iter()
                .find_map(|r| Some((r.revision, r.traffic.clone()?)));
            (shared.listen, analysed)
        };
        // Synthetic traffic goes to the revision of a running analysis that asks for it, else
        // to a canary in progress, once it has a replica to take it: one generator at a time.
        let wanted = analysed
            .or_else(|| {
                let target = rollout.target.as_ref().filter(|_| rollout.in_progress())?;
                Some((target.number, canary?))
            })
            .filter(|(n, _)| addrs.get(n).is_some_and(|a| !a.is_empty()));
        self.synthetic.apply(
            wanted.as_ref().map(|(n, g)| (*n, g)),
            listen,
            &mut main,
            &addrs,
        );
        self.apply_table(Listen::Main, &self.routers.main, main);
        if let Some(preview) = &self.routers.preview {
            // Until the preview has a ready replica its listener routes nothing, so the
            // router's own 503s are not counted against the revision being judged.
            let ready = |r: &RevisionNumber| addrs.get(r).is_some_and(|a| !a.is_empty());
            let traffic = &rollout.traffic;
            let table = traffic
                .preview
                .filter(ready)
                .and_then(|_| TableSpec::preview_of(&self.service, traffic, &addrs))
                .unwrap_or_else(|| empty_table(&self.service));
            self.apply_table(Listen::Preview, preview, table);
        }
        // Signals of revisions nothing routes to or measures any more are dropped, so memory
        // stays flat over any number of deploys.
        let mut in_use = rollout.revisions_in_use();
        in_use.extend(
            lock(&self.shared)
                .runs
                .iter()
                .flat_map(|r| std::iter::once(r.revision).chain(r.baseline)),
        );
        self.context
            .signals
            .retain(&self.service, |n| in_use.contains(&n));
    }

    /// Writes the rollout's traffic as the cluster's objects when the cluster routes the
    /// service; whether the cluster routes as the rollout stands. A write that fails is
    /// logged and tried again by [`Actor::retry`], a little later each time in a row, while
    /// the actor goes on answering requests: the actions after it (a scale-down) wait, so no
    /// revision is scaled down before the traffic has left it.
    pub(super) async fn route_cluster(&mut self) -> bool {
        if self.spec.traffic.is_embedded() {
            return true;
        }
        let Some(router) = self.context.traffic.clone() else {
            return true;
        };
        let rollout = &self.log.rollout;
        let routing = Routing {
            service: self.service.clone(),
            routing: self.spec.traffic.clone(),
            stable: rollout.stable.as_ref().map(|r| r.number),
            traffic: rollout.traffic.clone(),
        };
        if self.cluster_routed.as_ref() == Some(&routing) {
            return true;
        }
        let written = router.route(&self.spec, &routing).await;
        let failure = written.as_ref().err().map(|error| {
            format!(
                "cannot route the traffic with {}: {}",
                routing.routing.describe(),
                chain(error.as_ref())
            )
        });
        if let Some(failure) = &failure {
            let wait = self.back_off();
            tracing::error!(service = %self.service, "{failure} (trying again in {wait:?})");
        } else {
            self.cluster_routed = Some(routing);
        }
        let routed = failure.is_none();
        self.routing_pending = failure;
        routed
    }

    fn apply_table(&self, listen: Listen, router: &Router, table: TableSpec) {
        if router.spec() == table {
            return;
        }
        let observed = self.context.tables.as_ref().map(|o| (o, table.clone()));
        match router.apply(table) {
            Ok(()) => {
                if let Some((observer, table)) = observed {
                    observer.applied(listen, &table);
                }
            }
            Err(e) => {
                tracing::error!(service = %self.service, "the router refused the routing table: {}", chain(&e));
            }
        }
    }

    pub(super) fn scale(&self, revision: RevisionNumber, replicas: u32) {
        let template = {
            let shared = lock(&self.shared);
            let stored = shared.revisions.iter().find(|r| r.number == revision);
            match stored.map(|s| s.replica(&self.spec)) {
                Some(Ok(template)) => template,
                Some(Err(e)) => {
                    tracing::error!(service = %self.service, "cannot run revision {revision}: {e}");
                    return;
                }
                None => {
                    tracing::error!(service = %self.service, "revision {revision} is not in the store; it cannot run");
                    return;
                }
            }
        };
        self.context.platform.scale(&template, replicas);
    }

    fn start_analysis(
        &mut self,
        run: RunId,
        analysis: &AnalysisRef,
        revision: RevisionNumber,
        baseline: Option<RevisionNumber>,
    ) {
        let at = self.context.clock.now();
        // Analysis may start before a table routes to the revisions it measures.
        for measured in std::iter::once(revision).chain(baseline) {
            self.context.signals.expect(&self.service, measured);
        }
        match RunRequest::resolve(&self.spec, run, analysis, revision, baseline, at) {
            Ok(request) => {
                let reports = self.reports_tx.get_or_insert_with(|| {
                    let (tx, rx) = mpsc::unbounded_channel();
                    self.reports = Some(rx);
                    tx
                });
                let handle = self.context.engine.start(request, reports.clone());
                let mut shared = lock(&self.shared);
                // A run of the same id is one a previous start left behind: dropping stops it.
                drop(shared.take_run(run));
                shared.runs.push(LiveRun {
                    run,
                    revision,
                    baseline,
                    handle,
                    traffic: analysis.traffic_generator.as_deref().cloned(),
                });
            }
            Err(e) => {
                // The rollout waits for a verdict it would never get: give it one that says why.
                let kind = EventKind::AnalysisCompleted {
                    run,
                    verdict: Verdict::Error,
                    message: format!("cannot run the analysis: {}", chain(&e)),
                };
                self.pending.push_back(Event::new(at, kind));
            }
        }
    }

    /// Asks a running analysis for its verdict on the evidence so far; its report follows.
    fn conclude_analysis(&mut self, run: RunId) {
        let found = lock(&self.shared)
            .runs
            .iter()
            .find(|r| r.run == run)
            .map(|live| live.handle.conclude())
            .is_some();
        if !found {
            // The rollout waits for a verdict that no run will give: give it one that says why.
            let kind = EventKind::AnalysisCompleted {
                run,
                verdict: Verdict::Inconclusive,
                message: format!("{run} was not running when its verdict was asked for"),
            };
            self.pending
                .push_back(Event::new(self.context.clock.now(), kind));
        }
    }

    async fn stop_analysis(&mut self, run: RunId) {
        let Some(live) = lock(&self.shared).take_run(run) else {
            return;
        };
        let snapshot = live.handle.stop().await;
        let message = format!(
            "stopped before a verdict, as the rollout moved on; last: {}",
            analyses::progress(&snapshot)
        );
        let view = analyses::view(run, live.revision, live.baseline, None, message, &snapshot);
        self.keep_finished(StoredRun { run, view }).await;
    }

    /// An analysis report: a verdict is kept with its measurements, then given to the rollout.
    pub(super) async fn on_report(&mut self, report: Report) {
        let metrics = &self.context.metrics;
        let (run, verdict, message) = match report {
            Report::Completed {
                run,
                verdict,
                message,
                ..
            } => {
                metrics.concluded(&self.service, verdict);
                (run, verdict, message)
            }
            // Only counted: a view reads the measurements from the run itself.
            Report::Measured { measurement, .. } => {
                let (metric, verdict) = (&measurement.metric, measurement.verdict);
                self.measured.count(metrics, &self.service, metric, verdict);
                return;
            }
            Report::Judged { .. } => return,
        };
        let live = lock(&self.shared).take_run(run);
        if let Some(live) = live {
            let snapshot = live.handle.snapshot();
            let view = analyses::view(
                run,
                live.revision,
                live.baseline,
                Some(verdict),
                message.clone(),
                &snapshot,
            );
            self.keep_finished(StoredRun { run, view }).await;
        }
        let kind = EventKind::AnalysisCompleted {
            run,
            verdict,
            message,
        };
        if self.awaits(&kind) {
            self.insist(kind).await;
        }
    }

    /// Stores a finished run (before the verdict is given to the rollout, so that the
    /// measurements behind an abort are never lost) and shows it.
    async fn keep_finished(&mut self, run: StoredRun) {
        let store = Arc::clone(&self.context.store);
        let service = self.service.clone();
        let saved = run.clone();
        let at = self.context.clock.now().as_millis();
        let metrics = self.context.metrics.clone();
        let save = move || {
            let started = std::time::Instant::now();
            analyses::save(store.as_ref(), &service, at, &saved)
                .inspect(|()| metrics.committed(started.elapsed()))
        };
        if let Err(e) = self.context.blocking(save).await {
            tracing::error!(service = %self.service, "cannot store the analysis run {}: {}", run.run, chain(&e));
        }
        let attempt = self.log.rollout.attempt;
        let mut shared = lock(&self.shared);
        shared
            .finished
            .retain(|f| f.run.attempt == attempt && f.run != run.run);
        if run.run.attempt == attempt {
            shared.finished.push(run);
        }
    }

    /// Forgets revisions beyond the history limit, keeping every revision the rollout uses.
    async fn prune_revisions(&mut self) {
        let rollout = &self.log.rollout;
        let mut pinned: Vec<RevisionNumber> = rollout.scales.keys().copied().collect();
        pinned.extend(
            [&rollout.stable, &rollout.target, &rollout.previous]
                .into_iter()
                .flatten()
                .map(|r| r.number),
        );
        // The limit counts old revisions; the newest is the one just made stable.
        let keep = self.spec.revision_history_limit.saturating_add(1);
        let store = Arc::clone(&self.context.store);
        let service = self.service.clone();
        let pruned = self
            .context
            .blocking(move || {
                store.prune_revisions(&service, keep, &pinned)?;
                store.revisions(&service)
            })
            .await;
        match pruned {
            Ok(revisions) => {
                lock(&self.shared).revisions = revisions.into_iter().map(Into::into).collect();
            }
            Err(e) => {
                tracing::error!(service = %self.service, "cannot prune revisions: {}", chain(&e));
            }
        }
    }
}
