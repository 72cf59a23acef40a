//! A recursive-descent parser with GitHub Actions' precedence, loosest first:
//! `||`, `&&`, `==` `!=`, `<` `<=` `>` `>=`, `!`, then property access, indexing and calls.

mod lexer;

use super::ast::{BinaryOp, Expr, Function};
use super::value::Value;
use lexer::{Spanned, Token, tokenize};

/// Nesting deeper than this is refused rather than risking the stack; GitHub stops at 50.
const MAX_DEPTH: usize = 64;
/// A tree is never deeper than its token count, so this bounds the recursion of evaluating,
/// printing and dropping it too, whatever the shape. Real expressions are far shorter.
const MAX_TOKENS: usize = 1_000;

/// What is wrong with an expression, and the 0-based character offset where it was noticed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at character {}", .at + 1)]
pub struct ParseError {
    pub at: usize,
    pub message: String,
}

impl ParseError {
    pub(super) fn new(at: usize, message: impl Into<String>) -> Self {
        Self {
            at,
            message: message.into(),
        }
    }
}

/// Parses one expression, without the `${{ }}` around it.
pub fn parse(source: &str) -> Result<Expr, ParseError> {
    let tokens = tokenize(source)?;
    if let Some((_, at)) = tokens.get(MAX_TOKENS) {
        return Err(ParseError::new(
            *at,
            format!("too long (expected at most {MAX_TOKENS} tokens)"),
        ));
    }
    let mut parser = Parser {
        tokens,
        next: 0,
        end: source.chars().count(),
        depth: 0,
    };
    if parser.tokens.is_empty() {
        return Err(ParseError::new(0, "empty expression (expected a value)"));
    }
    let expr = parser.or()?;
    match parser.peek() {
        None => Ok(expr),
        Some((token, at)) => Err(ParseError::new(
            *at,
            format!(
                "unexpected {} (expected an operator like == or && between values)",
                token.describe()
            ),
        )),
    }
}

struct Parser {
    tokens: Vec<Spanned>,
    next: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Spanned> {
        self.tokens.get(self.next)
    }

    fn at(&self) -> usize {
        self.peek().map_or(self.end, |(_, at)| *at)
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek().is_some_and(|(t, _)| t == token) {
            self.next += 1;
            return true;
        }
        false
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), ParseError> {
        if self.eat(&token) {
            return Ok(());
        }
        let found = self
            .peek()
            .map_or_else(|| "the end".to_owned(), |(t, _)| t.describe());
        Err(ParseError::new(
            self.at(),
            format!("found {found} (expected {what})"),
        ))
    }

    fn descend(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::new(
                self.at(),
                format!("nested too deeply (expected at most {MAX_DEPTH} levels)"),
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        self.binary(&[(Token::Or, BinaryOp::Or)], Self::and)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        self.binary(&[(Token::And, BinaryOp::And)], Self::equality)
    }

    fn equality(&mut self) -> Result<Expr, ParseError> {
        self.binary(
            &[(Token::Eq, BinaryOp::Eq), (Token::Ne, BinaryOp::Ne)],
            Self::comparison,
        )
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        self.binary(
            &[
                (Token::Lt, BinaryOp::Lt),
                (Token::Le, BinaryOp::Le),
                (Token::Gt, BinaryOp::Gt),
                (Token::Ge, BinaryOp::Ge),
            ],
            Self::unary,
        )
    }

    /// A left-associative chain of `operand (op operand)*` with the given operators.
    fn binary(
        &mut self,
        ops: &[(Token, BinaryOp)],
        operand: fn(&mut Self) -> Result<Expr, ParseError>,
    ) -> Result<Expr, ParseError> {
        let mut left = operand(self)?;
        'chain: loop {
            for (token, op) in ops {
                if self.eat(token) {
                    let right = operand(self)?;
                    left = Expr::Binary(*op, Box::new(left), Box::new(right));
                    continue 'chain;
                }
            }
            return Ok(left);
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat(&Token::Not) {
            self.descend()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut expr = self.primary()?;
        loop {
            if self.eat(&Token::Dot) {
                if self.eat(&Token::Star) {
                    expr = Expr::Star(Box::new(expr));
                    continue;
                }
                match self.peek().cloned() {
                    Some((Token::Ident(name), _)) => {
                        self.next += 1;
                        expr = Expr::Property(Box::new(expr), name);
                    }
                    _ => self.expect(Token::Star, "a property name after `.`")?,
                }
            } else if self.eat(&Token::LBracket) {
                if self.eat(&Token::Star) {
                    self.expect(Token::RBracket, "`]` after `[*`")?;
                    expr = Expr::Star(Box::new(expr));
                    continue;
                }
                self.descend()?;
                let key = self.or()?;
                self.depth -= 1;
                self.expect(Token::RBracket, "`]`")?;
                expr = Expr::Index(Box::new(expr), Box::new(key));
            } else {
                return Ok(expr);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let Some((token, at)) = self.peek().cloned() else {
            return Err(ParseError::new(
                self.end,
                "the expression ends too early (expected a value)",
            ));
        };
        self.next += 1;
        match token {
            Token::Number(n) => Ok(Expr::Literal(Value::Number(n))),
            Token::String(s) => Ok(Expr::Literal(Value::String(s))),
            Token::LParen => {
                self.descend()?;
                let inner = self.or()?;
                self.depth -= 1;
                self.expect(Token::RParen, "`)`")?;
                Ok(inner)
            }
            Token::Ident(name) => self.identifier(name, at),
            other => Err(ParseError::new(
                at,
                format!("unexpected {} (expected a value)", other.describe()),
            )),
        }
    }

    fn identifier(&mut self, name: String, at: usize) -> Result<Expr, ParseError> {
        if self.eat(&Token::LParen) {
            return self.call(&name, at);
        }
        Ok(match name.as_str() {
            "true" => Expr::Literal(Value::Bool(true)),
            "false" => Expr::Literal(Value::Bool(false)),
            "null" => Expr::Literal(Value::Null),
            "NaN" => Expr::Literal(Value::Number(f64::NAN)),
            "Infinity" => Expr::Literal(Value::Number(f64::INFINITY)),
            _ => Expr::Context(name),
        })
    }

    fn call(&mut self, name: &str, at: usize) -> Result<Expr, ParseError> {
        let Some(function) = Function::by_name(name) else {
            let names: Vec<&str> = Function::ALL.iter().map(|f| f.name()).collect();
            return Err(ParseError::new(
                at,
                format!(
                    "unknown function `{name}` (expected one of {})",
                    names.join(", ")
                ),
            ));
        };
        self.descend()?;
        let mut args = Vec::new();
        if !self.eat(&Token::RParen) {
            loop {
                args.push(self.or()?);
                if self.eat(&Token::RParen) {
                    break;
                }
                self.expect(Token::Comma, "`,` or `)` in the arguments")?;
            }
        }
        self.depth -= 1;
        let (least, most) = function.arity();
        let fits = args.len() >= least && most.is_none_or(|m| args.len() <= m);
        if !fits {
            let wanted = match most {
                Some(m) if m == least => format!("{m}"),
                Some(m) => format!("{least} to {m}"),
                None => format!("at least {least}"),
            };
            return Err(ParseError::new(
                at,
                format!(
                    "{}() takes {wanted} argument{}, found {}",
                    function.name(),
                    if wanted == "1" { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        Ok(Expr::Call(function, args))
    }
}
