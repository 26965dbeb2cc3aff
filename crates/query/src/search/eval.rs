//! Evaluates an [`Expr`] against one log, and derives the tokens a matching log must contain
//! (for term-filter pruning).

use logport_core::model::{Content, LogTag};
use logport_core::tokens::{token_hash, tokens};

use super::parser::{Expr, Pattern, RangeOp};

/// One log as search sees it: contents plus the group's topic, source and tags.
#[derive(Debug, Clone, Copy)]
pub struct LogView<'a> {
    pub time: u32,
    pub topic: &'a str,
    pub source: &'a str,
    pub tags: &'a [LogTag],
    pub contents: &'a [Content],
}

impl<'a> LogView<'a> {
    /// The value of a field: a content key, `__topic__`, `__source__`, `__tag__:name`.
    pub fn field(&self, key: &str) -> Option<&'a str> {
        match key {
            "__topic__" => Some(self.topic),
            "__source__" => Some(self.source),
            _ => {
                if let Some(name) = key.strip_prefix(logport_core::model::TAG_PREFIX) {
                    return self.tags.iter().find(|tag| tag.key == name).map(|tag| tag.value.as_str());
                }
                self.contents.iter().find(|content| content.key == key).map(|content| content.value.as_str())
            }
        }
    }

    fn values(&self) -> impl Iterator<Item = &'a str> {
        let fixed = [self.topic, self.source].into_iter();
        fixed
            .chain(self.tags.iter().map(|tag| tag.value.as_str()))
            .chain(self.contents.iter().map(|c| c.value.as_str()))
    }
}

/// Whether a log matches the expression.
pub fn matches(expr: &Expr, log: &LogView<'_>) -> bool {
    match expr {
        Expr::All => true,
        Expr::Term(pattern) => log.values().any(|value| pattern_matches(pattern, value)),
        Expr::Field { key, .. } | Expr::Compare { key, .. } | Expr::Between { key, .. } => {
            field_matches(expr, log.field(key))
        }
        Expr::Not(inner) => !matches(inner, log),
        Expr::And(parts) => parts.iter().all(|part| matches(part, log)),
        Expr::Or(parts) => parts.iter().any(|part| matches(part, log)),
    }
}

/// Whether a field leaf (`key:pattern`, a comparison or a range) holds for the field's value
/// (`None`: the log lacks the field, which never matches). Other expressions: false.
pub fn field_matches(leaf: &Expr, value: Option<&str>) -> bool {
    let Some(value) = value else { return false };
    let numeric = || value.trim().parse::<f64>().ok();
    match leaf {
        Expr::Field { pattern, .. } => pattern_matches(pattern, value),
        Expr::Compare { op, value: bound, .. } => numeric().is_some_and(|field| match op {
            RangeOp::Gt => field > *bound,
            RangeOp::Ge => field >= *bound,
            RangeOp::Lt => field < *bound,
            RangeOp::Le => field <= *bound,
            RangeOp::Eq => field == *bound,
        }),
        Expr::Between { low, high, inclusive, .. } => numeric().is_some_and(|field| {
            if *inclusive { field >= *low && field <= *high } else { field > *low && field < *high }
        }),
        _ => false,
    }
}

/// Whether a value holds the pattern: one piece matches any token; several must match
/// consecutive tokens.
pub fn pattern_matches(pattern: &Pattern, value: &str) -> bool {
    if pattern.is_any() {
        return true;
    }
    let pieces = &pattern.pieces;
    if pieces.len() == 1 {
        return tokens(value).any(|token| piece_matches(&pieces[0], token));
    }
    let value_tokens: Vec<&str> = tokens(value).collect();
    value_tokens
        .windows(pieces.len())
        .any(|window| window.iter().zip(pieces).all(|(token, piece)| piece_matches(piece, token)))
}

