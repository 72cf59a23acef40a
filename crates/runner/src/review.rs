//! Answering a run's environment gates, whoever answers: the control plane for a token's
//! identity, `bellwether approve` for the OS user when no control plane is involved. The rules
//! are the environment's: only its `reviewers` may review when it names any, an approval
//! counts once per identity (the store refuses a second), and the one who triggered the run
//! may not approve it unless the environment allows self-approval.

use bellwether_core::spec::EnvironmentSpec;
use bellwether_pipeline_core::gate;
use bellwether_store::{ReviewError, ReviewRow, RunHistory, RunRow, StoreError};

/// One answer to a run's gates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewOrder {
    pub run: u64,
    /// The environment answered; `None` answers every environment the run waits for.
    pub environment: Option<String>,
    pub by: String,
    /// The groups `by` is in, which `reviewers:` may name.
    pub groups: Vec<String>,
    pub approved: bool,
    pub comment: Option<String>,
    pub at_ms: u64,
}

/// What became of the answer for one environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reviewed {
    pub environment: String,
    /// `Err` with the reason when the answer was not recorded.
    pub outcome: Result<(), String>,
}

/// Why nothing could be answered at all.
#[derive(Debug, thiserror::Error)]
pub enum ReviewRefused {
    #[error("no run {0}")]
    NoRun(u64),
    #[error("run {run} ({status}) is not waiting for {what}")]
    NotWaiting {
        run: u64,
        status: String,
        what: String,
    },
    #[error("the run history cannot be read")]
    Store(#[from] StoreError),
    #[error("the review stopped before it was recorded")]
    Interrupted,
}

/// Records `order` for each environment it answers; `spec_of` gives an environment's rules
/// as the run's project declares them.
pub fn review(
    store: &dyn RunHistory,
    order: &ReviewOrder,
    spec_of: impl Fn(&RunRow, &str) -> Option<EnvironmentSpec>,
) -> Result<Vec<Reviewed>, ReviewRefused> {
    let number = order.run;
    let run = store.run(number)?.ok_or(ReviewRefused::NoRun(number))?;
    let mut waiting: Vec<String> = store
        .gates(number, run.attempt)?
        .into_iter()
        .filter(|g| g.state == "waiting")
        .map(|g| g.environment)
        .collect();
    waiting.sort();
    waiting.dedup();
    let not_waiting = |what: String| ReviewRefused::NotWaiting {
        run: number,
        status: run.status.to_string(),
        what,
    };
    let chosen = match &order.environment {
        Some(env) if waiting.contains(env) => vec![env.clone()],
        Some(env) => {
            let waits = if waiting.is_empty() {
                "none".to_owned()
            } else {
                waiting.join(", ")
            };
            return Err(not_waiting(format!(
                "environment `{env}` (it waits for: {waits})"
            )));
        }
        None if waiting.is_empty() => return Err(not_waiting("any environment".to_owned())),
        None => waiting,
    };
    let by = &order.by;
    let mut answers = Vec::new();
    for environment in chosen {
        let spec = spec_of(&run, &environment);
        let refusal = spec.as_ref().and_then(|spec| {
            if !gate::may_review(spec, by, &order.groups) {
                Some(format!(
                    "environment `{environment}` is reviewed by {} only, not {by}",
                    spec.reviewers.join(", ")
                ))
            } else if order.approved && !gate::counts(spec, &run.actor, by) {
                Some(format!(
                    "{by} triggered run {number}, and environment `{environment}` needs approval from someone else (it does not allow self-approval)"
                ))
            } else {
                None
            }
        });
        let outcome = match refusal {
            Some(reason) => Err(reason),
            None => {
                let row = ReviewRow {
                    run: number,
                    environment: environment.clone(),
                    by: by.clone(),
                    approved: order.approved,
                    comment: order.comment.clone().filter(|c| !c.trim().is_empty()),
                    at_ms: order.at_ms,
                };
                match store.review(&row) {
                    Ok(()) => Ok(()),
                    Err(e @ (ReviewError::Twice { .. } | ReviewError::NotWaiting(_))) => {
                        Err(e.to_string())
                    }
                    Err(ReviewError::NoRun(n)) => return Err(ReviewRefused::NoRun(n)),
                    Err(ReviewError::Store(e)) => return Err(e.into()),
                }
            }
        };
        answers.push(Reviewed {
            environment,
            outcome,
        });
    }
    Ok(answers)
}
