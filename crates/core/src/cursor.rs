//! Cursors name a position in a shard: the number of log groups committed to the shard before
//! it. On the wire a cursor is base64 of that number in decimal, as SLS writes them (the SDK
//! decodes one and subtracts 1 to find the previous position).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Why a cursor string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor '{0}': a cursor is base64 of a decimal position, as returned by GetCursor")]
pub struct CursorError(pub String);

/// Encodes a shard position.
pub fn encode(position: u64) -> String {
    STANDARD.encode(position.to_string())
}

/// Decodes a cursor string into a shard position.
pub fn decode(cursor: &str) -> Result<u64, CursorError> {
    let error = || CursorError(cursor.chars().take(64).collect());
    let bytes = STANDARD.decode(cursor.trim()).map_err(|_| error())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| error())?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error());
    }
    text.parse().map_err(|_| error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        assert_eq!(encode(0), "MA==");
        for position in [0u64, 1, 42, 1_547_470_682_376_513_446, u64::MAX] {
            assert_eq!(decode(&encode(position)).unwrap(), position);
        }
        for bad in ["", "!!!", "YWJj", "LTE=", "MTg0NDY3NDQwNzM3MDk1NTE2MTY="] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
