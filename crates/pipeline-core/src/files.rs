//! The files steps write to hand values back: `$BELLWETHER_OUTPUT` (`$GITHUB_OUTPUT`) for step
//! outputs and `$BELLWETHER_ENV` (`$GITHUB_ENV`) for the environment of later steps. Each
//! holds `name=value` lines, or `name<<DELIMITER`, then lines, then the delimiter alone, for
//! values that span lines.

/// The `(name, value)` pairs in the file, in order; later ones win when names repeat.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        let heredoc = line.find("<<");
        let equals = line.find('=');
        match (equals, heredoc) {
            (Some(eq), h) if h.is_none_or(|h| eq < h) => {
                let (name, value) = line.split_at(eq);
                pairs.push((checked_name(name, index)?, value[1..].to_owned()));
            }
            (_, Some(h)) => {
                let name = checked_name(&line[..h], index)?;
                let delimiter = &line[h + 2..];
                if delimiter.is_empty() {
                    return Err(format!(
                        "line {}: `{line}` has no delimiter after `<<`",
                        index + 1
                    ));
                }
                let mut value: Vec<&str> = Vec::new();
                let mut closed = false;
                for (_, l) in lines.by_ref() {
                    if l == delimiter {
                        closed = true;
                        break;
                    }
                    value.push(l);
                }
                if !closed {
                    return Err(format!(
                        "line {}: the value of `{name}` has no closing `{delimiter}` line",
                        index + 1
                    ));
                }
                pairs.push((name, value.join("\n")));
            }
            _ => {
                return Err(format!(
                    "line {}: `{line}` is neither `name=value` nor `name<<DELIMITER`",
                    index + 1
                ));
            }
        }
    }
    Ok(pairs)
}

fn checked_name(name: &str, index: usize) -> Result<String, String> {
    if name.is_empty() {
        return Err(format!("line {}: a value without a name", index + 1));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let text = "version=1.2.3\nurl=http://x/?a=b\n\nnotes<<EOF\nline one\nline=two\nEOF\nversion=1.2.4\n";
        assert_eq!(
            parse(text),
            Ok(vec![
                ("version".into(), "1.2.3".into()),
                ("url".into(), "http://x/?a=b".into()),
                ("notes".into(), "line one\nline=two".into()),
                ("version".into(), "1.2.4".into()),
            ])
        );
        assert_eq!(
            parse("empty<<E\nE\n"),
            Ok(vec![("empty".into(), String::new())])
        );
    }

    #[test]
    fn malformed_files() {
        assert_eq!(
            parse("notes<<EOF\nno end"),
            Err("line 1: the value of `notes` has no closing `EOF` line".into())
        );
        assert_eq!(
            parse("just text"),
            Err("line 1: `just text` is neither `name=value` nor `name<<DELIMITER`".into())
        );
        assert_eq!(parse("=x"), Err("line 1: a value without a name".into()));
        assert_eq!(
            parse("a<<"),
            Err("line 1: `a<<` has no delimiter after `<<`".into())
        );
    }
}