/// A lowercased piece against a token, ASCII-case-insensitively, with `*` and `?` wildcards.
fn piece_matches(piece: &str, token: &str) -> bool {
    if !piece.contains(['*', '?']) {
        return piece.eq_ignore_ascii_case(token);
    }
    glob(piece.as_bytes(), token.as_bytes())
}

/// Iterative glob matching with backtracking to the last `*` (linear in practice).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t].to_ascii_lowercase()) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

/// Token hashes every matching log must contain (empty: no pruning possible).
pub fn required_hashes(expr: &Expr) -> Vec<u64> {
    let mut hashes = match expr {
        Expr::Term(pattern) | Expr::Field { pattern, .. } => pattern.literal_pieces().map(token_hash).collect(),
        Expr::And(parts) => parts.iter().flat_map(required_hashes).collect(),
        Expr::Or(parts) => {
            let mut sets = parts.iter().map(required_hashes);
            let first = sets.next().unwrap_or_default();
            sets.fold(first, |kept, next| kept.into_iter().filter(|hash| next.contains(hash)).collect())
        }
        Expr::All | Expr::Compare { .. } | Expr::Between { .. } | Expr::Not(_) => Vec::new(),
    };
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::parse;

    fn log_matches(query: &str) -> bool {
        let contents = vec![
            Content { key: "method".into(), value: "GET".into() },
            Content { key: "url".into(), value: "/api/v1/users/42".into() },
            Content { key: "status".into(), value: "500".into() },
            Content { key: "request_time".into(), value: "0.73".into() },
            Content { key: "message".into(), value: "upstream: Connection reset by peer".into() },
        ];
        let tags = vec![LogTag { key: "host".into(), value: "web-1".into() }];
        let view = LogView { time: 1, topic: "nginx", source: "10.0.0.1", tags: &tags, contents: &contents };
        matches(&parse(query).unwrap(), &view)
    }

    #[test]
    fn evaluates_every_form() {
        let truths = [
            ("*", true),
            ("GET", true),
            ("get", true),
            ("POST", false),
            ("status:500", true),
            ("status:404", false),
            ("status:500 and GET", true),
            ("status:500 and POST", false),
            ("status:404 or GET", true),
            ("not POST", true),
            ("not (GET or POST)", false),
            ("url:/api/*", true),
            ("url:/api/v2/*", false),
            ("url:/API/V1", true),
            ("us?rs", true),
            ("use?s", true),
            ("u*s", true),
            ("x*z", false),
            ("\"connection reset\"", true),
            ("\"reset connection\"", false),
            ("message:\"reset by\"", true),
            ("request_time > 0.5", true),
            ("request_time > 0.8", false),
            ("request_time >= 0.73 and request_time <= 0.73", true),
            ("status in [500 599]", true),
            ("status in (500 599)", false),
            ("missing:*", false),
            ("status:*", true),
            ("missing > 1", false),
            ("__topic__:nginx", true),
            ("__source__:10.0.0.1", true),
            ("__tag__:host:web-1", true),
            ("__tag__:host:web-2", false),
            ("web-1", true),
            ("web", false),
        ];
        for (query, expected) in truths {
            assert_eq!(log_matches(query), expected, "{query}");
        }
    }

    #[test]
    fn glob_backtracks() {
        assert!(glob(b"a*b*c", b"axxbyyc"));
        assert!(glob(b"*", b""));
        assert!(!glob(b"a?c", b"ac"));
        assert!(glob(b"a*", b"aBC"));
    }

    #[test]
    fn required_tokens_are_sound() {
        let hashes = |q: &str| required_hashes(&parse(q).unwrap());
        assert_eq!(hashes("status:500 and GET").len(), 2);
        assert_eq!(hashes("\"connection reset\"").len(), 2);
        assert!(hashes("a or b").is_empty());
        assert_eq!(hashes("(a and b) or (a and c)"), hashes("a"));
        assert!(hashes("not a").is_empty());
        assert!(hashes("us?r").is_empty());
        assert_eq!(hashes("url:/api/*").len(), 1);
    }
}
