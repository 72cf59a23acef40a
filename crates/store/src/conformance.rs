//! The store's contract as checks that every backend must pass: [`Store`](crate::Store)
//! (streams, snapshots, revisions, and [`RolloutLog`](crate::RolloutLog) on top of them) and
//! [`RunHistory`](crate::RunHistory).
//!
//! A backend's tests run the whole suite with [`store_conformance!`](crate::store_conformance),
//! each check a `#[test]` named after the rule it holds the backend to; `tests/conformance.rs`
//! runs it against SQLite.

pub mod crash;
pub mod deliveries;
pub mod events;
pub mod groups;
mod harness;
pub mod processes;
pub mod retention;
pub mod reviews;
pub mod revisions;
pub mod rollouts;
pub mod runs;
pub mod snapshots;
mod support;

pub use harness::{Backend, Fixture, run};

/// Every check of the suite, each a `#[test]` in a module named after its part of the
/// contract, run against the [`Backend`] the expression makes. A new check is a `pub fn` in
/// its part's module and its name here:
///
/// ```no_run
/// use bellwether_store::conformance::Backend;
/// use bellwether_store::{RunStore, SqliteStore};
///
/// bellwether_store::store_conformance!(Backend::new(
///     |dir| SqliteStore::open(&dir.join("bellwether.db")),
///     |dir| RunStore::open(&dir.join("bellwether.db")),
/// ));
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! store_conformance {
    ($backend:expr $(,)?) => {
        $crate::store_conformance!(@checks $backend;
            events {
                appends_number_records_from_one_in_order,
                a_conflicting_append_is_refused_and_writes_nothing,
                an_append_that_fails_part_way_writes_nothing,
                reads_start_after_the_given_position,
                streams_are_independent,
                streams_are_listed_by_literal_prefix,
                concurrent_appends_at_one_position_admit_exactly_one,
            },
            groups {
                concurrent_appends_to_distinct_streams_all_land_in_order,
                of_concurrent_appends_at_one_position_exactly_one_lands_beside_the_others,
                an_append_that_fails_among_concurrent_ones_fails_alone,
                concurrent_revisions_are_numbered_distinctly_and_a_failed_one_alone,
                racing_groups_of_several_handles_admit_exactly_one_at_a_position,
            },
            snapshots {
                a_stream_without_a_snapshot_has_none,
                the_latest_snapshot_is_loaded,
                an_older_snapshot_never_replaces_a_newer_one,
                the_events_after_a_snapshot_continue_it,
                an_append_with_a_snapshot_stores_both_at_its_last_position,
                an_append_with_a_snapshot_that_fails_stores_neither,
            },
            rollouts {
                a_rollout_rebuilt_from_snapshot_and_events_equals_the_recorded_one,
                a_rejected_command_is_never_stored,
                a_failed_append_leaves_the_rollout_as_it_was,
                a_log_behind_its_stream_reads_what_it_missed_and_records_on,
            },
            revisions {
                revisions_are_numbered_per_service_from_one,
                pruning_keeps_the_newest_and_the_pinned,
                numbers_are_not_reused_after_pruning,
                a_revision_that_fails_to_be_stored_writes_nothing,
            },
            runs {
                runs_are_numbered_one_up_and_never_below_the_floor,
                a_new_run_is_running_before_its_first_attempt,
                an_attempt_starts_with_its_commit_and_clears_the_finish,
                a_final_status_finishes_the_attempt,
                a_status_of_an_older_attempt_leaves_the_run_alone,
                jobs_are_kept_per_attempt_in_the_pipeline_order,
                instances_are_kept_per_attempt_in_the_pipeline_order,
                gates_are_kept_and_decided,
                changes_are_recorded_all_or_nothing,
                a_run_that_fails_to_be_created_writes_nothing,
                the_run_stream_tells_each_change,
                a_run_stream_is_a_stream_of_the_event_store,
                runs_are_listed_newest_first_by_pipeline_up_to_a_limit,
                unfinished_runs_are_the_running_the_waiting_and_the_queued,
                an_unfinished_run_is_interrupted_once_with_its_waiting_gates,
                concurrent_creates_number_runs_distinctly,
                a_watcher_hears_each_committed_change_until_it_declines,
            },
            reviews {
                a_review_of_an_unknown_run_is_refused,
                a_review_is_accepted_only_while_a_gate_of_the_current_attempt_waits,
                each_person_reviews_an_environment_once_per_attempt,
                a_refused_review_writes_nothing,
                reviews_are_listed_oldest_first_per_environment,
                concurrent_reviews_by_one_person_admit_one,
            },
            deliveries {
                a_delivery_is_claimed_once,
                concurrent_claims_of_one_delivery_admit_one,
                deliveries_older_than_the_window_are_forgotten,
                a_released_delivery_is_claimed_again,
            },
            retention {
                finished_runs_past_the_age_are_forgotten_with_everything_of_theirs,
                runs_going_on_and_the_latest_of_each_pipeline_are_kept,
                forgetting_goes_oldest_first_at_most_the_limit_at_a_time,
                old_events_are_forgotten_but_each_streams_last,
            },
            crash {
                reopening_sees_exactly_what_was_committed,
                reopening_sees_nothing_of_what_failed,
            },
            processes {
                a_new_store_opened_by_many_at_once_opens_for_each,
                a_second_handle_sees_each_commit_at_once,
            },
        );
    };
    (@checks $backend:expr; $($part:ident { $($check:ident),* $(,)? }),* $(,)?) => {
        fn conformance_backend() -> $crate::conformance::Backend {
            $backend
        }
        $(
            mod $part {
                $(
                    #[test]
                    fn $check() {
                        $crate::conformance::run(
                            super::conformance_backend(),
                            $crate::conformance::$part::$check,
                        );
                    }
                )*
            }
        )*
    };
}
