//! A Bloom filter over token hashes: the per-segment term filter that lets a search skip
//! segments that cannot hold its terms. Written at ingest, probed at query time.
//!
//! Hand-written rather than a crate's because the bytes are part of the segment format and must
//! stay readable forever: `k: u8 | bits: u64 LE words`. Probes use double hashing of the 64-bit
//! token hash ([`crate::tokens::token_hash`]), sized for about 1% false positives.

/// A Bloom filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bloom {
    k: u32,
    words: Vec<u64>,
}

impl Bloom {
    /// A filter for `items` distinct hashes at about 1% false positives.
    pub fn with_capacity(items: usize) -> Self {
        let bits = (items.max(1) as f64 * 9.6).ceil() as usize;
        Self { k: 7, words: vec![0; bits.div_ceil(64).max(1)] }
    }

    fn bit_count(&self) -> u64 {
        self.words.len() as u64 * 64
    }

    fn probes(&self, hash: u64) -> impl Iterator<Item = u64> + use<> {
        let (h1, h2, m) = (hash, hash.rotate_left(32) | 1, self.bit_count());
        (0..u64::from(self.k)).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % m)
    }

    pub fn insert(&mut self, hash: u64) {
        for bit in self.probes(hash) {
            self.words[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    /// False means certainly absent; true means probably present.
    pub fn may_contain(&self, hash: u64) -> bool {
        self.probes(hash).all(|bit| self.words[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(1 + self.words.len() * 8);
        bytes.push(self.k as u8);
        for word in &self.words {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    /// Reads a filter; `None` if the bytes are not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (k, rest) = bytes.split_first()?;
        if *k == 0 || rest.is_empty() || rest.len() % 8 != 0 {
            return None;
        }
        let words = rest.chunks_exact(8).map(|chunk| u64::from_le_bytes(chunk.try_into().expect("8 bytes"))).collect();
        Some(Self { k: u32::from(*k), words })
    }
}

#[cfg(test)]
mod tests {
    use super::Bloom;
    use crate::tokens::token_hash;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let mut bloom = Bloom::with_capacity(10_000);
        for i in 0..10_000 {
            bloom.insert(token_hash(&format!("token{i}")));
        }
        let bloom = Bloom::from_bytes(&bloom.to_bytes()).unwrap();
        assert!((0..10_000).all(|i| bloom.may_contain(token_hash(&format!("token{i}")))));
        let false_positives = (0..10_000).filter(|i| bloom.may_contain(token_hash(&format!("other{i}")))).count();
        assert!(false_positives < 300, "{false_positives} false positives in 10000");
        assert!(Bloom::from_bytes(&[]).is_none());
        assert!(Bloom::from_bytes(&[7, 1, 2]).is_none());
    }
}
