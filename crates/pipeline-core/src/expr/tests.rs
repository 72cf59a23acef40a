//! The language as a table: each case is an expression and what it evaluates to (the value as
//! JSON), or the error it reports.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

struct Files;

impl HashFiles for Files {
    fn hash_files(&self, patterns: &[String]) -> Result<String, String> {
        Ok(format!("hash-of-{}", patterns.join("+")))
    }
}

fn contexts() -> BTreeMap<String, Value> {
    let json = serde_json::json!({
        "github": {
            "ref": "refs/heads/main",
            "ref_name": "main",
            "event_name": "push",
            "event": { "commits": [ { "message": "fix: typo" }, { "message": "feat: canary" } ] }
        },
        "env": { "REGION": "eu-west-1", "replicas": "3" },
        "matrix": { "os": "ubuntu", "node": 18 },
        "needs": { "build": { "result": "success", "outputs": { "image": "api:1.2.3", "list": "[\"a\",\"b\"]" } } },
        "steps": { "meta": { "outcome": "success", "outputs": { "version": "1.2.3" } } },
        "inputs": { "environment": "staging", "dry-run": true }
    });
    let Value::Object(map) = Value::from_json(&json) else {
        unreachable!("the fixture is an object")
    };
    map
}

/// Evaluates `source` with the fixture, in an `if` of a step whose predecessors succeeded.
fn check(source: &str) -> String {
    let contexts = contexts();
    let scope = Scope::new(&contexts)
        .with_status(Status {
            success: true,
            failure: false,
            cancelled: false,
        })
        .with_files(&Files);
    match parse(source) {
        Err(e) => format!("parse error: {e}"),
        Ok(expr) => match evaluate(&expr, &scope) {
            Ok(v) => v.to_json().to_string(),
            Err(e) => format!("error: {e}"),
        },
    }
}

