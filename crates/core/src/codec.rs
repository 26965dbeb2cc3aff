//! Body compression as SLS uses it: `lz4` is a raw LZ4 *block* (no frame, no size prefix) whose
//! decompressed size travels beside it (`x-log-bodyrawsize`); `zstd` is a standard zstd frame.
//!
//! Decompression is bounded: the caller states the size the data claims and the most it accepts,
//! and a body whose real size differs from its claim is rejected, never trusted.

use std::io::Read;

/// How a body is compressed (`x-log-compresstype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Lz4,
    Zstd,
}

/// Why a body could not be decompressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    #[error("unsupported compress type '{0}' (use lz4, zstd or none)")]
    UnknownCompression(String),
    #[error("raw size {claimed} is over the limit of {limit} bytes")]
    TooLarge { claimed: usize, limit: usize },
    #[error("the body does not decompress to the declared raw size {claimed}: {reason}")]
    SizeMismatch { claimed: usize, reason: String },
    #[error("corrupt {0} data: {1}")]
    Corrupt(&'static str, String),
}

impl Compression {
    /// Parses `x-log-compresstype` / `Accept-Encoding` values; empty means none.
    pub fn parse(name: &str) -> Result<Self, CodecError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "" | "none" | "identity" => Ok(Self::None),
            "lz4" => Ok(Self::Lz4),
            "zstd" => Ok(Self::Zstd),
            other => Err(CodecError::UnknownCompression(other.to_owned())),
        }
    }

    /// The header value for this compression, `None` for uncompressed bodies.
    pub fn header_value(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Lz4 => Some("lz4"),
            Self::Zstd => Some("zstd"),
        }
    }

    /// Compresses `raw`.
    pub fn compress(self, raw: &[u8]) -> Vec<u8> {
        match self {
            Self::None => raw.to_vec(),
            Self::Lz4 => lz4_flex::block::compress(raw),
            Self::Zstd => ruzstd::encoding::compress_to_vec(raw, ruzstd::encoding::CompressionLevel::Fastest),
        }
    }

    /// Decompresses `data`, which claims to expand to `raw_size` bytes, accepting at most `limit`.
    pub fn decompress(self, data: &[u8], raw_size: usize, limit: usize) -> Result<Vec<u8>, CodecError> {
        if raw_size > limit {
            return Err(CodecError::TooLarge { claimed: raw_size, limit });
        }
        match self {
            Self::None => Ok(data.to_vec()),
            Self::Lz4 => {
                let mut out = vec![0u8; raw_size];
                let written = lz4_flex::block::decompress_into(data, &mut out)
                    .map_err(|error| CodecError::SizeMismatch { claimed: raw_size, reason: error.to_string() })?;
                if written != raw_size {
                    return Err(CodecError::SizeMismatch {
                        claimed: raw_size,
                        reason: format!("it holds {written} bytes"),
                    });
                }
                Ok(out)
            }
            Self::Zstd => {
                let decoder = ruzstd::decoding::StreamingDecoder::new(data)
                    .map_err(|error| CodecError::Corrupt("zstd", error.to_string()))?;
                let mut out = Vec::with_capacity(raw_size);
                decoder
                    .take(raw_size as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|error| CodecError::Corrupt("zstd", error.to_string()))?;
                if out.len() != raw_size {
                    return Err(CodecError::SizeMismatch {
                        claimed: raw_size,
                        reason: format!("it holds {} bytes", out.len()),
                    });
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_checks_sizes() {
        let raw: Vec<u8> = (0..10_000u32).flat_map(|i| (i % 97).to_le_bytes()).collect();
        for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
            let packed = codec.compress(&raw);
            assert_eq!(codec.decompress(&packed, raw.len(), 1 << 20).unwrap(), raw);
            if codec != Compression::None {
                assert!(matches!(
                    codec.decompress(&packed, raw.len() - 1, 1 << 20),
                    Err(CodecError::SizeMismatch { .. })
                ));
                assert!(matches!(
                    codec.decompress(&packed, raw.len() + 1, 1 << 20),
                    Err(CodecError::SizeMismatch { .. })
                ));
            }
            assert!(matches!(codec.decompress(&packed, raw.len(), 100), Err(CodecError::TooLarge { .. })));
        }
        assert!(Compression::Lz4.decompress(b"\xff\xff\xff", 100, 1000).is_err());
        assert!(Compression::Zstd.decompress(b"not zstd", 100, 1000).is_err());
    }

    #[test]
    fn parses_header_values() {
        assert_eq!(Compression::parse("LZ4").unwrap(), Compression::Lz4);
        assert_eq!(Compression::parse("").unwrap(), Compression::None);
        assert!(Compression::parse("deflate").is_err());
    }
}
