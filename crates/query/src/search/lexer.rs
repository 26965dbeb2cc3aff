//! Splits a search expression into tokens with their columns.

use super::SearchError;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Colon,
    Op(&'static str),
    Word(String),
    Quoted(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub token: Token,
    /// 1-based character column.
    pub column: usize,
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '(' | ')' | '[' | ']' | ':' | '"' | '<' | '>' | '=')
}

pub fn lex(text: &str) -> Result<Vec<Spanned>, SearchError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        let column = index + 1;
        let mut push = |token| tokens.push(Spanned { token, column });
        match c {
            c if c.is_whitespace() => {
                index += 1;
            }
            '(' => {
                push(Token::LParen);
                index += 1;
            }
            ')' => {
                push(Token::RParen);
                index += 1;
            }
            '[' => {
                push(Token::LBracket);
                index += 1;
            }
            ']' => {
                push(Token::RBracket);
                index += 1;
            }
            ':' => {
                push(Token::Colon);
                index += 1;
            }
            '<' | '>' => {
                let with_eq = chars.get(index + 1) == Some(&'=');
                push(Token::Op(match (c, with_eq) {
                    ('<', true) => "<=",
                    ('<', false) => "<",
                    ('>', true) => ">=",
                    _ => ">",
                }));
                index += if with_eq { 2 } else { 1 };
            }
            '=' => {
                push(Token::Op("="));
                index += 1;
            }
            '"' => {
                let mut value = String::new();
                let mut end = index + 1;
                loop {
                    match chars.get(end) {
                        None => {
                            return Err(SearchError { column, message: "unterminated quoted phrase".into() });
                        }
                        Some('\\') if chars.get(end + 1).is_some() => {
                            value.push(chars[end + 1]);
                            end += 2;
                        }
                        Some('"') => break,
                        Some(other) => {
                            value.push(*other);
                            end += 1;
                        }
                    }
                }
                push(Token::Quoted(value));
                index = end + 1;
            }
            _ => {
                let start = index;
                while index < chars.len() && is_word_char(chars[index]) {
                    index += 1;
                }
                push(Token::Word(chars[start..index].iter().collect()));
            }
        }
    }
    Ok(tokens)
}