#[test]
fn literals_contexts_and_operators() {
    let cases = [
        ("null", "null"),
        ("true", "true"),
        ("-1.5", "-1.5"),
        ("0xff", "255"),
        ("'it''s'", "\"it's\""),
        ("github.ref", "\"refs/heads/main\""),
        ("GITHUB.REF_NAME", "\"main\""),
        ("github['event_name']", "\"push\""),
        ("github.nothing.deeper", "null"),
        ("matrix.node", "18"),
        ("needs.build.outputs.image", "\"api:1.2.3\""),
        ("steps.meta.outputs.version", "\"1.2.3\""),
        ("inputs.dry-run", "true"),
        ("github.event.commits[1].message", "\"feat: canary\""),
        (
            "github.event.commits.*.message",
            "[\"fix: typo\",\"feat: canary\"]",
        ),
        ("github.event.commits[*].message[0]", "[]"),
        ("github.ref == 'refs/heads/MAIN'", "true"),
        ("matrix.node == '18'", "true"),
        ("matrix.node >= 16 && matrix.node < 20", "true"),
        ("'b' > 'A'", "true"),
        ("'x' < 1", "false"),
        ("env.replicas > 2", "true"),
        ("!inputs.dry-run", "false"),
        ("!!'x'", "true"),
        ("null || 'fallback'", "\"fallback\""),
        ("'first' || 'second'", "\"first\""),
        ("'' && 'never'", "\"\""),
        (
            "github.event_name == 'push' && github.ref_name == 'main' || false",
            "true",
        ),
        ("(1 == 1) != (2 == 3)", "true"),
        ("NaN == NaN", "false"),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(source, want)| {
            let got = check(source);
            (got != *want).then(|| format!("{source}: got {got}, want {want}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn functions() {
    let cases = [
        ("contains('Hello world', 'WORLD')", "true"),
        ("contains(fromJSON('[\"a\",\"b\"]'), 'B')", "true"),
        (
            "contains(github.event.commits.*.message, 'fix: typo')",
            "true",
        ),
        ("contains(fromJSON(needs.build.outputs.list), 'c')", "false"),
        ("startsWith(github.ref, 'refs/heads/')", "true"),
        ("endsWith('api.tar.gz', '.GZ')", "true"),
        ("format('{0}-{1}-{0}', 'a', 2)", "\"a-2-a\""),
        ("format('{{literal}} {0}', 'x')", "\"{literal} x\""),
        (
            "join(fromJSON('[1, \"two\", true]'), ' | ')",
            "\"1 | two | true\"",
        ),
        ("join(fromJSON('[\"a\",\"b\"]'))", "\"a,b\""),
        ("join('plain')", "\"plain\""),
        (
            "toJSON(matrix)",
            "\"{\\n  \\\"node\\\": 18,\\n  \\\"os\\\": \\\"ubuntu\\\"\\n}\"",
        ),
        ("fromJSON('{\"a\": [1, 2.5]}').a[1]", "2.5"),
        ("fromJSON('3')", "3"),
        (
            "hashFiles('**/package-lock.json', 'go.sum')",
            "\"hash-of-**/package-lock.json+go.sum\"",
        ),
        ("success()", "true"),
        ("failure()", "false"),
        ("always()", "true"),
        ("cancelled()", "false"),
        ("Success() && ALWAYS()", "true"),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(source, want)| {
            let got = check(source);
            (got != *want).then(|| format!("{source}: got {got}, want {want}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn errors() {
    insta::assert_snapshot!(
        [
            "",
            "github.ref ==",
            "a = b",
            "a && || b",
            "(a",
            "a b",
            "github.",
            "x[1",
            "nosuch(1)",
            "contains('a')",
            "success(1)",
            "format('{0}')",
            "format('{x}', 1)",
            "format('{0', 1)",
            "format('}', 1)",
            "fromJSON('{nope')",
            &format!("{}1{}", "(".repeat(70), ")".repeat(70)),
            &vec!["a"; 600].join(" || "),
        ]
        .iter()
        .map(|s| format!("{:.30} => {}", s, check(s)))
        .collect::<Vec<_>>()
        .join("\n"),
        @"
     => parse error: empty expression (expected a value) at character 1
    github.ref == => parse error: the expression ends too early (expected a value) at character 14
    a = b => parse error: unexpected `=` (expected `==` to compare) at character 3
    a && || b => parse error: unexpected `||` (expected a value) at character 6
    (a => parse error: found the end (expected `)`) at character 3
    a b => parse error: unexpected `b` (expected an operator like == or && between values) at character 3
    github. => parse error: found the end (expected a property name after `.`) at character 8
    x[1 => parse error: found the end (expected `]`) at character 4
    nosuch(1) => parse error: unknown function `nosuch` (expected one of success, failure, always, cancelled, contains, startsWith, endsWith, format, join, toJSON, fromJSON, hashFiles) at character 1
    contains('a') => parse error: contains() takes 2 arguments, found 1 at character 1
    success(1) => parse error: success() takes 0 arguments, found 1 at character 1
    format('{0}') => error: format: '{0}' uses {0} but has 0 arguments
    format('{x}', 1) => error: format: `{x}` is not a placeholder like {0} in '{x}'
    format('{0', 1) => error: format: `{0` has no closing `}` in '{0'
    format('}', 1) => error: format: a lone `}` in '}' (expected `}}` for a brace)
    fromJSON('{nope') => error: fromJSON: `{nope` is not JSON: key must be a string at line 1 column 2
    (((((((((((((((((((((((((((((( => parse error: nested too deeply (expected at most 64 levels) at character 66
    a || a || a || a || a || a ||  => parse error: too long (expected at most 1000 tokens) at character 2501
    "
    );
}

#[test]
fn status_functions_only_where_allowed() {
    let contexts = contexts();
    let scope = Scope::new(&contexts);
    let expr = parse("always()").expect("valid");
    assert_eq!(
        evaluate(&expr, &scope).map_err(|e| e.to_string()),
        Err("always() is only available in `if`".to_owned())
    );
    let expr = parse("hashFiles('x')").expect("valid");
    assert!(evaluate(&expr, &scope).is_err());
}

#[test]
fn templates_interpolate_and_keep_lone_values() {
    let contexts = contexts();
    let scope = Scope::new(&contexts);
    let t = Template::parse("node-${{ matrix.node }}-${{ matrix.os }}.tar").expect("valid");
    assert_eq!(t.render(&scope), Ok("node-18-ubuntu.tar".to_owned()));
    let lone = Template::parse("${{ fromJSON('[1,2]') }}").expect("valid");
    assert_eq!(
        lone.evaluate(&scope),
        Ok(Value::Array(vec![Value::Number(1.0), Value::Number(2.0)]))
    );
    let braces = Template::parse("${{ '}}' }} and }} alone").expect("valid");
    assert_eq!(braces.render(&scope), Ok("}} and }} alone".to_owned()));
    assert_eq!(Template::literal("plain").as_literal(), Some("plain"));
    let err = |s: &str| Template::parse(s).err().map(|e| e.to_string());
    assert_eq!(
        err("echo ${{ matrix.os"),
        Some("`${{` has no closing `}}` at character 6".to_owned())
    );
    assert_eq!(
        err("x ${{ a == }}"),
        Some("the expression ends too early (expected a value) at character 12".to_owned())
    );
}

#[test]
fn secrets_reach_a_script_by_name_never_in_its_text() {
    let mut contexts = contexts();
    let secrets = serde_json::json!({ "TOKEN": "t0p", "DB": "d8" });
    contexts.insert("secrets".to_owned(), Value::from_json(&secrets));
    let scope = Scope::new(&contexts);
    let t = Template::parse(
        "login ${{ secrets.TOKEN }} on ${{ matrix.os }} with ${{ format('{0}/x', secrets['DB']) }}",
    )
    .expect("valid");
    let script = t.render_script(&scope, true).expect("renders");
    assert_eq!(
        script.text,
        "login ${BELLWETHER_SECRET_0} on ubuntu with ${BELLWETHER_SECRET_1}"
    );
    assert_eq!(
        script.env,
        [
            ("BELLWETHER_SECRET_0".to_owned(), "t0p".to_owned()),
            ("BELLWETHER_SECRET_1".to_owned(), "d8/x".to_owned())
        ]
    );
    let refused = t
        .render_script(&scope, false)
        .expect_err("python cannot expand");
    assert!(refused.0.contains("`env:`"), "{refused}");
    let github = serde_json::json!({ "head_ref": "x$(touch pwned)", "sha": "abc",
        "event": { "pull_request": { "title": "`reboot`", "number": 7 } } });
    contexts.insert("github".to_owned(), Value::from_json(&github));
    let scope = Scope::new(&contexts);
    let t = Template::parse(
        "git checkout ${{ github.head_ref }} # ${{ github.event.pull_request.title }} #${{ github.event.pull_request.number }} ${{ github.sha }}",
    )
    .expect("valid");
    let script = t.render_script(&scope, true).expect("renders");
    assert_eq!(
        script.text,
        "git checkout ${BELLWETHER_TEXT_0} # ${BELLWETHER_TEXT_1} #7 abc"
    );
    assert_eq!(script.env[0].1, "x$(touch pwned)");
    let pasted = t.render_script(&scope, false).expect("renders");
    assert!(pasted.text.starts_with("git checkout x$(touch pwned)"));
    let plain = Template::parse("echo ${{ matrix.os }}").expect("valid");
    assert_eq!(
        plain.render_script(&scope, false),
        Ok(Script {
            text: "echo ubuntu".to_owned(),
            env: Vec::new()
        })
    );
}

#[test]
fn conditions_imply_success_unless_they_ask_for_status() {
    let contexts = contexts();
    let failed = Status {
        success: false,
        failure: true,
        cancelled: false,
    };
    let scope = Scope::new(&contexts).with_status(failed);
    let passes = |s: &str| {
        Condition::parse(s)
            .map_err(|e| e.to_string())
            .and_then(|c| c.passes(&scope).map_err(|e| e.to_string()))
    };
    assert_eq!(passes("github.ref_name == 'main'"), Ok(false));
    assert_eq!(
        passes("${{ failure() && github.ref_name == 'main' }}"),
        Ok(true)
    );
    assert_eq!(passes("  always()"), Ok(true));
    assert_eq!(passes("cancelled()"), Ok(false));
    assert_eq!(
        passes("${{ a }} && ${{ b }}").err(),
        Some("the condition mixes `${{ }}` with other text, which makes it a non-empty string that is always true (expected one expression, e.g. `github.ref == 'refs/heads/main' && success()`) at character 1".to_owned())
    );
    assert_eq!(
        passes("  a ==").err(),
        Some("the expression ends too early (expected a value) at character 7".to_owned())
    );
}

#[test]
fn references_name_contexts_and_literal_paths() {
    let expr = parse(
        "needs.build.outputs[steps.meta.outputs.key] || fromJSON(inputs.list)[0].name || github.event.commits.*.id",
    )
    .expect("valid");
    let refs: Vec<String> = expr
        .references()
        .iter()
        .map(|r| format!("{}:{}", r.context, r.path.join(".")))
        .collect();
    assert_eq!(
        refs,
        [
            "needs:build.outputs",
            "steps:meta.outputs.key",
            "inputs:list",
            "github:event.commits"
        ]
    );
}

fn arb_expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        Just(Expr::Literal(Value::Null)),
        any::<bool>().prop_map(|b| Expr::Literal(Value::Bool(b))),
        (-1000i32..1000).prop_map(|n| Expr::Literal(Value::Number(f64::from(n) / 4.0))),
        "[a-z' ]{0,6}".prop_map(|s| Expr::Literal(Value::String(s))),
        prop::sample::select(vec!["github", "env", "matrix", "needs", "steps"])
            .prop_map(|c| Expr::Context(c.to_owned())),
    ];
    leaf.prop_recursive(4, 32, 3, |inner| {
        prop_oneof![
            (inner.clone(), "[a-z][a-z0-9_-]{0,5}").prop_filter_map(
                "keywords are literals",
                |(e, p)| {
                    (!matches!(p.as_str(), "true" | "false" | "null"))
                        .then(|| Expr::Property(Box::new(e), p))
                }
            ),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::Index(Box::new(a), Box::new(b))),
            inner.clone().prop_map(|e| Expr::Star(Box::new(e))),
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            (
                prop::sample::select(vec![
                    BinaryOp::Eq,
                    BinaryOp::Ne,
                    BinaryOp::Lt,
                    BinaryOp::Le,
                    BinaryOp::Gt,
                    BinaryOp::Ge,
                    BinaryOp::And,
                    BinaryOp::Or,
                ]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, a, b)| Expr::Binary(op, Box::new(a), Box::new(b))),
            prop::collection::vec(inner, 2..=2)
                .prop_map(|args| Expr::Call(Function::Contains, args)),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Printing an expression and parsing it back gives the same tree.
    #[test]
    fn display_parses_back(expr in arb_expr()) {
        let printed = expr.to_string();
        prop_assert_eq!(parse(&printed), Ok(expr), "{}", printed);
    }

    /// Any text parses to a tree or an error, and any tree evaluates to a value or an error.
    #[test]
    fn no_input_panics(source in "\\PC{0,80}") {
        let contexts = contexts();
        let scope = Scope::new(&contexts).with_status(Status::default()).with_files(&Files);
        if let Ok(expr) = parse(&source) {
            let _ = evaluate(&expr, &scope);
        }
        let _ = Template::parse(&source);
        let _ = Condition::parse(&source);
    }
}
