use super::*;

fn no_csv(_: &str) -> Result<String, String> {
    Err("no files here".to_owned())
}

fn plan(source: &str) -> Plan {
    load("t.yaml", source, &no_csv).unwrap_or_else(|e| panic!("{e}"))
}

fn problems(source: &str) -> String {
    load("t.yaml", source, &no_csv).unwrap_err().to_string()
}

const REQUESTS: &str = "requests:\n  - url: http://127.0.0.1:1/\n";

#[test]
fn each_executor_lowers_with_k6_defaults() {
    let p = plan(&format!(
        "{REQUESTS}scenarios:
  steady: {{executor: constant-vus, vus: 3, duration: 1m}}
  ramp:
    executor: ramping-vus
    stages: [{{duration: 10s, target: 5}}, {{duration: 5s, target: 0}}]
  rate: {{executor: constant-arrival-rate, rate: 30, timeUnit: 1m, duration: 10s, preAllocatedVUs: 2}}
  rising:
    executor: ramping-arrival-rate
    startRate: 2
    stages: [{{duration: 10s, target: 20}}]
    preAllocatedVUs: 1
    maxVUs: 5
    gracefulStop: 1s
    startTime: 5s
"
    ));
    let lines: Vec<String> = p
        .scenarios
        .iter()
        .map(|s| format!("{}: {}", s.name, s.describe()))
        .collect();
    assert_eq!(
        lines,
        [
            "steady: 3 looping VUs for 1m0s (gracefulStop: 30s)",
            "ramp: Up to 5 looping VUs for 15s over 2 stages (gracefulStop: 30s)",
            "rate: 0.50 iterations/s for 10s (maxVUs: 2-2, gracefulStop: 30s)",
            "rising: Up to 20.00 iterations/s for 10s over 1 stages (maxVUs: 1-5, gracefulStop: 1s)",
        ]
    );
    let Executor::Vus { ramp, .. } = &p.scenarios[1].executor else {
        panic!("VUs")
    };
    assert_eq!(ramp.start, 1, "startVUs defaults to 1");
    assert_eq!(p.scenarios[3].start_time, Duration::from_secs(5));
    assert_eq!(p.requests[0].name, "http://127.0.0.1:1/");
    assert_eq!(p.requests[0].method, Method::GET);
}

#[test]
fn requests_checks_and_thresholds_lower() {
    let p = plan(
        "scenarios: {s: {executor: constant-vus, duration: 1s}}
requests:
  - name: login
    method: post
    url: http://127.0.0.1:1/login/{{user}}
    headers: {content-type: application/json, x-user: '{{user}}'}
    body: '{\"user\": \"{{user}}\"}'
    variants: [{user: ann}, {user: 7}]
    sleep: 500ms
    checks: {status: 200, bodyContains: welcome, maxDuration: 200ms}
thresholds:
  http_req_duration: ['p(95)<200', {threshold: 'max<1000', abortOnFail: true, delayAbortEval: 10s}]
  'http_req_duration{name:login}': ['avg<100']
  http_req_failed: ['rate<0.01']
  checks: ['rate>0.99']
",
    );
    let r = &p.requests[0];
    assert_eq!((r.name.as_str(), &r.method), ("login", &Method::POST));
    assert_eq!(r.variants.rows, [["ann"], ["7"]]);
    assert_eq!(r.url.fill(&["ann".into()]), "http://127.0.0.1:1/login/ann");
    assert_eq!(r.headers.len(), 2);
    assert_eq!(r.sleep, Duration::from_millis(500));
    assert_eq!(
        p.checks,
        [
            "login: status is 200",
            "login: body contains \"welcome\"",
            "login: duration < 200ms"
        ]
    );
    assert_eq!(p.thresholds.len(), 5);
    assert!(p.thresholds[1].abort_on_fail);
    assert_eq!(p.thresholds[1].delay_abort_eval, Duration::from_secs(10));
    assert_eq!(p.sub_metrics.len(), 1);
    assert_eq!(
        p.sub_metrics[0].to_string(),
        "http_req_duration{name:login}"
    );
}

#[test]
fn csv_variants_are_read_through_the_callers_function() {
    let read = |path: &str| {
        assert_eq!(path, "users.csv");
        Ok("user,pass\nann,x\nbob,y\n".to_owned())
    };
    let source = "scenarios: {s: {executor: constant-vus, duration: 1s}}
requests:
  - {url: 'http://h:1/{{user}}', csv: users.csv}
";
    let p = load("t.yaml", source, &read).unwrap();
    assert_eq!(p.requests[0].variants.columns, ["user", "pass"]);
    assert_eq!(problems(source), "t.yaml:3:39: no files here");
}

