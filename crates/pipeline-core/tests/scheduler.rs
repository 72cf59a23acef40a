//! The scheduler's behaviour as timelines: each case is a pipeline (YAML, steps written for
//! the fake shell in `support.rs`) and everything that happens when it runs.

mod support;

use insta::assert_snapshot;
use support::{World, push};

fn play(yaml: &str) -> String {
    World::new(yaml, "ci", push("main")).play()
}

#[test]
fn the_dag_runs_in_order_with_outputs_flowing_to_needs() {
    assert_snapshot!(play(r#"
pipelines:
  ci:
    env: {STAGE: ci}
    jobs:
      build:
        outputs: {version: "${{ steps.meta.outputs.version }}"}
        steps:
          - id: meta
            run: |
              sleep 2
              output version=1.4.0
      lint:
        steps: [{run: sleep 3}]
      test:
        needs: build
        steps:
          - run: echo testing ${{ needs.build.outputs.version }} in $STAGE
      deploy:
        needs: [build, test, lint]
        steps:
          - run: echo shipping ${{ needs.build.outputs.version || 'nothing' }} after ${{ needs.lint.result }}
"#), @"
    0s ▶ build / Run sleep 2
    0s ▶ lint / Run sleep 3
    2s ✓ build / Run sleep 2 (exit code 0)
    2s ▶ test / Run echo testing ${{ needs.build.outputs.version }} in $STAGE
    2s   test says: testing 1.4.0 in ci
    3s ✓ lint / Run sleep 3 (exit code 0)
    3s ✓ test / Run echo testing ${{ needs.build.outputs.version }} in $STAGE (exit code 0)
    3s ▶ deploy / Run echo shipping ${{ needs.build.outputs.version || 'nothing' }
    3s   deploy says: shipping 1.4.0 after success
    4s ✓ deploy / Run echo shipping ${{ needs.build.outputs.version || 'nothing' } (exit code 0)
    4s = run success
    ");
}

#[test]
fn a_failure_skips_dependents_unless_they_ask_for_status() {
    assert_snapshot!(play(r#"
pipelines:
  ci:
    jobs:
      test:
        steps:
          - run: exit 2
          - name: never
            run: echo not reached
          - name: report
            if: failure()
            run: echo tests failed, status ${{ job.status }}
          - name: cleanup
            if: always()
            run: echo cleaning up
      build:
        needs: test
        steps: [{run: echo building}]
      package:
        needs: build
        if: always()
        steps: [{run: "echo packaging after ${{ needs.build.result }}"}]
      notify:
        needs: package
        steps: [{run: echo notify}]
      rollback:
        needs: build
        if: failure()
        steps: [{run: echo rolling back}]
"#), @"
    0s ▶ test / Run exit 2
    1s ✗ test / Run exit 2 (exit code 2)
    1s # test: step `Run exit 2` failed: exit code 2
    1s ▶ test / report
    1s   test says: tests failed, status failure
    2s ✓ test / report (exit code 0)
    2s ▶ test / cleanup
    2s   test says: cleaning up
    3s ✓ test / cleanup (exit code 0)
    3s # test: failed
    3s # build: skipped: needs did not succeed: test (failure)
    3s ▶ package / Run echo packaging after ${{ needs.build.result }}
    3s   package says: packaging after skipped
    3s ▶ rollback / Run echo rolling back
    3s   rollback says: rolling back
    4s ✓ package / Run echo packaging after ${{ needs.build.result }} (exit code 0)
    4s # notify: skipped: needs did not succeed: build (skipped), test (failure)
    4s ✓ rollback / Run echo rolling back (exit code 0)
    4s = run failure
    ");
}

#[test]
fn matrix_fail_fast_and_max_parallel() {
    assert_snapshot!(play(r#"
pipelines:
  ci:
    jobs:
      test:
        strategy:
          matrix:
            os: [debian, ubuntu]
            node: [18, 20]
            exclude: [{os: debian, node: 18}]
            include: [{os: ubuntu, experimental: true}]
          max-parallel: 2
        steps:
          - name: test on node ${{ matrix.node }}
            run: |
              echo ${{ matrix.os }}, ${{ strategy.job-index }} of ${{ strategy.job-total }}
              sleep ${{ matrix.os == 'debian' && 1 || 3 }}
              ${{ matrix.os == 'debian' && 'exit 1' || '' }}
"#), @"
    0s ▶ test (debian, 20) / test on node 20
    0s   test (debian, 20) says: debian, 0 of 3
    0s ▶ test (ubuntu, 18, true) / test on node 18
    0s   test (ubuntu, 18, true) says: ubuntu, 1 of 3
    1s ✗ test (debian, 20) / test on node 20 (exit code 1)
    1s # test (debian, 20): step `test on node 20` failed: exit code 1
    1s # test (ubuntu, 18, true): cancelling: fail-fast: another combination failed
    1s # test (ubuntu, 20, true): cancelled before it started: fail-fast: another combination failed
    1s ✗ test (ubuntu, 18, true) / test on node 18 (cancelled)
    1s # test: failed
    1s = run failure
    ");
    assert_snapshot!(play(r#"
pipelines:
  ci:
    jobs:
      test:
        strategy:
          fail-fast: false
          matrix: {shard: [1, 2, 3]}
        continue-on-error: ${{ matrix.shard == 3 }}
        steps:
          - run: "${{ matrix.shard != 1 && 'exit 1' || 'echo fine' }}"
      after:
        needs: test
        if: always()
        steps: [{run: "echo test was ${{ needs.test.result }}"}]
"#), @"
    0s ▶ test (1) / Run ${{ matrix.shard != 1 && 'exit 1' || 'echo fine' }}
    0s   test (1) says: fine
    0s ▶ test (2) / Run ${{ matrix.shard != 1 && 'exit 1' || 'echo fine' }}
    0s ▶ test (3) / Run ${{ matrix.shard != 1 && 'exit 1' || 'echo fine' }}
    1s ✓ test (1) / Run ${{ matrix.shard != 1 && 'exit 1' || 'echo fine' }} (exit code 0)
    1s ✗ test (2) / Run ${{ matrix.shard != 1 && 'exit 1' || 'echo fine' }} (exit code 1)
    1s # test (2): step `Run ${{ matrix.shard != 1 && 'exit 1' || 'echo fine' }}` failed: exit code 1
    1s ✗ test (3) / Run ${{ matrix.shard != 1 && 'exit 1' || 'echo fine' }} (exit code 1)
    1s # test (3): step `Run ${{ matrix.shard != 1 && 'exit 1' || 'echo fine' }}` failed: exit code 1
    1s # test: failed
    1s ▶ after / Run echo test was ${{ needs.test.result }}
    1s   after says: test was failure
    2s ✓ after / Run echo test was ${{ needs.test.result }} (exit code 0)
    2s = run failure
    ");
}

#[test]
fn a_dynamic_matrix_expands_from_outputs() {
    assert_snapshot!(play(r#"
pipelines:
  ci:
    jobs:
      plan:
        outputs: {targets: "${{ steps.p.outputs.json }}"}
        steps:
          - id: p
            run: 'output json={"service":["api","worker"]}'
      deploy:
        needs: plan
        strategy:
          matrix: ${{ fromJSON(needs.plan.outputs.targets) }}
        name: deploy ${{ matrix.service }}
        steps: [{run: "echo deploying ${{ matrix.service }}"}]
"#), @r#"
    0s ▶ plan / Run output json={"service":["api","worker"]}
    1s ✓ plan / Run output json={"service":["api","worker"]} (exit code 0)
    1s ▶ deploy api / Run echo deploying ${{ matrix.service }}
    1s   deploy api says: deploying api
    1s ▶ deploy worker / Run echo deploying ${{ matrix.service }}
    1s   deploy worker says: deploying worker
    2s ✓ deploy api / Run echo deploying ${{ matrix.service }} (exit code 0)
    2s ✓ deploy worker / Run echo deploying ${{ matrix.service }} (exit code 0)
    2s = run success
    "#);
}

#[test]
fn the_global_limit_holds() {
    let yaml = r#"
pipelines:
  ci:
    jobs:
      a: {steps: [{run: sleep 2}]}
      b: {steps: [{run: sleep 2}]}
      c: {steps: [{run: sleep 2}]}
      d: {needs: [a, b, c], steps: [{run: echo done}]}
"#;
    assert_snapshot!(World::with_parallelism(yaml, "ci", push("main"), 2).play(), @"
    0s ▶ a / Run sleep 2
    0s ▶ b / Run sleep 2
    2s ✓ a / Run sleep 2 (exit code 0)
    2s ▶ c / Run sleep 2
    2s ✓ b / Run sleep 2 (exit code 0)
    4s ✓ c / Run sleep 2 (exit code 0)
    4s ▶ d / Run echo done
    4s   d says: done
    5s ✓ d / Run echo done (exit code 0)
    5s = run success
    ");
}

#[test]
fn retries_on_the_listed_exit_codes() {
    assert_snapshot!(play(r#"
pipelines:
  ci:
    jobs:
      flaky:
        retry: {max-attempts: 3, on-exit-codes: [75]}
        steps:
          - run: |
              fail-on-attempt 1 75
              fail-on-attempt 2 75
              echo third time lucky
      broken:
        retry: {max-attempts: 3, on-exit-codes: [75]}
        steps: [{run: exit 1}]
"#), @"
    0s ▶ flaky / Run fail-on-attempt 1 75
    0s ▶ broken / Run exit 1
    1s ✗ flaky / Run fail-on-attempt 1 75 (exit code 75)
    1s # flaky: step `Run fail-on-attempt 1 75` failed: exit code 75
    1s # flaky: retrying: attempt 2 of 3 after exit code 75
    1s ▶ flaky / Run fail-on-attempt 1 75 [attempt 2]
    1s ✗ broken / Run exit 1 (exit code 1)
    1s # broken: step `Run exit 1` failed: exit code 1
    1s # broken: failed
    2s ✗ flaky / Run fail-on-attempt 1 75 [attempt 2] (exit code 75)
    2s # flaky: step `Run fail-on-attempt 1 75` failed: exit code 75
    2s # flaky: retrying: attempt 3 of 3 after exit code 75
    2s ▶ flaky / Run fail-on-attempt 1 75 [attempt 3]
    2s   flaky says: third time lucky
    3s ✓ flaky / Run fail-on-attempt 1 75 [attempt 3] (exit code 0)
    3s = run failure
    ");
}

#[test]
fn timeouts_and_continue_on_error_steps() {
    assert_snapshot!(play(r#"
pipelines:
  ci:
    jobs:
      slow:
        timeout: 5s
        steps:
          - run: sleep 3
          - run: sleep 10
          - if: always()
            run: echo never, the job is over
      tolerant:
        steps:
          - id: lint
            continue-on-error: true
            run: exit 3
          - run: echo lint ${{ steps.lint.outcome }} but ${{ steps.lint.conclusion }}
          - timeout: 2s
            continue-on-error: true
            run: sleep 9
          - run: echo still going
"#), @"
    0s ▶ slow / Run sleep 3
    0s ▶ tolerant / Run exit 3
    1s ✗ tolerant / Run exit 3 (exit code 3)
    1s # tolerant: step `Run exit 3` failed: exit code 3 (continue-on-error)
    1s ▶ tolerant / Run echo lint ${{ steps.lint.outcome }} but ${{ steps.lint.concl
    1s   tolerant says: lint failure but success
    2s ✓ tolerant / Run echo lint ${{ steps.lint.outcome }} but ${{ steps.lint.concl (exit code 0)
    2s ▶ tolerant / Run sleep 9
    3s ✓ slow / Run sleep 3 (exit code 0)
    3s ▶ slow / Run sleep 10
    4s ✗ tolerant / Run sleep 9 (timed out)
    4s # tolerant: step `Run sleep 9` failed: timed out (continue-on-error)
    4s ▶ tolerant / Run echo still going
    4s   tolerant says: still going
    5s ✗ slow / Run sleep 10 (timed out)
    5s # slow: step `Run sleep 10` failed: timed out
    5s # slow: failed
    5s ✓ tolerant / Run echo still going (exit code 0)
    5s = run failure
    ");
}

#[test]
fn step_env_files_and_secrets() {
    assert_snapshot!(play(r#"
pipelines:
  ci:
    jobs:
      build:
        env: {LEVEL: job}
        steps:
          - run: setenv IMAGE=api:7
          - env: {LEVEL: step, TOKEN: "${{ secrets.TOKEN }}"}
            run: echo $IMAGE at $LEVEL with $TOKEN by ${{ github.actor }} on ${{ github.ref_name }}
          - run: "echo only $LEVEL, no token: [$TOKEN]"
"#), @"
    0s ▶ build / Run setenv IMAGE=api:7
    1s ✓ build / Run setenv IMAGE=api:7 (exit code 0)
    1s ▶ build / Run echo $IMAGE at $LEVEL with $TOKEN by ${{ github.actor }} on 
    1s   build says: api:7 at step with s3cret by dev on main
    2s ✓ build / Run echo $IMAGE at $LEVEL with $TOKEN by ${{ github.actor }} on  (exit code 0)
    2s ▶ build / Run echo only $LEVEL, no token: [$TOKEN]
    2s   build says: only job, no token: [$TOKEN]
    3s ✓ build / Run echo only $LEVEL, no token: [$TOKEN] (exit code 0)
    3s = run success
    ");
}

#[test]
fn concurrency_groups_queue_or_cancel() {
    assert_snapshot!(play(r#"
pipelines:
  ci:
    jobs:
      one: {concurrency: db, steps: [{run: sleep 3}]}
      two: {concurrency: db, steps: [{run: sleep 1}]}
      three: {concurrency: {group: db, cancel-in-progress: true}, steps: [{run: echo I win}]}
"#), @"
    0s ▶ one / Run sleep 3
    0s # two: waiting for concurrency group `db`
    0s # one: cancelling: `three` took over concurrency group `db`
    0s # two: cancelled before it started: `three` took over concurrency group `db`
    0s # two: cancelled
    0s ✗ one / Run sleep 3 (cancelled)
    0s # one: cancelled
    0s ▶ three / Run echo I win
    0s   three says: I win
    1s ✓ three / Run echo I win (exit code 0)
    1s = run success
    ");
}

#[test]
fn a_job_sees_the_secrets_and_variables_of_its_own_environment_only() {
    let yaml = r#"
environments:
  staging: {vars: {URL: https://staging.example}}
  production: {vars: {URL: https://example}}
pipelines:
  ci:
    jobs:
      build:
        steps: [{run: "echo ${{ secrets.TOKEN }} ${{ secrets.DB }} ${{ vars.URL }}"}]
      staging:
        environment: staging
        steps: [{run: "echo ${{ secrets.TOKEN }} ${{ secrets.DB }} ${{ vars.URL }}"}]
      production:
        needs: staging
        environment: production
        steps: [{run: "echo ${{ secrets.TOKEN }} ${{ secrets.DB }} ${{ vars.URL }}"}]
"#;
    let mut world = World::with_input(yaml, "ci", push("main"), 1, |input| {
        let scoped = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        input.environment_secrets = [
            ("staging".to_owned(), scoped(&[("DB", "staging-db")])),
            (
                "production".to_owned(),
                scoped(&[("DB", "production-db"), ("TOKEN", "production-token")]),
            ),
        ]
        .into();
    });
    let played = world.play();
    let said: Vec<&str> = played
        .lines()
        .map(str::trim)
        .filter(|l| l.contains(" says: "))
        .collect();
    assert_eq!(
        said,
        [
            "0s   build says: s3cret",
            "1s   staging says: s3cret staging-db https://staging.example",
            "2s   production says: production-token production-db https://example",
        ],
        "{played}"
    );
}

#[test]
fn environments_guard_their_jobs() {
    let yaml = r#"
environments:
  staging: {branches: [develop, main]}
  production: {branches: [main], approvals: 2}
  qa: {approvals: 1}
services:
  api: {run: {command: [./api]}}
pipelines:
  ci:
    jobs:
      staging:
        environment: staging
        steps: [{deploy: {service: api}}]
      production:
        needs: staging
        environment: production
        steps: [{deploy: {service: api, revision: v2}}]
      qa:
        environment: qa
        steps: [{run: echo qa}]
"#;
    let mut world = World::new(yaml, "ci", push("main"));
    world.refuse.insert("qa".to_owned());
    assert_snapshot!(world.play(), @"
    0s ⏸ qa waits for qa (1 approvals)
    0s # qa: failed: rejected by ops
    0s # qa: failed
    0s ▶ staging / Deploy api
    0s   staging deploys api at abc123 to staging
    1s ✓ staging / Deploy api (exit code 0)
    1s ⏸ production waits for production (2 approvals)
    1s # production: approved by ops
    1s ▶ production / Deploy api
    1s   production deploys api at v2 to production
    2s ✓ production / Deploy api (exit code 0)
    2s = run failure
    ");
    assert_snapshot!(World::new(yaml, "ci", push("feature/x")).play(), @"
    0s # staging: failed: branch `feature/x` may not deploy to environment `staging` (allowed: develop, main)
    0s # staging: failed
    0s ⏸ qa waits for qa (1 approvals)
    0s # qa: approved by ops
    0s ▶ qa / Run echo qa
    0s   qa says: qa
    0s # production: skipped: needs did not succeed: staging (failure)
    1s ✓ qa / Run echo qa (exit code 0)
    1s = run failure
    ");
}

#[test]
fn caches_restore_then_save_when_the_job_ends() {
    let yaml = r#"
pipelines:
  ci:
    jobs:
      build:
        steps:
          - cache: {key: "deps-${{ hashFiles('Cargo.lock') }}", restore-keys: [deps-], paths: [target]}
          - run: echo building
      failing:
        steps:
          - cache: {key: lint-1, paths: [.lint]}
          - cache: {key: always-1, paths: [.always], save-always: true}
          - run: exit 1
"#;
    let mut world = World::new(yaml, "ci", push("main"));
    assert_snapshot!(world.play(), @"
    0s ▶ build / Restore cache target
    0s   build restores cache deps-h(Cargo.lock): miss
    0s ▶ failing / Restore cache .lint
    0s   failing restores cache lint-1: miss
    1s ✓ build / Restore cache target (exit code 0)
    1s ▶ build / Run echo building
    1s   build says: building
    1s ✓ failing / Restore cache .lint (exit code 0)
    1s ▶ failing / Restore cache .always
    1s   failing restores cache always-1: miss
    2s ✓ build / Run echo building (exit code 0)
    2s ▶ build / Save cache target
    2s   build saves cache deps-h(Cargo.lock)
    2s ✓ failing / Restore cache .always (exit code 0)
    2s ▶ failing / Run exit 1
    3s ✓ build / Save cache target (exit code 0)
    3s ✗ failing / Run exit 1 (exit code 1)
    3s # failing: step `Run exit 1` failed: exit code 1
    3s ▶ failing / Save cache .always
    3s   failing saves cache always-1
    4s ✓ failing / Save cache .always (exit code 0)
    4s # failing: failed
    4s = run failure
    ");
    let mut again = World::new(yaml, "ci", push("main"));
    again.cache = world.cache.clone();
    assert_snapshot!(again.play(), @"
    0s ▶ build / Restore cache target
    0s   build restores cache deps-h(Cargo.lock): hit
    0s ▶ failing / Restore cache .lint
    0s   failing restores cache lint-1: miss
    1s ✓ build / Restore cache target (exit code 0)
    1s ▶ build / Run echo building
    1s   build says: building
    1s ✓ failing / Restore cache .lint (exit code 0)
    1s ▶ failing / Restore cache .always
    1s   failing restores cache always-1: hit
    2s ✓ build / Run echo building (exit code 0)
    2s ✓ failing / Restore cache .always (exit code 0)
    2s ▶ failing / Run exit 1
    3s ✗ failing / Run exit 1 (exit code 1)
    3s # failing: step `Run exit 1` failed: exit code 1
    3s # failing: failed
    3s = run failure
    ");
}

#[test]
fn cancelling_runs_only_always_steps() {
    let yaml = r#"
pipelines:
  ci:
    jobs:
      long:
        steps:
          - run: sleep 10
          - if: always()
            run: echo cleanup
          - run: echo skipped
      later:
        needs: long
        steps: [{run: echo never}]
      final:
        needs: long
        if: always()
        steps: [{run: echo final word}]
"#;
    let mut world = World::new(yaml, "ci", push("main"));
    world.cancel_at = Some(4);
    assert_snapshot!(world.play(), @"
    0s ▶ long / Run sleep 10
    4s # cancelling the run: asked to
    4s # long: cancelling: asked to
    4s ✗ long / Run sleep 10 (cancelled)
    4s ▶ long / Run echo cleanup
    4s   long says: cleanup
    5s ✓ long / Run echo cleanup (exit code 0)
    5s # long: cancelled
    5s # later: cancelled: the run was cancelled
    5s ▶ final / Run echo final word
    5s   final says: final word
    6s ✓ final / Run echo final word (exit code 0)
    6s = run cancelled
    ");
}

#[test]
fn expression_errors_fail_the_step_with_the_reason() {
    assert_snapshot!(play(r#"
pipelines:
  ci:
    jobs:
      bad:
        steps:
          - run: echo ${{ fromJSON('{not json') }}
          - if: always()
            run: echo ${{ format('{1}', 'only one') }}
"#), @"
    0s # bad: step `Run echo ${{ fromJSON('{not json') }}` failed: run: fromJSON: `{not json` is not JSON: key must be a string at line 1 column 2
    0s # bad: step `Run echo ${{ format('{1}', 'only one') }}` failed: run: format: '{1}' uses {1} but has 1 argument
    0s # bad: failed
    0s = run failure
    ");
}

#[test]
fn a_rerun_keeps_the_jobs_that_succeeded_and_runs_the_rest() {
    let yaml = r#"
pipelines:
  ci:
    jobs:
      build:
        outputs: {version: "${{ steps.v.outputs.version }}"}
        steps: [{id: v, run: output version=2.0}]
      lint:
        steps: [{run: echo lint}]
      test:
        needs: build
        steps: [{run: "echo testing ${{ needs.build.outputs.version }} in attempt ${{ github.run_attempt }}"}]
      deploy:
        needs: [test, lint]
        steps: [{run: echo deploy}]
"#;
    let kept = |version: &str| bellwether_pipeline_core::run::ReusedJob {
        outputs: [("version".to_owned(), version.to_owned())].into(),
        attempt: 1,
        instances: None,
    };
    let mut world = World::with_input(yaml, "ci", push("main"), 4, |input| {
        input.attempt = 2;
        // `deploy` succeeded too, but `test`, which it needs, runs again: so must it.
        input.reused = [
            ("build".to_owned(), kept("1.9")),
            ("lint".to_owned(), kept("")),
            ("deploy".to_owned(), kept("")),
        ]
        .into();
    });
    assert_snapshot!(world.play(), @"
    0s ▶ test / Run echo testing ${{ needs.build.outputs.version }} in attempt $
    0s   test says: testing 1.9 in attempt 2
    1s ✓ test / Run echo testing ${{ needs.build.outputs.version }} in attempt $ (exit code 0)
    1s ▶ deploy / Run echo deploy
    1s   deploy says: deploy
    2s ✓ deploy / Run echo deploy (exit code 0)
    2s = run success
    ");
    let kept: Vec<(String, Option<String>)> = world
        .run
        .jobs()
        .iter()
        .map(|j| (j.id.clone(), j.message.clone()))
        .collect();
    assert_eq!(
        kept,
        [
            ("build".to_owned(), Some("kept from attempt 1".to_owned())),
            ("lint".to_owned(), Some("kept from attempt 1".to_owned())),
            ("test".to_owned(), None),
            ("deploy".to_owned(), None),
        ]
    );
}

#[test]
fn a_rerun_of_a_matrix_runs_only_the_combinations_that_did_not_succeed() {
    let yaml = r#"
pipelines:
  ci:
    jobs:
      test:
        strategy:
          matrix: {os: [linux, mac], node: [18, 20]}
        steps: [{run: "echo ${{ matrix.os }}-${{ matrix.node }}"}]
      publish:
        needs: test
        steps: [{run: echo publish}]
"#;
    let mut world = World::with_input(yaml, "ci", push("main"), 4, |input| {
        input.attempt = 2;
        // linux-18 and mac-20 succeeded in attempt 1; the rest failed or never ran.
        let kept = [(0, "test (linux, 18)"), (3, "test (mac, 20)")];
        input.reused = [(
            "test".to_owned(),
            bellwether_pipeline_core::run::ReusedJob {
                outputs: Default::default(),
                attempt: 1,
                instances: Some(kept.map(|(i, n)| (i, n.to_owned())).into()),
            },
        )]
        .into();
    });
    assert_snapshot!(world.play(), @"
    0s ▶ test (linux, 20) / Run echo ${{ matrix.os }}-${{ matrix.node }}
    0s   test (linux, 20) says: linux-20
    0s ▶ test (mac, 18) / Run echo ${{ matrix.os }}-${{ matrix.node }}
    0s   test (mac, 18) says: mac-18
    1s ✓ test (linux, 20) / Run echo ${{ matrix.os }}-${{ matrix.node }} (exit code 0)
    1s ✓ test (mac, 18) / Run echo ${{ matrix.os }}-${{ matrix.node }} (exit code 0)
    1s ▶ publish / Run echo publish
    1s   publish says: publish
    2s ✓ publish / Run echo publish (exit code 0)
    2s = run success
    ");
    let instances: Vec<(String, Option<String>)> = world.run.jobs()[0]
        .instances
        .iter()
        .map(|i| (i.name.clone(), i.message.clone()))
        .collect();
    assert_eq!(
        instances,
        [
            (
                "test (linux, 18)".to_owned(),
                Some("kept from attempt 1".to_owned())
            ),
            ("test (linux, 20)".to_owned(), None),
            ("test (mac, 18)".to_owned(), None),
            (
                "test (mac, 20)".to_owned(),
                Some("kept from attempt 1".to_owned())
            ),
        ]
    );
}
