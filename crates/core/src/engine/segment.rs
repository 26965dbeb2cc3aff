//! The segment object format: a 16-byte header, then the log groups' serialized bytes, back to
//! back, compressed as one block. The group boundaries live in the segment's index record.
//!
//! ```text
//! b"LPS1" | codec: u8 (0 none, 1 lz4) | 3 reserved bytes | raw length: u64 LE | data
//! ```

use crate::codec::Compression;

use super::{EngineError, Result};

const MAGIC: &[u8; 4] = b"LPS1";
const HEADER_BYTES: usize = 16;

/// Builds a segment object from the concatenated groups.
pub fn encode(raw: &[u8]) -> Vec<u8> {
    let compressed = Compression::Lz4.compress(raw);
    let mut object = Vec::with_capacity(HEADER_BYTES + compressed.len());
    object.extend_from_slice(MAGIC);
    object.extend_from_slice(&[1, 0, 0, 0]);
    object.extend_from_slice(&(raw.len() as u64).to_le_bytes());
    object.extend_from_slice(&compressed);
    object
}

/// Returns the concatenated groups of a segment object.
pub fn decode(key: &str, object: &[u8]) -> Result<Vec<u8>> {
    let corrupt = |why: String| EngineError::Corrupt(format!("segment {key}: {why}"));
    if object.len() < HEADER_BYTES || &object[..4] != MAGIC {
        return Err(corrupt("bad header".into()));
    }
    let raw_len = u64::from_le_bytes(object[8..16].try_into().expect("8 bytes")) as usize;
    let codec = match object[4] {
        0 => Compression::None,
        1 => Compression::Lz4,
        other => return Err(corrupt(format!("unknown codec {other}"))),
    };
    codec.decompress(&object[HEADER_BYTES..], raw_len, usize::MAX).map_err(|error| corrupt(error.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_and_detects_damage() {
        let raw = b"some log groups, some log groups, some log groups".repeat(10);
        let object = super::encode(&raw);
        assert_eq!(super::decode("k", &object).unwrap(), raw);
        assert!(super::decode("k", &object[..10]).is_err());
        let mut damaged = object.clone();
        damaged[8] ^= 1;
        assert!(super::decode("k", &damaged).is_err());
    }
}
