//! Parses tokens into an [`Expr`] tree: `or` binds loosest, then `and` (explicit or implied by
//! juxtaposition), then `not`.

use logport_core::tokens::is_delimiter;

use super::SearchError;
use super::lexer::{Spanned, Token, lex};

/// A comparison of a numeric field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RangeOp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
}

/// A search term: one token, a phrase of tokens, or `*` (anything). Pieces are lowercased; `*`
/// and `?` inside a piece are wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub text: String,
    pub pieces: Vec<String>,
}

impl Pattern {
    pub fn new(text: &str) -> Self {
        let pieces = text
            .split(|c: char| c.is_ascii() && c != '?' && c != '*' && is_delimiter(c as u8))
            .filter(|piece| !piece.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        Self { text: text.to_owned(), pieces }
    }

    /// Matches anything (`*`, or a term that is all delimiters).
    pub fn is_any(&self) -> bool {
        self.pieces.is_empty() || self.pieces.iter().all(|piece| piece.chars().all(|c| c == '*'))
    }

    /// The pieces without wildcards: tokens every matching value must contain.
    pub fn literal_pieces(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter(|piece| !piece.contains(['*', '?'])).map(String::as_str)
    }
}

/// A parsed search expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `*`: every log.
    All,
    /// A keyword or phrase anywhere in the log.
    Term(Pattern),
    /// `key:pattern`.
    Field {
        key: String,
        pattern: Pattern,
    },
    /// `key > 0.5` and friends.
    Compare {
        key: String,
        op: RangeOp,
        value: f64,
    },
    /// `key in [low high]` (inclusive) or `key in (low high)` (exclusive).
    Between {
        key: String,
        low: f64,
        high: f64,
        inclusive: bool,
    },
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// Parses a search expression. An empty expression means `*`.
pub fn parse(text: &str) -> Result<Expr, SearchError> {
    let tokens = lex(text)?;
    if tokens.is_empty() {
        return Ok(Expr::All);
    }
    let mut parser = Parser { tokens, index: 0, end_column: text.chars().count() + 1 };
    let expr = parser.or()?;
    if let Some(token) = parser.peek() {
        return Err(SearchError { column: token.column, message: format!("unexpected {}", describe(&token.token)) });
    }
    Ok(expr)
}

fn describe(token: &Token) -> String {
    match token {
        Token::LParen => "'('".into(),
        Token::RParen => "')' without a matching '('".into(),
        Token::LBracket => "'['".into(),
        Token::RBracket => "']'".into(),
        Token::Colon => "':'".into(),
        Token::Op(op) => format!("'{op}'"),
        Token::Word(word) => format!("'{word}'"),
        Token::Quoted(text) => format!("\"{text}\""),
    }
}

struct Parser {
    tokens: Vec<Spanned>,
    index: usize,
    end_column: usize,
}

fn keyword(token: &Token, name: &str) -> bool {
    matches!(token, Token::Word(word) if word.eq_ignore_ascii_case(name))
}

impl Parser {
    fn peek(&self) -> Option<&Spanned> {
        self.tokens.get(self.index)
    }

    fn peek_at(&self, offset: usize) -> Option<&Token> {
        self.tokens.get(self.index + offset).map(|spanned| &spanned.token)
    }

    fn next(&mut self) -> Option<Spanned> {
        let token = self.tokens.get(self.index).cloned();
        self.index += 1;
        token
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, SearchError> {
        let column = self.peek().map_or(self.end_column, |token| token.column);
        Err(SearchError { column, message: message.into() })
    }

    fn or(&mut self) -> Result<Expr, SearchError> {
        let mut parts = vec![self.and()?];
        while self.peek().is_some_and(|token| keyword(&token.token, "or")) {
            self.next();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { Expr::Or(parts) })
    }

    fn and(&mut self) -> Result<Expr, SearchError> {
        let mut parts = vec![self.not()?];
        loop {
            match self.peek().map(|token| &token.token) {
                Some(token) if keyword(token, "and") => {
                    self.next();
                    parts.push(self.not()?);
                }
                Some(token) if keyword(token, "or") || *token == Token::RParen => break,
                Some(_) => parts.push(self.not()?),
                None => break,
            }
        }
        Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { Expr::And(parts) })
    }