#[test]
fn problems_name_the_place_and_what_was_expected() {
    let scenario = "scenarios: {s: {executor: constant-vus, duration: 1s}}\n";
    let cases = [
        (
            format!("{REQUESTS}scenarios:\n  s: {{executor: constant-vu, duration: 1s}}\n"),
            "t.yaml:4:17: unknown executor `constant-vu` (expected one of constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate)",
        ),
        (
            format!(
                "{REQUESTS}scenarios:\n  s: {{executor: constant-vus, duration: 1s, rate: 3}}\n"
            ),
            "t.yaml:4:51: `rate` does not apply to constant-vus (expected vus, duration, gracefulStop, startTime)",
        ),
        (
            format!("{REQUESTS}scenarios:\n  s: {{executor: constant-vus, duration: soon}}\n"),
            "t.yaml:4:41: `soon` is not a duration (expected e.g. 500ms, 30s, 1m30s, 2h)",
        ),
        (
            format!("{REQUESTS}scenarios:\n  s:\n    executor: constant-vus\n    duraton: 1s\n"),
            "t.yaml:6:5: unknown key `duraton` (expected one of executor, vus, duration, stages, startVUs, rate, timeUnit, startRate, preAllocatedVUs, maxVUs, gracefulStop, startTime)",
        ),
        (
            format!(
                "{REQUESTS}scenarios:\n  s: {{executor: constant-arrival-rate, rate: 5, duration: 1s}}\n"
            ),
            "t.yaml:4:6: missing key `preAllocatedVUs` (expected how many VUs constant-arrival-rate starts with)",
        ),
        (
            format!(
                "{REQUESTS}scenarios:\n  s: {{executor: constant-arrival-rate, rate: 5, duration: 1s, preAllocatedVUs: 5, maxVUs: 2}}\n"
            ),
            "t.yaml:4:91: maxVUs 2 is below preAllocatedVUs 5 (expected at least as many)",
        ),
        (
            format!(
                "{REQUESTS}scenarios:\n  s: {{executor: ramping-vus, stages: [{{duration: 1s, target: 1.5}}]}}\n"
            ),
            "t.yaml:4:62: target 1.5 is not a number of VUs (expected 0 or more)",
        ),
        (
            format!("{scenario}requests:\n  - url: https://example.com/\n"),
            "t.yaml:3:10: `https://example.com/` is https, which `bellwether load` does not speak yet (expected http://)",
        ),
        (
            format!("{scenario}requests:\n  - url: 'http://h:1/{{{{id}}}}'\n"),
            "t.yaml:3:10: `{{id}}` has no variants to fill it (expected `variants:` or `csv:` with a column `id`)",
        ),
        (
            format!("{scenario}requests:\n  - {{url: 'http://h:1/', method: 'GE T'}}\n"),
            "t.yaml:3:34: `GE T` is not an HTTP method (expected e.g. GET, POST)",
        ),
        (
            format!("{scenario}{REQUESTS}thresholds:\n  http_req_duration: ['p95<200']\n"),
            "t.yaml:5:23: unknown aggregate `p95` in `p95<200` (expected avg, min, med, max or p(N))",
        ),
        (
            format!(
                "{scenario}{REQUESTS}thresholds:\n  'http_req_duration{{name:login}}': ['avg<1']\n"
            ),
            "t.yaml:5:3: no request is named `login` (expected one of http://127.0.0.1:1/)",
        ),
        (
            format!(
                "{scenario}{REQUESTS}thresholds:\n  http_req_failed: [{{threshold: 'rate<0.1', abortOnFail: yes please}}]\n"
            ),
            "t.yaml:5:58: expected true or false",
        ),
        (
            scenario.to_owned(),
            "t.yaml:1:1: missing key `requests` (expected the requests of an iteration)",
        ),
        (
            format!("{scenario}{REQUESTS}  - url: [1]\n"),
            "t.yaml:4:10: expected a string here",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(source, expected)| problems(source) != *expected)
        .map(|(source, _)| format!("{source}=> {}", problems(source)))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_problem_is_reported_in_one_pass() {
    let text = problems(
        "scenarios:\n  a: {executor: constant-vus, duration: 0s}\n  b: {executor: ramping-vus}\nrequests:\n  - url: nowhere\n",
    );
    assert_eq!(
        text,
        "t.yaml:2:41: duration is 0 (expected e.g. 30s)
t.yaml:3:6: missing key `stages` (expected a list of {duration, target})
t.yaml:5:10: `nowhere` is not an absolute http:// URL (expected e.g. http://127.0.0.1:8080/path)"
    );
}
