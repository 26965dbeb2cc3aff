//! Tokenization, shared by ingest (the per-segment term filter) and search (keyword matching),
//! so both always agree on what a token is.
//!
//! A token is a maximal run of bytes that are not delimiters. The delimiters are SLS's default
//! set: space, tab, CR, LF and `, ' " ; = ( ) [ ] { } ? @ & < > / :`. Matching is
//! case-insensitive for ASCII letters (tokens are hashed and compared lowercased); other
//! characters compare as they are.

/// SLS's default token delimiters.
pub const DELIMITERS: &[u8] = b" \t\r\n,'\";=()[]{}?@&<>/:";

const fn delimiter_table() -> [bool; 256] {
    let mut table = [false; 256];
    let mut index = 0;
    while index < DELIMITERS.len() {
        table[DELIMITERS[index] as usize] = true;
        index += 1;
    }
    table
}

static IS_DELIMITER: [bool; 256] = delimiter_table();

/// Whether `byte` separates tokens.
pub fn is_delimiter(byte: u8) -> bool {
    IS_DELIMITER[byte as usize]
}

/// The tokens of `text`, in order (delimiters are ASCII, so tokens are valid UTF-8).
pub fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_ascii() && is_delimiter(c as u8)).filter(|token| !token.is_empty())
}

/// Whether `text` contains a delimiter (a search term that does is matched as a phrase).
pub fn has_delimiter(text: &str) -> bool {
    text.bytes().any(is_delimiter)
}

/// The hash of a token, ASCII-lowercased: what term filters store and probe.
pub fn token_hash(token: &str) -> u64 {
    let bytes = token.as_bytes();
    if !bytes.iter().any(u8::is_ascii_uppercase) {
        return xxhash_rust::xxh3::xxh3_64(bytes);
    }
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buffer = [0u8; 64];
    for chunk in bytes.chunks(buffer.len()) {
        let lowered = &mut buffer[..chunk.len()];
        lowered.copy_from_slice(chunk);
        lowered.make_ascii_lowercase();
        hasher.update(lowered);
    }
    hasher.digest()
}

/// Feeds the hash of every token of `text` to `sink`.
pub fn for_each_token_hash(text: &str, mut sink: impl FnMut(u64)) {
    for token in tokens(text) {
        sink(token_hash(token));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_sls_delimiters() {
        let line = r#"10.1.2.3 - - [14/Nov/2023:22:13:20 +0000] "GET /api/v1/items?id=7 HTTP/1.1" 200"#;
        let found: Vec<&str> = tokens(line).collect();
        assert_eq!(
            found,
            [
                "10.1.2.3", "-", "-", "14", "Nov", "2023", "22", "13", "20", "+0000", "GET", "api", "v1", "items",
                "id", "7", "HTTP", "1.1", "200"
            ]
        );
        assert_eq!(tokens("  ,, ").count(), 0);
        assert_eq!(tokens("ünïcode wörd").collect::<Vec<_>>(), ["ünïcode", "wörd"]);
        assert!(has_delimiter("/api/*") && !has_delimiter("status500"));
    }

    #[test]
    fn hashes_are_case_insensitive() {
        assert_eq!(token_hash("GET"), token_hash("get"));
        assert_eq!(token_hash(&"AbC".repeat(50)), token_hash(&"abc".repeat(50)));
        assert_ne!(token_hash("get"), token_hash("post"));
    }
}
