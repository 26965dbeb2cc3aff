//! The SLS search syntax: a lexer, a parser into [`Expr`], and an evaluator over one log.
//!
//! ```text
//! query    := or
//! or       := and ("or" and)*
//! and      := not (["and"] not)*            -- juxtaposition is "and"
//! not      := "not" not | primary
//! primary  := "(" query ")" | "*" | field | term
//! field    := KEY ":" value | KEY op NUMBER | KEY "in" ("[" | "(") NUMBER NUMBER ("]" | ")")
//! term     := WORD | "quoted phrase"
//! ```
//! `op` is one of `> >= < <= =`; `[a b]` is inclusive, `(a b)` exclusive. Keys may be
//! `__topic__`, `__source__` and `__tag__:name`. `*` and `?` inside a word are wildcards. Words
//! `and`, `or`, `not` are operators in any case; quote them to search for them.

mod eval;
mod lexer;
mod parser;

pub use eval::{LogView, field_matches, matches, pattern_matches, required_hashes};
pub use parser::{Expr, Pattern, RangeOp, parse};

/// A search expression that could not be parsed; `column` is 1-based, in characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("search syntax error at column {column}: {message}")]
pub struct SearchError {
    pub column: usize,
    pub message: String,
}