    fn not(&mut self) -> Result<Expr, SearchError> {
        if self.peek().is_some_and(|token| keyword(&token.token, "not")) {
            self.next();
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, SearchError> {
        let Some(spanned) = self.next() else {
            return self.error("the expression ends where a term was expected");
        };
        match spanned.token {
            Token::LParen => {
                let inner = self.or()?;
                match self.next() {
                    Some(Spanned { token: Token::RParen, .. }) => Ok(inner),
                    _ => Err(SearchError { column: spanned.column, message: "'(' is never closed".into() }),
                }
            }
            Token::Quoted(text) => Ok(Expr::Term(Pattern::new(&text))),
            Token::Word(word) if word == "*" => Ok(Expr::All),
            Token::Word(word)
                if keyword(&Token::Word(word.clone()), "and") || keyword(&Token::Word(word.clone()), "or") =>
            {
                Err(SearchError { column: spanned.column, message: format!("'{word}' needs a term on its left") })
            }
            Token::Word(word) => match self.peek_at(0) {
                Some(Token::Colon) => {
                    self.next();
                    self.field(word, spanned.column)
                }
                Some(Token::Op(op)) => {
                    let op = match *op {
                        ">" => RangeOp::Gt,
                        ">=" => RangeOp::Ge,
                        "<" => RangeOp::Lt,
                        "<=" => RangeOp::Le,
                        _ => RangeOp::Eq,
                    };
                    self.next();
                    let value = self.number()?;
                    Ok(Expr::Compare { key: word, op, value })
                }
                Some(token)
                    if keyword(token, "in") && matches!(self.peek_at(1), Some(Token::LBracket | Token::LParen)) =>
                {
                    self.next();
                    self.between(word)
                }
                _ => Ok(Expr::Term(Pattern::new(&word))),
            },
            other => Err(SearchError { column: spanned.column, message: format!("unexpected {}", describe(&other)) }),
        }
    }

    fn field(&mut self, key: String, column: usize) -> Result<Expr, SearchError> {
        let key = if key == "__tag__" {
            match (self.next(), self.next()) {
                (Some(Spanned { token: Token::Word(name), .. }), Some(Spanned { token: Token::Colon, .. })) => {
                    format!("__tag__:{name}")
                }
                _ => return Err(SearchError { column, message: "a tag search is __tag__:name:value".into() }),
            }
        } else {
            key
        };
        match self.next() {
            Some(Spanned { token: Token::Word(value) | Token::Quoted(value), .. }) => {
                Ok(Expr::Field { key, pattern: Pattern::new(&value) })
            }
            _ => Err(SearchError { column, message: format!("'{key}:' needs a value (use {key}:* for any)") }),
        }
    }

    fn number(&mut self) -> Result<f64, SearchError> {
        match self.next() {
            Some(Spanned { token: Token::Word(word), column }) => {
                word.parse::<f64>().map_err(|_| SearchError { column, message: format!("'{word}' is not a number") })
            }
            Some(Spanned { column, .. }) => Err(SearchError { column, message: "a number was expected".into() }),
            None => Err(SearchError { column: self.end_column, message: "a number was expected".into() }),
        }
    }

    fn between(&mut self, key: String) -> Result<Expr, SearchError> {
        let open = self.next().expect("checked by the caller");
        let inclusive = open.token == Token::LBracket;
        let low = self.number()?;
        let high = self.number()?;
        match (self.next(), inclusive) {
            (Some(Spanned { token: Token::RBracket, .. }), true)
            | (Some(Spanned { token: Token::RParen, .. }), false) => Ok(Expr::Between { key, low, high, inclusive }),
            _ => Err(SearchError {
                column: open.column,
                message: "a range is `in [low high]` or `in (low high)`".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(key: &str, value: &str) -> Expr {
        Expr::Field { key: key.into(), pattern: Pattern::new(value) }
    }

    fn term(value: &str) -> Expr {
        Expr::Term(Pattern::new(value))
    }

    #[test]
    fn precedence_and_implicit_and() {
        assert_eq!(parse("").unwrap(), Expr::All);
        assert_eq!(parse("*").unwrap(), Expr::All);
        assert_eq!(parse("status:500 and GET").unwrap(), Expr::And(vec![field("status", "500"), term("GET")]));
        assert_eq!(parse("a b").unwrap(), Expr::And(vec![term("a"), term("b")]));
        assert_eq!(parse("a or b and c").unwrap(), Expr::Or(vec![term("a"), Expr::And(vec![term("b"), term("c")])]));
        assert_eq!(
            parse("(a OR b) AND NOT c").unwrap(),
            Expr::And(vec![Expr::Or(vec![term("a"), term("b")]), Expr::Not(Box::new(term("c")))])
        );
        assert_eq!(parse("not not a").unwrap(), Expr::Not(Box::new(Expr::Not(Box::new(term("a"))))));
    }

    #[test]
    fn fields_ranges_tags_and_quotes() {
        assert_eq!(parse("url:/api/*").unwrap(), field("url", "/api/*"));
        assert_eq!(parse(r#"msg:"connection reset""#).unwrap(), field("msg", "connection reset"));
        assert_eq!(parse(r#""connection reset""#).unwrap(), term("connection reset"));
        assert_eq!(parse("__tag__:host:web-1").unwrap(), field("__tag__:host", "web-1"));
        assert_eq!(parse("__topic__:nginx").unwrap(), field("__topic__", "nginx"));
        assert_eq!(
            parse("request_time > 0.5").unwrap(),
            Expr::Compare { key: "request_time".into(), op: RangeOp::Gt, value: 0.5 }
        );
        assert_eq!(
            parse("request_time<=1").unwrap(),
            Expr::Compare { key: "request_time".into(), op: RangeOp::Le, value: 1.0 }
        );
        assert_eq!(
            parse("status in [400 499]").unwrap(),
            Expr::Between { key: "status".into(), low: 400.0, high: 499.0, inclusive: true }
        );
        assert_eq!(
            parse("status in (400 499)").unwrap(),
            Expr::Between { key: "status".into(), low: 400.0, high: 499.0, inclusive: false }
        );
        assert_eq!(parse(r#""and""#).unwrap(), term("and"));
        assert_eq!(Pattern::new("/API/V1*").pieces, ["api", "v1*"]);
        assert_eq!(Pattern::new("us?r").pieces, ["us?r"]);
    }

    #[test]
    fn errors_point_at_the_column() {
        let cases = [
            ("status:", 1, "needs a value"),
            ("(a or b", 1, "never closed"),
            ("a or", 5, "term was expected"),
            ("a )", 3, "')'"),
            ("\"open", 1, "unterminated"),
            ("time > fast", 8, "not a number"),
            ("status in [1 x]", 14, "not a number"),
            ("and a", 1, "needs a term"),
            ("__tag__:host", 1, "__tag__:name:value"),
        ];
        for (text, column, needle) in cases {
            let error = parse(text).unwrap_err();
            assert_eq!(error.column, column, "{text}: {error}");
            assert!(error.message.contains(needle), "{text}: {error}");
        }
    }
}
