//! Shards own ranges of the 128-bit MD5 hash space, written as 32 hex digits
//! (`inclusiveBeginKey` / `exclusiveEndKey`). A logstore of `n` shards splits the space into `n`
//! equal ranges; the last one ends at `ffffffffffffffffffffffffffffffff`, which it also holds.

use md5::{Digest, Md5};

/// The hash range of one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashRange {
    pub begin: u128,
    /// `None` for the top of the space (2^128).
    pub end: Option<u128>,
}

impl HashRange {
    /// The range of shard `index` among `count` equal shards.
    pub fn of_shard(index: u32, count: u32) -> Self {
        assert!(count > 0 && index < count, "shard {index} of {count}");
        if count == 1 {
            return Self { begin: 0, end: None };
        }
        let count = u128::from(count);
        // 2^128 / count, computed without overflowing.
        let step = u128::MAX / count + (u128::MAX % count + 1) / count;
        let begin = step * u128::from(index);
        let end = (u128::from(index) + 1 < count).then(|| step * (u128::from(index) + 1));
        Self { begin, end }
    }

    /// Whether `key` falls in this range.
    pub fn contains(&self, key: u128) -> bool {
        key >= self.begin && self.end.is_none_or(|end| key < end)
    }

    /// `inclusiveBeginKey` as 32 hex digits.
    pub fn begin_hex(&self) -> String {
        format!("{:032x}", self.begin)
    }

    /// `exclusiveEndKey` as 32 hex digits (all `f` for the top of the space).
    pub fn end_hex(&self) -> String {
        format!("{:032x}", self.end.unwrap_or(u128::MAX))
    }
}

/// Turns a route key into a point of the hash space: 32 hex digits are taken as they are (the
/// MD5 an SLS producer computes); any other string is MD5-hashed first.
pub fn hash_key(key: &str) -> u128 {
    if key.len() == 32
        && let Ok(value) = u128::from_str_radix(key, 16)
    {
        return value;
    }
    u128::from_be_bytes(Md5::digest(key.as_bytes()).into())
}

/// The shard among `count` that holds `key`.
pub fn shard_for_key(key: &str, count: u32) -> u32 {
    let point = hash_key(key);
    (0..count).find(|index| HashRange::of_shard(*index, count).contains(point)).unwrap_or(count - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_tile_the_space() {
        let two = [HashRange::of_shard(0, 2), HashRange::of_shard(1, 2)];
        assert_eq!(two[0].begin_hex(), "00000000000000000000000000000000");
        assert_eq!(two[0].end_hex(), "80000000000000000000000000000000");
        assert_eq!(two[1].begin_hex(), "80000000000000000000000000000000");
        assert_eq!(two[1].end_hex(), "ffffffffffffffffffffffffffffffff");
        for count in [1u32, 3, 7, 64] {
            let ranges: Vec<_> = (0..count).map(|i| HashRange::of_shard(i, count)).collect();
            assert_eq!(ranges[0].begin, 0);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, Some(pair[1].begin));
            }
            assert!(ranges.last().unwrap().contains(u128::MAX));
        }
    }

    #[test]
    fn routes_hex_keys_directly_and_hashes_others() {
        assert_eq!(shard_for_key("00000000000000000000000000000000", 2), 0);
        assert_eq!(shard_for_key("7fffffffffffffffffffffffffffffff", 2), 0);
        assert_eq!(shard_for_key("80000000000000000000000000000000", 2), 1);
        assert_eq!(shard_for_key("ffffffffffffffffffffffffffffffff", 2), 1);
        // md5("host-a") = 0x2a...; the same key always lands on the same shard.
        assert_eq!(shard_for_key("host-a", 4), shard_for_key("host-a", 4));
        assert_eq!(hash_key("a"), 0x0cc175b9c0f1b6a831c399e269772661);
    }
}
