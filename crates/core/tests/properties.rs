//! Invariants of the rollout state machine over random event sequences.
//!
//! Whatever happens (random readiness reports, verdicts, operator commands, new revisions and
//! time), these must hold after every event:
//! - traffic weights sum to exactly 100% whenever any revision receives traffic;
//! - after an analysis fails, the new revision receives no weighted traffic;
//! - during a canary, the stable revision is never asked to shrink below its full size;
//! - canary steps are entered in order, each exactly once per attempt: none skipped or repeated.

mod support;

use std::time::Duration;

use bellwether_core::rollout::{
    Action, Command, Event, EventKind, Note, Revision, Rollout, RolloutSpec, Verdict,
};
use bellwether_core::spec::{
    AnalysisRef, BackgroundAnalysis, CanaryScale, CanarySpec, CanaryStep, Scale, Strategy as Plan,
    Weight,
};
use bellwether_core::time::Timestamp;
use proptest::prelude::*;
use support::*;

#[derive(Clone, Debug)]
enum Input {
    Wait(u64),
    Ready { target: bool, ready: u32 },
    Verdict { pick: usize, verdict: Verdict },
    Command(Command),
    NewRevision,
}

fn verdict() -> impl Strategy<Value = Verdict> {
    prop_oneof![
        3 => Just(Verdict::Successful),
        1 => Just(Verdict::Failed),
        1 => Just(Verdict::Inconclusive),
        1 => Just(Verdict::Error),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        Just(Command::Promote { full: false }),
        Just(Command::Promote { full: true }),
        Just(Command::Abort { reason: None }),
        Just(Command::Retry),
        Just(Command::Pause),
        Just(Command::Resume),
        (1u64..4).prop_map(|n| Command::Undo {
            to: Revision {
                number: n,
                version: format!("v{n}")
            }
        }),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        4 => (0u64..400_000).prop_map(Input::Wait),
        4 => (any::<bool>(), 0u32..6).prop_map(|(target, ready)| Input::Ready { target, ready }),
        3 => (0usize..4, verdict()).prop_map(|(pick, verdict)| Input::Verdict { pick, verdict }),
        2 => command().prop_map(Input::Command),
        1 => Just(Input::NewRevision),
    ]
}

fn step() -> impl Strategy<Value = CanaryStep> {
    prop_oneof![
        3 => (0u16..=10_000).prop_map(|bp| CanaryStep::SetWeight(Weight::from_basis_points(bp).unwrap())),
        2 => proptest::option::of(1u64..600).prop_map(|s| CanaryStep::Pause(s.map(Duration::from_secs))),
        1 => Just(CanaryStep::Analysis(AnalysisRef::all())),
        1 => prop_oneof![
            (0u32..6).prop_map(CanaryScale::Replicas),
            (0u16..=10_000).prop_map(|bp| CanaryScale::Weight(Weight::from_basis_points(bp).unwrap())),
            Just(CanaryScale::MatchTrafficWeight),
        ]
        .prop_map(CanaryStep::SetCanaryScale),
        1 => proptest::option::of(1u16..=10_000)
            .prop_map(|bp| CanaryStep::SetMirrorRoute(bp.map(|bp| Weight::from_basis_points(bp).unwrap()))),
    ]
}

fn rollout_spec() -> impl Strategy<Value = RolloutSpec> {
    let canary = (proptest::collection::vec(step(), 0..8), any::<bool>()).prop_map(
        |(mut steps, background)| {
            // Weights never go down within a canary; the config rejects such files.
            let mut floor = 0;
            for s in &mut steps {
                if let CanaryStep::SetWeight(w) = s {
                    floor = floor.max(w.basis_points());
                    *w = Weight::from_basis_points(floor).unwrap();
                }
            }
            let mut c = CanarySpec::with_steps(steps);
            if background {
                c.background_analysis = Some(BackgroundAnalysis {
                    analysis: AnalysisRef::all(),
                    starting_step: 0,
                });
            }
            Plan::Canary(c)
        },
    );
    let blue_green = (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(auto, pre, post)| {
        let mut bg = bellwether_core::spec::BlueGreenSpec {
            auto_promotion_enabled: auto,
            ..Default::default()
        };
        bg.pre_promotion_analysis = pre.then(AnalysisRef::all);
        bg.post_promotion_analysis = post.then(AnalysisRef::all);
        Plan::BlueGreen(bg)
    });
    let rolling =
        (0u32..3, 0u32..3).prop_map(|(s, u)| rolling(1, Scale::Count(s), Scale::Count(u)).strategy);
    (
        prop_oneof![3 => canary, 1 => blue_green, 1 => rolling],
        1u32..6,
    )
        .prop_map(|(strategy, replicas)| spec(replicas, strategy))
}

