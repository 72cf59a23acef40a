//! Request variants: text with `{{column}}` placeholders, filled from a row of a list or a CSV
//! file, one row per iteration in turn.

use std::collections::BTreeMap;

/// Text with placeholders, split once so filling it is a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    /// The index of a column.
    Column(usize),
}

impl Template {
    /// Splits `text` at its placeholders; each must name one of `columns`.
    pub fn parse(text: &str, columns: &[String]) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open..].find("}}") else {
                return Err(format!("`{{{{` without `}}}}` in `{text}`"));
            };
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let name = rest[open + 2..open + close].trim();
            let Some(index) = columns.iter().position(|c| c == name) else {
                return Err(if columns.is_empty() {
                    format!(
                        "`{{{{{name}}}}}` has no variants to fill it (expected `variants:` or `csv:` with a column `{name}`)"
                    )
                } else {
                    format!(
                        "unknown column `{name}` in `{text}` (expected one of {})",
                        columns.join(", ")
                    )
                });
            };
            parts.push(Part::Column(index));
            rest = &rest[open + close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// The text when it has no placeholders.
    pub fn fixed(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Text(text)] => Some(text),
            _ => None,
        }
    }

    /// The text with `row`'s values in place of the placeholders.
    pub fn fill(&self, row: &[String]) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Column(i) => out.push_str(row.get(*i).map_or("", String::as_str)),
            }
        }
        out
    }
}

/// Rows of values under named columns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variants {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Variants {
    /// From a list of mappings; a key missing from a row is empty there.
    pub fn from_maps(maps: &[BTreeMap<String, String>]) -> Self {
        let mut columns: Vec<String> = Vec::new();
        for map in maps {
            for key in map.keys() {
                if !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
        }
        let rows = maps
            .iter()
            .map(|m| {
                columns
                    .iter()
                    .map(|c| m.get(c).cloned().unwrap_or_default())
                    .collect()
            })
            .collect();
        Self { columns, rows }
    }

    /// From CSV text (RFC 4180: quoted fields, `""` for a quote); the first row names the
    /// columns. Errors name the 1-based line.
    pub fn from_csv(text: &str) -> Result<Self, String> {
        let mut records = parse_csv(text)?.into_iter();
        let Some((_, columns)) = records.next() else {
            return Err("the file is empty (expected a header row of column names)".to_owned());
        };
        let mut rows = Vec::new();
        for (line, row) in records {
            if row.len() != columns.len() {
                return Err(format!(
                    "line {line} has {} fields (expected {}, as the header row)",
                    row.len(),
                    columns.len()
                ));
            }
            rows.push(row);
        }
        if rows.is_empty() {
            return Err("the file has no rows under its header".to_owned());
        }
        Ok(Self { columns, rows })
    }
}

/// Each record with the line it starts on; blank lines are skipped.
fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        loop {
            match chars.next() {
                None => break,
                Some('"') if quoted => {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        quoted = false;
                    }
                }
                Some('"') if field.is_empty() => quoted = true,
                Some('\n') if quoted => {
                    line += 1;
                    field.push('\n');
                }
                Some(c) if quoted => field.push(c),
                Some(',') => fields.push(std::mem::take(&mut field)),
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some('\n') => {
                    line += 1;
                    break;
                }
                Some(c) => field.push(c),
            }
        }
        if quoted {
            return Err(format!("line {start} has a quote that never closes"));
        }
        fields.push(field);
        if !(fields.len() == 1 && fields[0].is_empty()) {
            records.push((start, fields));
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_from_a_row() {
        let columns = vec!["user".to_owned(), "id".to_owned()];
        let t = Template::parse("/users/{{ id }}?who={{user}}", &columns).unwrap();
        assert_eq!(t.fill(&["ann".into(), "7".into()]), "/users/7?who=ann");
        assert_eq!(t.fixed(), None);
        assert_eq!(
            Template::parse("/plain", &[]).unwrap().fixed(),
            Some("/plain")
        );
        assert_eq!(
            Template::parse("/{{who}}", &columns).unwrap_err(),
            "unknown column `who` in `/{{who}}` (expected one of user, id)"
        );
        assert_eq!(
            Template::parse("/{{who}}", &[]).unwrap_err(),
            "`{{who}}` has no variants to fill it (expected `variants:` or `csv:` with a column `who`)"
        );
        assert_eq!(
            Template::parse("/{{who", &columns).unwrap_err(),
            "`{{` without `}}` in `/{{who`"
        );
    }

    #[test]
    fn csv_follows_rfc_4180() {
        let v = Variants::from_csv("user,note\r\nann,\"a, \"\"quoted\"\"\nnote\"\n\nbob,plain\n")
            .unwrap();
        assert_eq!(v.columns, ["user", "note"]);
        assert_eq!(
            v.rows,
            [
                vec!["ann".to_owned(), "a, \"quoted\"\nnote".to_owned()],
                vec!["bob".to_owned(), "plain".to_owned()]
            ]
        );
        assert_eq!(
            Variants::from_csv("a,b\n1,2\n3\n").unwrap_err(),
            "line 3 has 1 fields (expected 2, as the header row)"
        );
        assert_eq!(
            Variants::from_csv("a\n\"open\n").unwrap_err(),
            "line 2 has a quote that never closes"
        );
        assert_eq!(
            Variants::from_csv("a,b\n").unwrap_err(),
            "the file has no rows under its header"
        );
    }

    #[test]
    fn listed_variants_take_every_key_as_a_column() {
        let maps: Vec<BTreeMap<String, String>> = vec![
            [("user".to_owned(), "ann".to_owned())].into(),
            [
                ("id".to_owned(), "2".to_owned()),
                ("user".to_owned(), "bob".to_owned()),
            ]
            .into(),
        ];
        let v = Variants::from_maps(&maps);
        assert_eq!(v.columns, ["user", "id"]);
        assert_eq!(v.rows[0], ["ann", ""]);
    }
}
