//! The segment object format: a header, the log groups' serialized bytes back to back and
//! compressed as one block, then the segment's term filter ([`crate::bloom::Bloom`] bytes), then
//! (since the columnar index) the same logs column by column ([`crate::columns`]). The group
//! boundaries and where the filter and the columns sit live in the segment's index record.
//!
//! ```text
//! v2: b"LPS2" | codec: u8 (0 none, 1 lz4) | 3 reserved | raw length: u64 LE | data length: u64 LE | data | filter [| columns]
//! v1: b"LPS1" | codec: u8 | 3 reserved | raw length: u64 LE | data          (no filter)
//! ```

use crate::codec::Compression;

use super::{EngineError, Result};

const MAGIC_V1: &[u8; 4] = b"LPS1";
const MAGIC_V2: &[u8; 4] = b"LPS2";
const HEADER_V1: usize = 16;
const HEADER_V2: usize = 24;

/// A built segment object and where its filter sits in it.
#[derive(Debug)]
pub struct Encoded {
    pub object: Vec<u8>,
    pub filter_offset: u64,
    pub filter_len: u64,
    pub columns_offset: u64,
    pub columns_len: u64,
}

/// Builds a segment object from the concatenated groups, the term filter's bytes and the
/// columnar section (empty: none).
pub fn encode(raw: &[u8], filter: &[u8], columns: &[u8]) -> Encoded {
    let compressed = Compression::Lz4.compress(raw);
    let mut object = Vec::with_capacity(HEADER_V2 + compressed.len() + filter.len() + columns.len());
    object.extend_from_slice(MAGIC_V2);
    object.extend_from_slice(&[1, 0, 0, 0]);
    object.extend_from_slice(&(raw.len() as u64).to_le_bytes());
    object.extend_from_slice(&(compressed.len() as u64).to_le_bytes());
    object.extend_from_slice(&compressed);
    let filter_offset = object.len() as u64;
    object.extend_from_slice(filter);
    let columns_offset = object.len() as u64;
    object.extend_from_slice(columns);
    Encoded {
        object,
        filter_offset,
        filter_len: filter.len() as u64,
        columns_offset,
        columns_len: columns.len() as u64,
    }
}

/// Returns the concatenated groups of a segment object.
pub fn decode(key: &str, object: &[u8]) -> Result<Vec<u8>> {
    let corrupt = |why: String| EngineError::Corrupt(format!("segment {key}: {why}"));
    let word = |at: usize| object.get(at..at + 8).map(|bytes| u64::from_le_bytes(bytes.try_into().expect("8 bytes")));
    let (raw_len, data) = match object.get(..4) {
        Some(magic) if magic == MAGIC_V1 && object.len() >= HEADER_V1 => {
            (word(8).unwrap_or_default() as usize, &object[HEADER_V1..])
        }
        Some(magic) if magic == MAGIC_V2 && object.len() >= HEADER_V2 => {
            let data_len = word(16).unwrap_or_default() as usize;
            let data =
                object.get(HEADER_V2..HEADER_V2.saturating_add(data_len)).ok_or_else(|| corrupt("truncated".into()))?;
            (word(8).unwrap_or_default() as usize, data)
        }
        _ => return Err(corrupt("bad header".into())),
    };
    let codec = match object[4] {
        0 => Compression::None,
        1 => Compression::Lz4,
        other => return Err(corrupt(format!("unknown codec {other}"))),
    };
    codec.decompress(data, raw_len, usize::MAX).map_err(|error| corrupt(error.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_and_detects_damage() {
        let raw = b"some log groups, some log groups, some log groups".repeat(10);
        let encoded = super::encode(&raw, b"filter bytes", b"columns");
        let object = &encoded.object;
        assert_eq!(super::decode("k", object).unwrap(), raw);
        let filter = &object[encoded.filter_offset as usize..][..encoded.filter_len as usize];
        assert_eq!(filter, b"filter bytes");
        assert_eq!(&object[encoded.columns_offset as usize..], b"columns");
        assert!(super::decode("k", &object[..10]).is_err());
        assert!(super::decode("k", &object[..30]).is_err());
        let mut damaged = object.clone();
        damaged[8] ^= 1;
        assert!(super::decode("k", &damaged).is_err());
    }

    #[test]
    fn reads_version_one_objects() {
        let raw = b"version one".repeat(5);
        let mut object = b"LPS1\x01\0\0\0".to_vec();
        object.extend_from_slice(&(raw.len() as u64).to_le_bytes());
        object.extend_from_slice(&crate::codec::Compression::Lz4.compress(&raw));
        assert_eq!(super::decode("k", &object).unwrap(), raw);
    }
}
