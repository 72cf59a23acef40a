//! The platform seam's contract as checks that every [`Platform`](crate::Platform) must pass:
//! replicas scaled up and down, readiness reported, replicas that exit replaced, logs read and
//! followed, and everything stopped on shutdown.
//!
//! A platform's tests run the whole suite with
//! [`platform_conformance!`](crate::platform_conformance), each check a `#[test]` on a fresh
//! platform, bounded in time; `crates/controller/tests/conformance.rs` runs it against the
//! local platform.

pub mod checks;
mod harness;

pub use harness::{Fixture, Subject, run};

/// Every check of the suite as a `#[test]`, run against the platforms the [`Fixture`]
/// expression makes: `platform_conformance!(Fixture::new(make, workload))`, as
/// `crates/controller/tests/conformance.rs` does for the local platform. A new check is a
/// `pub async fn` in `checks` and its name here.
#[macro_export]
macro_rules! platform_conformance {
    ($fixture:expr $(,)?) => {
        $crate::platform_conformance!(@checks $fixture;
            scaling_runs_exactly_the_replicas_asked_for,
            only_replicas_that_pass_their_probe_are_ready,
            a_replica_that_exits_is_replaced,
            logs_are_read_with_their_replica_and_tail,
            logs_are_followed_until_stopped,
            shutdown_stops_every_replica,
        );
    };
    (@checks $fixture:expr; $($check:ident),* $(,)?) => {
        fn platform_fixture() -> $crate::conformance::Fixture {
            $fixture
        }
        mod platform_conformance {
            $(
                #[test]
                fn $check() {
                    $crate::conformance::run(super::platform_fixture(), |subject| {
                        Box::pin($crate::conformance::checks::$check(subject))
                    });
                }
            )*
        }
    };
}
