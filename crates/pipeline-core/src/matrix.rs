//! Matrix expansion with GitHub Actions' rules: the product of the axes, minus `exclude`,
//! then each `include` entry either extends the combinations it agrees with or, agreeing
//! with none, becomes a combination of its own.

use crate::expr::Value;

/// GitHub Actions refuses matrices larger than this; so does bellwether.
pub const MAX_COMBINATIONS: usize = 256;

/// One combination: matrix keys and their values, axes first in the order written.
pub type Combination = Vec<(String, Value)>;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matrix {
    pub axes: Vec<(String, Vec<Value>)>,
    pub include: Vec<Combination>,
    pub exclude: Vec<Combination>,
}

impl Matrix {
    /// A matrix computed at run time, e.g. from `fromJSON(needs.plan.outputs.matrix)`.
    pub fn from_value(value: &Value) -> Result<Matrix, String> {
        let Value::Object(map) = value else {
            return Err(format!(
                "the matrix is {} (expected an object like {{\"os\": [\"ubuntu\"], \"include\": [...]}})",
                kind(value)
            ));
        };
        let mut matrix = Matrix::default();
        for (key, v) in map {
            match (key.as_str(), v) {
                ("include" | "exclude", Value::Array(items)) => {
                    let entries = items
                        .iter()
                        .map(|item| match item {
                            Value::Object(m) => {
                                Ok(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                            }
                            other => {
                                Err(format!("`{key}` holds {} (expected objects)", kind(other)))
                            }
                        })
                        .collect::<Result<Vec<Combination>, String>>()?;
                    if key == "include" {
                        matrix.include = entries;
                    } else {
                        matrix.exclude = entries;
                    }
                }
                (_, Value::Array(items)) => matrix.axes.push((key.clone(), items.clone())),
                (_, other) => {
                    return Err(format!(
                        "matrix key `{key}` is {} (expected a list of values)",
                        kind(other)
                    ));
                }
            }
        }
        Ok(matrix)
    }

    /// Every key a combination may have: the axes and what `include` adds.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.axes.iter().map(|(k, _)| k.as_str()).collect();
        for (k, _) in self.include.iter().flatten() {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
        keys
    }

    pub fn expand(&self) -> Result<Vec<Combination>, String> {
        let mut product: Vec<Combination> = vec![Vec::new()];
        for (key, values) in &self.axes {
            if values.is_empty() {
                return Err(format!(
                    "matrix axis `{key}` has no values (expected a non-empty list)"
                ));
            }
            let size = product.len().saturating_mul(values.len());
            if size > MAX_COMBINATIONS {
                return Err(too_many(size));
            }
            product = product
                .iter()
                .flat_map(|combo| {
                    values.iter().map(move |v| {
                        let mut next = combo.clone();
                        next.push((key.clone(), v.clone()));
                        next
                    })
                })
                .collect();
        }
        if self.axes.is_empty() {
            product.clear();
        }
        product.retain(|combo| !self.exclude.iter().any(|ex| agrees_all(combo, ex)));
        let originals = product.len();
        let axis = |k: &str| self.axes.iter().any(|(a, _)| a == k);
        for entry in &self.include {
            let mut extended = false;
            for combo in product.iter_mut().take(originals) {
                // Only the original axes decide; keys an earlier include added may be replaced.
                let fits = entry
                    .iter()
                    .filter(|(k, _)| axis(k))
                    .all(|(k, v)| get(combo, k) == Some(v));
                if fits {
                    for (k, v) in entry {
                        set(combo, k, v);
                    }
                    extended = true;
                }
            }
            if !extended {
                product.push(entry.clone());
            }
        }
        if product.len() > MAX_COMBINATIONS {
            return Err(too_many(product.len()));
        }
        Ok(product)
    }
}

fn get<'a>(combo: &'a Combination, key: &str) -> Option<&'a Value> {
    combo.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn set(combo: &mut Combination, key: &str, value: &Value) {
    match combo.iter_mut().find(|(k, _)| k == key) {
        Some((_, v)) => *v = value.clone(),
        None => combo.push((key.to_owned(), value.clone())),
    }
}

fn agrees_all(combo: &Combination, entry: &Combination) -> bool {
    entry.iter().all(|(k, v)| get(combo, k) == Some(v))
}

fn too_many(n: usize) -> String {
    format!("the matrix has {n} combinations (expected at most {MAX_COMBINATIONS})")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `ubuntu, 18`: a combination's values, as the job's display name shows them.
pub fn describe(combo: &Combination) -> String {
    let values: Vec<String> = combo
        .iter()
        .map(|(_, v)| match v {
            Value::Array(_) | Value::Object(_) => v.to_json().to_string(),
            other => other.to_text(),
        })
        .collect();
    values.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_matrix(json: serde_json::Value) -> Matrix {
        Matrix::from_value(&Value::from_json(&json)).expect("a matrix")
    }

    fn show(matrix: &Matrix) -> String {
        match matrix.expand() {
            Ok(combos) => combos
                .iter()
                .map(|c| {
                    let pairs: Vec<String> = c
                        .iter()
                        .map(|(k, v)| format!("{k}={}", v.to_json()))
                        .collect();
                    pairs.join(" ")
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn product_exclude_include_like_github() {
        // The example from GitHub's documentation of `include`.
        let m = json_matrix(serde_json::json!({
            "fruit": ["apple", "pear"],
            "animal": ["cat", "dog"],
            "include": [
                {"color": "green"},
                {"color": "pink", "animal": "cat"},
                {"fruit": "apple", "shape": "circle"},
                {"fruit": "banana"},
                {"fruit": "banana", "animal": "cat"}
            ]
        }));
        insta::assert_snapshot!(show(&m), @r#"
        animal="cat" fruit="apple" color="pink" shape="circle"
        animal="cat" fruit="pear" color="pink"
        animal="dog" fruit="apple" color="green" shape="circle"
        animal="dog" fruit="pear" color="green"
        fruit="banana"
        animal="cat" fruit="banana"
        "#);
        let m = json_matrix(serde_json::json!({
            "os": ["ubuntu", "macos"],
            "node": [16, 18, 20],
            "exclude": [{"os": "macos", "node": 16}]
        }));
        insta::assert_snapshot!(show(&m), @r#"
        node=16 os="ubuntu"
        node=18 os="ubuntu"
        node=18 os="macos"
        node=20 os="ubuntu"
        node=20 os="macos"
        "#);
        let m = json_matrix(serde_json::json!({"include": [{"site": "a"}, {"site": "b"}]}));
        insta::assert_snapshot!(show(&m), @r#"
        site="a"
        site="b"
        "#);
    }

    #[test]
    fn problems() {
        let big = json_matrix(serde_json::json!({
            "a": (0..10).collect::<Vec<_>>(), "b": (0..10).collect::<Vec<_>>(), "c": (0..10).collect::<Vec<_>>()
        }));
        assert_eq!(
            show(&big),
            "error: the matrix has 1000 combinations (expected at most 256)"
        );
        assert_eq!(
            show(&json_matrix(serde_json::json!({"a": []}))),
            "error: matrix axis `a` has no values (expected a non-empty list)"
        );
        assert_eq!(
            Matrix::from_value(&Value::string("x")).err(),
            Some("the matrix is a string (expected an object like {\"os\": [\"ubuntu\"], \"include\": [...]})".to_owned())
        );
        assert_eq!(
            Matrix::from_value(&Value::from_json(&serde_json::json!({"os": "linux"}))).err(),
            Some("matrix key `os` is a string (expected a list of values)".to_owned())
        );
    }
}