struct Checker {
    rollout: Rollout,
    now: Timestamp,
    next_revision: u64,
    last_step: Option<(u32, usize)>,
    /// Every event the rollout accepted, in order: what a store would persist.
    accepted: Vec<Event>,
}

impl Checker {
    fn feed(&mut self, kind: EventKind) {
        let before_attempt = self.rollout.attempt;
        let failed = matches!(&kind, EventKind::AnalysisCompleted { verdict: Verdict::Failed | Verdict::Error, run, .. }
            if self.rollout.analyses.iter().any(|a| a.run == *run));
        let event = Event::new(self.now, kind);
        let Ok(actions) = self.rollout.apply(&event) else {
            return;
        };
        self.accepted.push(event);
        let r = &self.rollout;
        let canary_running =
            matches!(r.strategy(), Some(Plan::Canary(_))) && r.in_progress() && r.stable.is_some();
        for action in &actions {
            match action {
                Action::SetTraffic(t) => assert_eq!(t.total_basis_points(), 10_000, "{t:?}"),
                Action::Scale { revision, replicas }
                    if canary_running
                        && r.stable.as_ref().is_some_and(|s| s.number == *revision) =>
                {
                    assert!(
                        *replicas >= r.replicas(),
                        "stable scaled to {replicas} during a canary"
                    );
                }
                Action::Record(Note::StepStarted { index, .. }) => {
                    let expected = match self.last_step {
                        Some((attempt, last)) if attempt == r.attempt => last + 1,
                        _ => 0,
                    };
                    assert_eq!(
                        *index, expected,
                        "step entered out of order (attempt {})",
                        r.attempt
                    );
                    self.last_step = Some((r.attempt, *index));
                }
                _ => {}
            }
        }
        if !r.traffic.weights.is_empty() {
            assert_eq!(r.traffic.total_basis_points(), 10_000);
        }
        if failed && r.stable.is_some() && r.attempt == before_attempt {
            assert_eq!(
                r.target_weight(),
                Weight::ZERO,
                "a failed analysis left the new revision with traffic"
            );
            assert!(!r.in_progress());
        }
        if canary_running && let Some(stable) = &r.stable {
            assert!(r.scale_of(stable.number) >= r.replicas());
        }
    }

    fn run(&mut self, spec: &RolloutSpec, inputs: Vec<Input>) {
        for input in inputs {
            let kind = match input {
                Input::Wait(ms) => {
                    self.now = self.now.after(Duration::from_millis(ms));
                    EventKind::Tick
                }
                Input::Ready { target, ready } => {
                    let r = if target {
                        self.rollout.target.as_ref()
                    } else {
                        self.rollout.stable.as_ref()
                    };
                    let Some(r) = r else { continue };
                    EventKind::ReplicasReady {
                        revision: r.number,
                        ready,
                        failing: None,
                    }
                }
                Input::Verdict { pick, verdict } => {
                    let Some(a) = self
                        .rollout
                        .analyses
                        .get(pick % self.rollout.analyses.len().max(1))
                    else {
                        continue;
                    };
                    EventKind::AnalysisCompleted {
                        run: a.run,
                        verdict,
                        message: "random".into(),
                    }
                }
                Input::Command(command) => EventKind::Command {
                    command,
                    by: "prop".into(),
                },
                Input::NewRevision => {
                    self.next_revision += 1;
                    let n = self.next_revision;
                    EventKind::SpecChanged {
                        revision: Revision {
                            number: n,
                            version: format!("v{n}"),
                        },
                        spec: spec.clone(),
                    }
                }
            };
            self.feed(kind);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_any_event_sequence(spec in rollout_spec(), inputs in proptest::collection::vec(input(), 1..120)) {
        let mut checker = Checker { rollout: Rollout::new("api"), now: Timestamp::default(), next_revision: 1, last_step: None, accepted: Vec::new() };
        checker.feed(EventKind::SpecChanged { revision: Revision { number: 1, version: "v1".into() }, spec: spec.clone() });
        checker.run(&spec, inputs);
    }

    #[test]
    fn replaying_accepted_events_rebuilds_the_same_state(spec in rollout_spec(), inputs in proptest::collection::vec(input(), 1..80)) {
        let mut checker = Checker { rollout: Rollout::new("api"), now: Timestamp::default(), next_revision: 1, last_step: None, accepted: Vec::new() };
        checker.feed(EventKind::SpecChanged { revision: Revision { number: 1, version: "v1".into() }, spec: spec.clone() });
        checker.run(&spec, inputs);
        let mut replayed = Rollout::new("api");
        for event in &checker.accepted {
            replayed.apply(event).expect("an accepted event is accepted again");
        }
        prop_assert_eq!(&replayed, &checker.rollout);
        let json = serde_json::to_string(&checker.rollout).unwrap();
        let restored: Rollout = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&restored, &checker.rollout);
    }
}
