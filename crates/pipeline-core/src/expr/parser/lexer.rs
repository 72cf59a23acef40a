//! Splits an expression into tokens, each with the character offset it starts at.

use super::super::value::parse_number;
use super::ParseError;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Token {
    Ident(String),
    Number(f64),
    String(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Star,
    Not,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl Token {
    /// How the token reads in a message.
    pub(super) fn describe(&self) -> String {
        match self {
            Token::Ident(name) => format!("`{name}`"),
            Token::Number(_) => "a number".to_owned(),
            Token::String(_) => "a string".to_owned(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Token::LParen => "(",
            Token::RParen => ")",
            Token::LBracket => "[",
            Token::RBracket => "]",
            Token::Comma => ",",
            Token::Dot => ".",
            Token::Star => "*",
            Token::Not => "!",
            Token::Eq => "==",
            Token::Ne => "!=",
            Token::Lt => "<",
            Token::Le => "<=",
            Token::Gt => ">",
            Token::Ge => ">=",
            Token::And => "&&",
            Token::Or => "||",
            Token::Ident(_) | Token::Number(_) | Token::String(_) => "",
        }
    }
}

/// A token and the 0-based character offset where it starts.
pub(super) type Spanned = (Token, usize);

pub(super) fn tokenize(source: &str) -> Result<Vec<Spanned>, ParseError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let two = |next: char| chars.get(i + 1) == Some(&next);
        let token = match c {
            _ if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => Token::LParen,
            ')' => Token::RParen,
            '[' => Token::LBracket,
            ']' => Token::RBracket,
            ',' => Token::Comma,
            '.' if !chars.get(i + 1).is_some_and(char::is_ascii_digit) => Token::Dot,
            '*' => Token::Star,
            '!' if two('=') => Token::Ne,
            '!' => Token::Not,
            '=' if two('=') => Token::Eq,
            '<' if two('=') => Token::Le,
            '<' => Token::Lt,
            '>' if two('=') => Token::Ge,
            '>' => Token::Gt,
            '&' if two('&') => Token::And,
            '|' if two('|') => Token::Or,
            '\'' => {
                let (text, end) = string(&chars, i)?;
                tokens.push((Token::String(text), start));
                i = end;
                continue;
            }
            _ if c.is_ascii_digit() || c == '-' || c == '.' => {
                let end = scan(&chars, i + 1, |c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-')
                });
                let text: String = chars[i..end].iter().collect();
                let n = parse_number(&text)
                    .ok_or_else(|| ParseError::new(start, format!("`{text}` is not a number")))?;
                tokens.push((Token::Number(n), start));
                i = end;
                continue;
            }
            _ if c.is_alphabetic() || c == '_' => {
                let end = scan(&chars, i + 1, |c| {
                    c.is_alphanumeric() || matches!(c, '_' | '-')
                });
                tokens.push((Token::Ident(chars[i..end].iter().collect()), start));
                i = end;
                continue;
            }
            '=' => {
                return Err(ParseError::new(
                    start,
                    "unexpected `=` (expected `==` to compare)",
                ));
            }
            '&' | '|' => {
                return Err(ParseError::new(
                    start,
                    format!("unexpected `{c}` (expected `{c}{c}`)"),
                ));
            }
            '"' => {
                return Err(ParseError::new(
                    start,
                    "unexpected `\"` (expected single quotes around strings, e.g. 'main')",
                ));
            }
            _ => {
                return Err(ParseError::new(
                    start,
                    format!("unexpected character `{}`", c.escape_default()),
                ));
            }
        };
        let width = token.symbol().chars().count().max(1);
        tokens.push((token, start));
        i += width;
    }
    Ok(tokens)
}

/// The end of the run of characters from `from` that satisfy `keep`.
fn scan(chars: &[char], from: usize, keep: impl Fn(char) -> bool) -> usize {
    let mut end = from;
    while end < chars.len() && keep(chars[end]) {
        end += 1;
    }
    end
}

/// A single-quoted string starting at `start`, where `''` stands for one quote.
fn string(chars: &[char], start: usize) -> Result<(String, usize), ParseError> {
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(ParseError::new(
                    start,
                    "unterminated string (expected a closing `'`)",
                ));
            }
            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                text.push('\'');
                i += 2;
            }
            Some('\'') => return Ok((text, i + 1)),
            Some(c) => {
                text.push(*c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<Token> {
        tokenize(source)
            .map(|t| t.into_iter().map(|(t, _)| t).collect())
            .unwrap_or_default()
    }

    #[test]
    fn tokens() {
        assert_eq!(
            kinds("steps.my-step.outputs['x'] != -1.5e2 && !a||b"),
            vec![
                Token::Ident("steps".into()),
                Token::Dot,
                Token::Ident("my-step".into()),
                Token::Dot,
                Token::Ident("outputs".into()),
                Token::LBracket,
                Token::String("x".into()),
                Token::RBracket,
                Token::Ne,
                Token::Number(-150.0),
                Token::And,
                Token::Not,
                Token::Ident("a".into()),
                Token::Or,
                Token::Ident("b".into()),
            ]
        );
        assert_eq!(kinds("'it''s'"), vec![Token::String("it's".into())]);
        assert_eq!(
            kinds("0xff .5"),
            vec![Token::Number(255.0), Token::Number(0.5)]
        );
    }

    #[test]
    fn errors_say_where() {
        let err = |s: &str| tokenize(s).err().map(|e| (e.at, e.message));
        assert_eq!(
            err("a = b"),
            Some((2, "unexpected `=` (expected `==` to compare)".into()))
        );
        assert_eq!(
            err("x == 'open"),
            Some((5, "unterminated string (expected a closing `'`)".into()))
        );
        assert_eq!(err("1.2.3"), Some((0, "`1.2.3` is not a number".into())));
        assert_eq!(
            err("a == \"b\""),
            Some((
                5,
                "unexpected `\"` (expected single quotes around strings, e.g. 'main')".into()
            ))
        );
    }
}
