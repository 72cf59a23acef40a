use std::sync::Arc;

use super::*;

fn list(values: &[f64]) -> Value {
    Value::List(Arc::new(values.iter().map(|v| Value::Float(*v)).collect()))
}

fn eval(text: &str, result: Value) -> Result<Value, String> {
    let program = compile(text).map_err(|e| e.to_string())?;
    let mut context = context();
    context.add_variable_from_value("result", result);
    program.execute(&context).map_err(|e| e.to_string())
}

#[test]
fn expr_lang_spellings_become_cel() {
    let cases = [
        ("result >= 0.95", "result >= 0.95"),
        (
            "result[0] >= 0.95 and result[0] < 2",
            "result[0] >= 0.95 && result[0] < 2",
        ),
        ("not (result or x)", "! (result || x)"),
        ("len(result) > 0", "size(result) > 0"),
        (
            "result.len(x) and result.and",
            "result.len(x) && result.and",
        ),
        (
            "result == 'a and b' or result == \"not\"",
            "result == 'a and b' || result == \"not\"",
        ),
        ("all(result, {# > 0.9})", "(result).all(it0, it0 > 0.9)"),
        ("all(result, # > 0.9)", "(result).all(it0,  it0 > 0.9)"),
        (
            "none(result, {isNaN(#)})",
            "!((result).exists(it0, isNaN(it0)))",
        ),
        (
            "count(result, {# > 1}) == 2",
            "size((result).filter(it0, it0 > 1)) == 2",
        ),
        (
            "all(result, {any(#, {# > 1})})",
            "(result).all(it0, (it0).exists(it1, it1 > 1))",
        ),
        ("result.all(x, x > 0.9)", "result.all(x, x > 0.9)"),
        ("result == nil", "result == null"),
    ];
    for (text, want) in cases {
        assert_eq!(translate::translate(text).text, want, "{text}");
    }
}

#[test]
fn argo_conditions_hold_on_vectors_and_documents() {
    let vector = list(&[0.97, 0.99]);
    let cases = [
        ("result[0] >= 0.95", vector.clone(), true),
        ("result[1] >= 0.995", vector.clone(), false),
        (
            "len(result) == 2 && size(result) == 2",
            vector.clone(),
            true,
        ),
        ("all(result, {# > 0.9})", vector.clone(), true),
        ("result.all(x, x > 0.98)", vector.clone(), false),
        (
            "any(result, # > 0.98) and not isNaN(result[0])",
            vector.clone(),
            true,
        ),
        ("none(result, {isInf(#)})", vector.clone(), true),
        ("one(result, {# > 0.98})", vector.clone(), true),
        ("count(result, {# >= 0.97}) == 2", vector, true),
        ("isNaN(result)", Value::Float(f64::NAN), true),
        ("result >= 0.95 || result < 0", Value::Float(0.96), true),
    ];
    for (text, result, want) in cases {
        assert_eq!(eval(text, result), Ok(Value::Bool(want)), "{text}");
    }
    let document = eval(
        "result.status == 'ok' and result.ratio[0] > 0.5",
        Value::Map(
            std::collections::HashMap::from([
                ("status".to_owned(), Value::from("ok")),
                ("ratio".to_owned(), list(&[0.75])),
            ])
            .into(),
        ),
    );
    assert_eq!(document, Ok(Value::Bool(true)));
}

#[test]
fn parse_errors_point_into_the_text_as_written() {
    let cases = [
        ("result[0 >= 0.95", (1, 17)),
        ("result >= 0.95 and and", (1, 20)),
        ("all(result, {# >})", (1, 18)),
        ("result >=\n  )", (2, 3)),
    ];
    for (text, (line, column)) in cases {
        let error = compile(text).map(|_| ()).expect_err(text);
        assert_eq!(
            (error.line, error.column),
            (line, column),
            "{text}: {error}"
        );
    }
}

#[test]
fn odd_text_is_an_error_never_a_panic() {
    let texts = [
        "",
        "#",
        "all(",
        "all(result, {",
        "'unterminated",
        "\"a\\",
        "len",
        "é and ü > 1",
        "all(x,{#})",
        "none(a, b, c)",
        "any(result, {})",
        ")(",
        "result[0] >= 0.95 \\",
        "map(result, {# * 2})[0] > 1 and é",
    ];
    for text in texts {
        let _ = compile(text);
    }
}
