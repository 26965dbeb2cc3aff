//! The columnar index of a segment: the same logs as the segment's protobuf groups, stored column
//! by column so that a query reads and decodes only the fields it uses.
//!
//! A section holds one column per content key (up to [`MAX_COLUMNS`]), the log times, and the
//! groups' topic, source and tags. A column whose distinct values stay within
//! [`DICT_LIMIT`] is dictionary-encoded (one code per log, 0 for a log without the key); any
//! other is stored plain (end offsets, a presence byte per log, the values back to back). Each
//! column is its own lz4 block, so a reader decompresses only what it asks for.
//!
//! ```text
//! section := b"LPC1" | version u8 (3; 1 and 2 are still read) | 3 reserved | rows u32 | groups u32 | columns u32
//!            | flags u32 (bit 0: more keys than MAX_COLUMNS, some left out) | dir_len u32
//!            | directory (dir_len bytes) | blocks
//! entry   := name_len u16 | name | kind u8 | raw_len u32 | offset u32 (from the section start) | len u32
//! kinds   := 0 times | 1 groups | 2 dictionary | 3 plain
//! times   := version 2: runs of equal times, (time u32 | count u32)*; version 1: time u32 per row
//! groups  := per group: rows u32 | topic str | source str | tags u16 | (key str | value str)*   (str := u32 len | bytes)
//! dict    := version 3: head_len u32 | head_raw_len u32 | lz4(head) (head_len bytes) | lz4(codes)
//!            head := entries u32 | str* | counts u32 * (entries + 1) | width u8 (1 or 2)
//!            (counts[0]: rows without the key; counts[i]: rows with value i)
//!            versions 1 and 2, one lz4 block: entries u32 | str* | width u8 | codes
//! codes   := width bytes per row, 0 = missing
//! plain   := per row: end u32 (cumulative) | per row: present u8 | value bytes
//! ```
//! All integers little-endian; every block but a version-3 dictionary is one lz4 block of its raw
//! bytes (`raw_len` in the directory), a version-3 dictionary two (`raw_len` = head + codes).
//! Topic and source are empty strings when a group has none.
//! Times are run-length encoded because logs come many per second: raw, a segment's times were
//! long repeats of one 4-byte pattern, which lz4 stores as overlapping matches and decodes a byte
//! at a time (a quarter of a `status` group-by's CPU went there).
//! A dictionary's head carries how many rows hold each value, compressed apart from the codes:
//! a query that selects every row of a segment and groups by that one column (`* | select status,
//! count(*) group by status`) reads the counts and never decompresses the codes
//! ([`Column::Counts`]).

use std::collections::HashMap;

use crate::codec::Compression;
use crate::model::LogGroup;

/// Most content keys a section holds; logs with more distinct keys get the first ones only and
/// the section is marked incomplete (queries on the others read the groups instead).
pub const MAX_COLUMNS: usize = 256;
/// Most distinct values of a dictionary column.
pub const DICT_LIMIT: usize = 4096;
/// Bytes of the fixed section header (before the directory).
pub const HEADER_LEN: usize = 28;

const MAGIC: &[u8; 4] = b"LPC1";
/// The version written (1, with times one per row, and 2, with dictionaries in one block, are
/// still read).
const VERSION: u8 = 3;
const KIND_TIMES: u8 = 0;
const KIND_GROUPS: u8 = 1;
const KIND_DICT: u8 = 2;
const KIND_PLAIN: u8 = 3;
const TIMES: &str = "__time__";
const GROUPS: &str = "__groups__";
const FLAG_TRUNCATED: u32 = 1;

/// A damaged or unreadable section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("columnar index: {0}")]
pub struct ColumnsError(pub String);

type Result<T> = std::result::Result<T, ColumnsError>;

fn bad(why: impl Into<String>) -> ColumnsError {
    ColumnsError(why.into())
}

/// Builds the section of a batch, group by group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnsBuilder {
    max_columns: usize,
    rows: u32,
    times: Vec<u8>,
    groups: Vec<u8>,
    group_count: u32,
    columns: Vec<ColumnBuilder>,
    by_name: HashMap<String, usize>,
    truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ColumnBuilder {
    name: String,
    /// Rows filled so far.
    len: u32,
    data: ColumnData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ColumnData {
    Dict { lookup: HashMap<String, u16>, values: Vec<String>, codes: Vec<u16> },
    Plain { ends: Vec<u32>, present: Vec<u8>, bytes: Vec<u8> },
}

impl ColumnData {
    fn push_missing(&mut self) {
        match self {
            ColumnData::Dict { codes, .. } => codes.push(0),
            ColumnData::Plain { ends, present, bytes } => {
                ends.push(bytes.len() as u32);
                present.push(0);
            }
        }
    }

    /// Appends a value; false when a dictionary is full (the caller converts and retries).
    fn push(&mut self, value: &str) -> bool {
        match self {
            ColumnData::Dict { lookup, values, codes } => {
                if let Some(code) = lookup.get(value) {
                    codes.push(*code);
                    return true;
                }
                if values.len() >= DICT_LIMIT {
                    return false;
                }
                values.push(value.to_owned());
                let code = values.len() as u16;
                lookup.insert(value.to_owned(), code);
                codes.push(code);
                true
            }
            ColumnData::Plain { ends, present, bytes } => {
                bytes.extend_from_slice(value.as_bytes());
                ends.push(bytes.len() as u32);
                present.push(1);
                true
            }
        }
    }

    fn into_plain(self) -> ColumnData {
        match self {
            ColumnData::Dict { values, codes, .. } => {
                let mut plain = ColumnData::Plain {
                    ends: Vec::with_capacity(codes.capacity()),
                    present: Vec::with_capacity(codes.capacity()),
                    bytes: Vec::new(),
                };
                for code in codes {
                    match code {
                        0 => plain.push_missing(),
                        code => {
                            plain.push(&values[usize::from(code) - 1]);
                        }
                    }
                }
                plain
            }
            plain => plain,
        }
    }
}

impl ColumnBuilder {
    fn pad_to(&mut self, row: u32) {
        while self.len < row {
            self.data.push_missing();
            self.len += 1;
        }
    }

    fn push(&mut self, row: u32, value: &str) {
        if self.len > row {
            return; // A key repeated within one log: the first value is the column's.
        }
        self.pad_to(row);
        if !self.data.push(value) {
            let data =
                std::mem::replace(&mut self.data, ColumnData::Plain { ends: vec![], present: vec![], bytes: vec![] });
            self.data = data.into_plain();
            self.data.push(value);
        }
        self.len += 1;
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

impl Default for ColumnsBuilder {
    fn default() -> Self {
        Self::new(MAX_COLUMNS)
    }
}

impl ColumnsBuilder {
    /// A builder keeping at most `max_columns` content keys.
    pub fn new(max_columns: usize) -> Self {
        Self {
            max_columns,
            rows: 0,
            times: Vec::new(),
            groups: Vec::new(),
            group_count: 0,
            columns: Vec::new(),
            by_name: HashMap::new(),
            truncated: false,
        }
    }

    /// Adds the logs of one group.
    pub fn add_group(&mut self, group: &LogGroup) {
        self.group_count += 1;
        self.groups.extend_from_slice(&(group.logs.len() as u32).to_le_bytes());
        put_str(&mut self.groups, group.topic.as_deref().unwrap_or(""));
        put_str(&mut self.groups, group.source.as_deref().unwrap_or(""));
        let tags = group.log_tags.len().min(usize::from(u16::MAX));
        self.groups.extend_from_slice(&(tags as u16).to_le_bytes());
        for tag in &group.log_tags[..tags] {
            put_str(&mut self.groups, &tag.key);
            put_str(&mut self.groups, &tag.value);
        }
        for log in &group.logs {
            let row = self.rows;
            self.times.extend_from_slice(&log.time.to_le_bytes());
            for content in &log.contents {
                let index = match self.by_name.get(content.key.as_str()) {
                    Some(index) => *index,
                    None if self.columns.len() < self.max_columns => {
                        self.columns.push(ColumnBuilder {
                            name: content.key.clone(),
                            len: 0,
                            data: ColumnData::Dict { lookup: HashMap::new(), values: Vec::new(), codes: Vec::new() },
                        });
                        self.by_name.insert(content.key.clone(), self.columns.len() - 1);
                        self.columns.len() - 1
                    }
                    None => {
                        self.truncated = true;
                        continue;
                    }
                };
                self.columns[index].push(row, &content.value);
            }
            self.rows += 1;
        }
    }

    /// Number of logs added.
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// The encoded section.
    pub fn finish(self) -> Vec<u8> {
        self.finish_version(VERSION)
    }

    fn finish_version(mut self, version: u8) -> Vec<u8> {
        let rows = self.rows;
        let mut blocks: Vec<(String, u8, u32, Vec<u8>)> = Vec::with_capacity(self.columns.len() + 2);
        let times = std::mem::take(&mut self.times);
        let mut runs: Vec<u8> = Vec::new();
        let mut words = times.chunks_exact(4).map(|word| u32::from_le_bytes(word.try_into().expect("4 bytes")));
        if let Some(first) = words.next() {
            let (mut time, mut count) = (first, 1u32);
            for next in words {
                if next == time {
                    count += 1;
                } else {
                    runs.extend_from_slice(&time.to_le_bytes());
                    runs.extend_from_slice(&count.to_le_bytes());
                    (time, count) = (next, 1);
                }
            }
            runs.extend_from_slice(&time.to_le_bytes());
            runs.extend_from_slice(&count.to_le_bytes());
        }
        // (name, kind, raw length, stored bytes)
        let lz4 =
            |name: String, kind: u8, raw: Vec<u8>| (name, kind, raw.len() as u32, Compression::Lz4.compress(&raw));
        blocks.push(lz4(TIMES.into(), KIND_TIMES, if version == 1 { times } else { runs }));
        blocks.push(lz4(GROUPS.into(), KIND_GROUPS, std::mem::take(&mut self.groups)));
        for mut column in std::mem::take(&mut self.columns) {
            column.pad_to(rows);
            let block = match column.data {
                ColumnData::Dict { values, codes, .. } => {
                    let mut head = Vec::new();
                    head.extend_from_slice(&(values.len() as u32).to_le_bytes());
                    for value in &values {
                        put_str(&mut head, value);
                    }
                    if version >= 3 {
                        let mut counts = vec![0u32; values.len() + 1];
                        for code in &codes {
                            counts[usize::from(*code)] += 1;
                        }
                        head.extend(counts.iter().flat_map(|count| count.to_le_bytes()));
                    }
                    let codes: Vec<u8> = if values.len() < 256 {
                        head.push(1);
                        codes.iter().map(|code| *code as u8).collect()
                    } else {
                        head.push(2);
                        codes.iter().flat_map(|code| code.to_le_bytes()).collect()
                    };
                    if version >= 3 {
                        let stored_head = Compression::Lz4.compress(&head);
                        let mut stored = Vec::with_capacity(8 + stored_head.len() + codes.len() / 2);
                        stored.extend_from_slice(&(stored_head.len() as u32).to_le_bytes());
                        stored.extend_from_slice(&(head.len() as u32).to_le_bytes());
                        stored.extend_from_slice(&stored_head);
                        stored.extend_from_slice(&Compression::Lz4.compress(&codes));
                        (column.name, KIND_DICT, (head.len() + codes.len()) as u32, stored)
                    } else {
                        head.extend_from_slice(&codes);
                        lz4(column.name, KIND_DICT, head)
                    }
                }
                ColumnData::Plain { ends, present, bytes } => {
                    let mut raw = Vec::with_capacity(ends.len() * 5 + bytes.len());
                    raw.extend(ends.iter().flat_map(|end| end.to_le_bytes()));
                    raw.extend_from_slice(&present);
                    raw.extend_from_slice(&bytes);
                    lz4(column.name, KIND_PLAIN, raw)
                }
            };
            blocks.push(block);
        }
        let mut directory = Vec::new();
        let dir_len: usize = blocks.iter().map(|(name, ..)| 2 + name.len() + 1 + 12).sum();
        let mut offset = (HEADER_LEN + dir_len) as u32;
        for (name, kind, raw_len, block) in &blocks {
            directory.extend_from_slice(&(name.len() as u16).to_le_bytes());
            directory.extend_from_slice(name.as_bytes());
            directory.push(*kind);
            directory.extend_from_slice(&raw_len.to_le_bytes());
            directory.extend_from_slice(&offset.to_le_bytes());
            directory.extend_from_slice(&(block.len() as u32).to_le_bytes());
            offset += block.len() as u32;
        }
        let mut out = Vec::with_capacity(offset as usize);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[version, 0, 0, 0]);
        out.extend_from_slice(&rows.to_le_bytes());
        out.extend_from_slice(&self.group_count.to_le_bytes());
        out.extend_from_slice(&((blocks.len() - 2) as u32).to_le_bytes());
        out.extend_from_slice(&(if self.truncated { FLAG_TRUNCATED } else { 0 }).to_le_bytes());
        out.extend_from_slice(&(directory.len() as u32).to_le_bytes());
        out.extend_from_slice(&directory);
        for (.., block) in blocks {
            out.extend_from_slice(&block);
        }
        out
    }
}

/// A block of the section, as its directory names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub kind: u8,
    pub raw_len: u32,
    pub offset: u32,
    pub len: u32,
}

/// The section's header and directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    pub version: u8,
    pub rows: u32,
    pub groups: u32,
    /// Some keys were left out (over [`MAX_COLUMNS`]).
    pub truncated: bool,
    pub entries: Vec<Entry>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len()).ok_or_else(|| bad("truncated"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn str(&mut self) -> Result<&'a str> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| bad("a string is not UTF-8"))
    }
}

/// Length of header + directory, read from the fixed header (its first [`HEADER_LEN`] bytes).
pub fn directory_len(header: &[u8]) -> Result<usize> {
    if header.len() < HEADER_LEN || &header[..4] != MAGIC {
        return Err(bad("bad header"));
    }
    Ok(HEADER_LEN + u32::from_le_bytes(header[24..28].try_into().expect("4 bytes")) as usize)
}

impl Directory {
    /// Parses the header and directory (the first [`directory_len`] bytes of a section).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let total = directory_len(bytes)?;
        let version = bytes[4];
        if !(1..=VERSION).contains(&version) {
            return Err(bad(format!("unknown version {version}")));
        }
        let mut reader = Reader { bytes: bytes.get(..total).ok_or_else(|| bad("truncated directory"))?, at: 8 };
        let rows = reader.u32()?;
        let groups = reader.u32()?;
        let columns = reader.u32()?;
        let flags = reader.u32()?;
        reader.u32()?;
        let mut entries = Vec::with_capacity((columns as usize).min(MAX_COLUMNS) + 2);
        while reader.at < total {
            let name_len = usize::from(reader.u16()?);
            let name = std::str::from_utf8(reader.take(name_len)?).map_err(|_| bad("a name is not UTF-8"))?.to_owned();
            entries.push(Entry {
                name,
                kind: reader.u8()?,
                raw_len: reader.u32()?,
                offset: reader.u32()?,
                len: reader.u32()?,
            });
        }
        if entries.len() != columns as usize + 2 {
            return Err(bad("directory size mismatch"));
        }
        Ok(Self { version, rows, groups, truncated: flags & FLAG_TRUNCATED != 0, entries })
    }

    /// The entry of a block.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.name == name)
    }

    /// The names of the content-key columns.
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().filter(|entry| entry.kind >= KIND_DICT).map(|entry| entry.name.as_str())
    }
}

/// One group's topic, source and tags, and its first row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub first_row: u32,
    pub rows: u32,
    pub topic: String,
    pub source: String,
    pub tags: Vec<(String, String)>,
}

/// A decoded content-key column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// `codes[row]` is 0 (no value) or 1 + an index into `values`.
    Dict {
        values: Vec<String>,
        codes: Vec<u16>,
    },
    Plain {
        ends: Vec<u32>,
        present: Vec<u8>,
        text: String,
    },
    /// A dictionary column decoded without its codes (asked for when every row of the segment is
    /// selected): `counts[0]` rows have no value, `counts[i]` rows have `values[i - 1]`. It has
    /// no rows to look up: [`Column::get`] answers `None`.
    Counts {
        values: Vec<String>,
        counts: Vec<u32>,
    },
    /// No log of the segment has the key.
    Absent,
}

impl Column {
    /// The value of a row.
    pub fn get(&self, row: usize) -> Option<&str> {
        match self {
            Column::Dict { values, codes } => match codes[row] {
                0 => None,
                code => Some(&values[usize::from(code) - 1]),
            },
            Column::Plain { ends, present, text } => {
                if present[row] == 0 {
                    return None;
                }
                let start = if row == 0 { 0 } else { ends[row - 1] as usize };
                text.get(start..ends[row] as usize)
            }
            Column::Counts { .. } | Column::Absent => None,
        }
    }
}

fn decompress(block: &[u8], entry: &Entry) -> Result<Vec<u8>> {
    decompress_len(block, entry.raw_len as usize, &entry.name)
}

fn decompress_len(block: &[u8], raw_len: usize, name: &str) -> Result<Vec<u8>> {
    // lz4 expands at most ~255 times: a larger claim is damage, not a reason to allocate.
    if raw_len > block.len().saturating_mul(256).saturating_add(64) {
        return Err(bad(format!("{name}: implausible length")));
    }
    Compression::Lz4.decompress(block, raw_len, raw_len).map_err(|error| bad(format!("{name}: {error}")))
}

/// A version-3 dictionary block: its head decompressed, and the stored codes with their raw length.
fn split_dictionary<'b>(block: &'b [u8], entry: &Entry) -> Result<(Vec<u8>, &'b [u8], usize)> {
    let mut reader = Reader { bytes: block, at: 0 };
    let head_len = reader.u32()? as usize;
    let head_raw_len = reader.u32()? as usize;
    let head = reader.take(head_len)?;
    let codes_raw_len = (entry.raw_len as usize)
        .checked_sub(head_raw_len)
        .ok_or_else(|| bad(format!("{}: bad dictionary lengths", entry.name)))?;
    Ok((decompress_len(head, head_raw_len, &entry.name)?, &block[reader.at..], codes_raw_len))
}

/// A dictionary's values, and (version 3) its counts, and the code width.
fn dictionary_head(reader: &mut Reader<'_>, entry: &Entry, rows: usize, counted: bool) -> Result<DictHead> {
    let count = reader.u32()? as usize;
    if count > DICT_LIMIT {
        return Err(bad(format!("{}: dictionary too large", entry.name)));
    }
    let values = (0..count).map(|_| reader.str().map(str::to_owned)).collect::<Result<Vec<_>>>()?;
    let counts = if counted {
        let counts: Vec<u32> = reader
            .take((count + 1) * 4)?
            .chunks_exact(4)
            .map(|word| u32::from_le_bytes(word.try_into().expect("4 bytes")))
            .collect();
        if counts.iter().map(|count| u64::from(*count)).sum::<u64>() != rows as u64 {
            return Err(bad(format!("{}: counts and rows disagree", entry.name)));
        }
        counts
    } else {
        Vec::new()
    };
    let width = reader.u8()?;
    if !(1..=2).contains(&width) {
        return Err(bad(format!("{}: bad code width", entry.name)));
    }
    Ok(DictHead { values, counts, width })
}

struct DictHead {
    values: Vec<String>,
    counts: Vec<u32>,
    width: u8,
}

fn dictionary_codes(raw: &[u8], width: u8, rows: usize, values: usize, name: &str) -> Result<Vec<u16>> {
    if raw.len() != rows * usize::from(width) {
        return Err(bad(format!("{name}: wrong number of codes")));
    }
    let codes: Vec<u16> = match width {
        1 => raw.iter().map(|code| u16::from(*code)).collect(),
        _ => raw.chunks_exact(2).map(|code| u16::from_le_bytes(code.try_into().expect("2 bytes"))).collect(),
    };
    if codes.iter().any(|code| usize::from(*code) > values) {
        return Err(bad(format!("{name}: code out of range")));
    }
    Ok(codes)
}

/// A content-key column as [`Column::Counts`] when its block carries counts (a version-3
/// dictionary), without decompressing its codes; `None` for any other block.
pub fn decode_counts(block: &[u8], entry: &Entry, rows: u32, version: u8) -> Result<Option<Column>> {
    if entry.kind != KIND_DICT || version < 3 {
        return Ok(None);
    }
    let (head, ..) = split_dictionary(block, entry)?;
    let head = dictionary_head(&mut Reader { bytes: &head, at: 0 }, entry, rows as usize, true)?;
    Ok(Some(Column::Counts { values: head.values, counts: head.counts }))
}

/// Decodes the times block (runs of equal times from version 2, one per row before).
pub fn decode_times(block: &[u8], entry: &Entry, rows: u32, version: u8) -> Result<Vec<u32>> {
    let word = |bytes: &[u8]| u32::from_le_bytes(bytes.try_into().expect("4 bytes"));
    if version == 1 {
        if entry.raw_len as usize != rows as usize * 4 {
            return Err(bad("times: wrong length"));
        }
        let raw = decompress(block, entry)?;
        if raw.len() != rows as usize * 4 {
            return Err(bad("times: wrong length"));
        }
        return Ok(raw.chunks_exact(4).map(word).collect());
    }
    if !entry.raw_len.is_multiple_of(8) || entry.raw_len as usize > rows as usize * 8 {
        return Err(bad("times: wrong length"));
    }
    let raw = decompress(block, entry)?;
    let mut times = Vec::with_capacity(rows as usize);
    for run in raw.chunks_exact(8) {
        let count = word(&run[4..]) as usize;
        if count > rows as usize - times.len() {
            return Err(bad("times: more than the rows"));
        }
        times.extend(std::iter::repeat_n(word(&run[..4]), count));
    }
    if times.len() != rows as usize {
        return Err(bad("times: fewer than the rows"));
    }
    Ok(times)
}

/// Decodes the groups block.
pub fn decode_groups(block: &[u8], entry: &Entry, groups: u32, rows: u32) -> Result<Vec<GroupInfo>> {
    let raw = decompress(block, entry)?;
    let mut reader = Reader { bytes: &raw, at: 0 };
    let mut out = Vec::with_capacity((groups as usize).min(raw.len() / 14));
    let mut first_row = 0u32;
    for _ in 0..groups {
        let group_rows = reader.u32()?;
        let topic = reader.str()?.to_owned();
        let source = reader.str()?.to_owned();
        let tag_count = reader.u16()?;
        let mut tags = Vec::with_capacity(usize::from(tag_count));
        for _ in 0..tag_count {
            tags.push((reader.str()?.to_owned(), reader.str()?.to_owned()));
        }
        out.push(GroupInfo { first_row, rows: group_rows, topic, source, tags });
        first_row = first_row
            .checked_add(group_rows)
            .filter(|total| *total <= rows)
            .ok_or_else(|| bad("groups: too many rows"))?;
    }
    Ok(out)
}

/// Decodes a content-key column block.
pub fn decode_column(block: &[u8], entry: &Entry, rows: u32, version: u8) -> Result<Column> {
    let rows = rows as usize;
    if entry.kind == KIND_DICT && version >= 3 {
        let (head, codes, codes_raw_len) = split_dictionary(block, entry)?;
        let head = dictionary_head(&mut Reader { bytes: &head, at: 0 }, entry, rows, true)?;
        let codes = decompress_len(codes, codes_raw_len, &entry.name)?;
        let codes = dictionary_codes(&codes, head.width, rows, head.values.len(), &entry.name)?;
        return Ok(Column::Dict { values: head.values, codes });
    }
    let raw = decompress(block, entry)?;
    let mut reader = Reader { bytes: &raw, at: 0 };
    match entry.kind {
        KIND_DICT => {
            let head = dictionary_head(&mut reader, entry, rows, false)?;
            let codes = reader.take(rows * usize::from(head.width))?;
            let codes = dictionary_codes(codes, head.width, rows, head.values.len(), &entry.name)?;
            Ok(Column::Dict { values: head.values, codes })
        }
        KIND_PLAIN => {
            let ends: Vec<u32> = reader
                .take(rows * 4)?
                .chunks_exact(4)
                .map(|end| u32::from_le_bytes(end.try_into().expect("4 bytes")))
                .collect();
            let present = reader.take(rows)?.to_vec();
            let text = std::str::from_utf8(&raw[reader.at..]).map_err(|_| bad("values are not UTF-8"))?.to_owned();
            let mut previous = 0;
            for end in &ends {
                if *end < previous || *end as usize > text.len() || !text.is_char_boundary(*end as usize) {
                    return Err(bad(format!("{}: bad offsets", entry.name)));
                }
                previous = *end;
            }
            Ok(Column::Plain { ends, present, text })
        }
        other => Err(bad(format!("{}: unknown kind {other}", entry.name))),
    }
}

/// The decoded parts of a section a query asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub rows: u32,
    pub times: Vec<u32>,
    pub groups: Vec<GroupInfo>,
    /// `group_of[row]`: the index of the row's group.
    pub group_of: Vec<u32>,
    pub columns: HashMap<String, Column>,
}

impl Columns {
    /// Decodes `names` (and always the times and groups) from a whole section's bytes.
    /// `Ok(None)`: a name is not in a truncated section (read the groups instead).
    pub fn decode(section: &[u8], names: &[&str]) -> Result<Option<Self>> {
        let directory = Directory::parse(section)?;
        Self::decode_with(&directory, names, &[], |entry| {
            section.get(entry.offset as usize..(entry.offset as usize).saturating_add(entry.len as usize))
        })
    }

    /// Decodes from blocks that `block` returns for each entry. Names also in `counted` are
    /// decoded as [`Column::Counts`] where their block allows (a version-3 dictionary).
    pub fn decode_with<'b>(
        directory: &Directory,
        names: &[&str],
        counted: &[&str],
        block: impl Fn(&Entry) -> Option<&'b [u8]>,
    ) -> Result<Option<Self>> {
        let get = |entry: &Entry| block(entry).ok_or_else(|| bad(format!("{}: block out of range", entry.name)));
        let times_entry = directory.entry(TIMES).ok_or_else(|| bad("no times"))?;
        let groups_entry = directory.entry(GROUPS).ok_or_else(|| bad("no groups"))?;
        let times = decode_times(get(times_entry)?, times_entry, directory.rows, directory.version)?;
        let groups = decode_groups(get(groups_entry)?, groups_entry, directory.groups, directory.rows)?;
        let mut group_of = Vec::with_capacity(directory.rows as usize);
        for (index, group) in groups.iter().enumerate() {
            group_of.extend(std::iter::repeat_n(index as u32, group.rows as usize));
        }
        if group_of.len() != directory.rows as usize {
            return Err(bad("groups and rows disagree"));
        }
        let mut columns = HashMap::new();
        for name in names {
            if columns.contains_key(*name) {
                continue;
            }
            let column = match directory.entry(name).filter(|entry| entry.kind >= KIND_DICT) {
                Some(entry) if counted.contains(name) => {
                    match decode_counts(get(entry)?, entry, directory.rows, directory.version)? {
                        Some(counts) => counts,
                        None => decode_column(get(entry)?, entry, directory.rows, directory.version)?,
                    }
                }
                Some(entry) => decode_column(get(entry)?, entry, directory.rows, directory.version)?,
                None if directory.truncated => return Ok(None),
                None => Column::Absent,
            };
            columns.insert((*name).to_owned(), column);
        }
        Ok(Some(Self { rows: directory.rows, times, groups, group_of, columns }))
    }

    /// The columns `names` (plus times and groups) of decoded log groups, built in memory (for
    /// segments without a section, and for searches that read the groups anyway).
    pub fn from_groups(groups: &[LogGroup], names: &[&str]) -> Self {
        let rows: usize = groups.iter().map(|group| group.logs.len()).sum();
        let mut times = Vec::with_capacity(rows);
        let mut group_of = Vec::with_capacity(rows);
        let mut infos = Vec::with_capacity(groups.len());
        let mut first_row = 0u32;
        for (index, group) in groups.iter().enumerate() {
            times.extend(group.logs.iter().map(|log| log.time));
            group_of.extend(std::iter::repeat_n(index as u32, group.logs.len()));
            infos.push(GroupInfo {
                first_row,
                rows: group.logs.len() as u32,
                topic: group.topic.clone().unwrap_or_default(),
                source: group.source.clone().unwrap_or_default(),
                tags: group.log_tags.iter().map(|tag| (tag.key.clone(), tag.value.clone())).collect(),
            });
            first_row += group.logs.len() as u32;
        }
        let mut columns = HashMap::new();
        for name in names {
            let mut ends = Vec::with_capacity(rows);
            let mut present = Vec::with_capacity(rows);
            let mut text = String::new();
            for log in groups.iter().flat_map(|group| &group.logs) {
                match log.contents.iter().find(|content| content.key == *name) {
                    Some(content) => {
                        text.push_str(&content.value);
                        present.push(1);
                    }
                    None => present.push(0),
                }
                ends.push(text.len() as u32);
            }
            let column = if present.contains(&1) { Column::Plain { ends, present, text } } else { Column::Absent };
            columns.insert((*name).to_owned(), column);
        }
        Self { rows: rows as u32, times, groups: infos, group_of, columns }
    }

    /// The value of a field of a row: a content key, `__topic__`, `__source__` or `__tag__:key`.
    /// Content keys must have been asked for when decoding.
    pub fn field(&self, name: &str, row: usize) -> Option<&str> {
        let group = || &self.groups[self.group_of[row] as usize];
        match name {
            "__topic__" => Some(group().topic.as_str()),
            "__source__" => Some(group().source.as_str()),
            _ => match name.strip_prefix(crate::model::TAG_PREFIX) {
                Some(tag) => group().tags.iter().find(|(key, _)| key == tag).map(|(_, value)| value.as_str()),
                None => self.columns.get(name).and_then(|column| column.get(row)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Content, Log, LogTag};

    fn group(topic: &str, logs: &[(u32, &[(&str, &str)])]) -> LogGroup {
        LogGroup {
            topic: Some(topic.into()),
            source: Some("10.0.0.1".into()),
            log_tags: vec![LogTag { key: "host".into(), value: format!("{topic}-host") }],
            logs: logs
                .iter()
                .map(|(time, contents)| Log {
                    time: *time,
                    contents: contents.iter().map(|(k, v)| Content { key: (*k).into(), value: (*v).into() }).collect(),
                    time_ns: None,
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn round_trips_dictionary_plain_and_missing_values() {
        let mut builder = ColumnsBuilder::default();
        builder.add_group(&group("a", &[(10, &[("status", "200"), ("url", "/x")]), (11, &[("url", "/y")])]));
        builder.add_group(&group("b", &[(12, &[("status", "500"), ("status", "dup"), ("extra", "é")])]));
        // A high-cardinality column turns plain part way.
        let many: Vec<String> = (0..DICT_LIMIT + 10).map(|i| format!("id-{i}")).collect();
        let logs: Vec<(u32, Vec<(&str, &str)>)> =
            many.iter().enumerate().map(|(i, id)| (20 + i as u32, vec![("id", id.as_str())])).collect();
        let borrowed: Vec<(u32, &[(&str, &str)])> = logs.iter().map(|(t, c)| (*t, c.as_slice())).collect();
        builder.add_group(&group("c", &borrowed));
        let rows = builder.rows() as usize;
        let section = builder.finish();
        let columns = Columns::decode(&section, &["status", "url", "extra", "id", "nope"]).unwrap().unwrap();
        assert_eq!(columns.rows as usize, rows);
        assert_eq!(&columns.times[..3], &[10, 11, 12]);
        assert_eq!(columns.field("status", 0), Some("200"));
        assert_eq!(columns.field("status", 1), None);
        assert_eq!(columns.field("status", 2), Some("500"), "the first of a repeated key");
        assert_eq!(columns.field("url", 1), Some("/y"));
        assert_eq!(columns.field("url", 2), None);
        assert_eq!(columns.field("extra", 2), Some("é"));
        assert_eq!(columns.field("nope", 0), None);
        assert_eq!(columns.field("__topic__", 2), Some("b"));
        assert_eq!(columns.field("__source__", 2), Some("10.0.0.1"));
        assert_eq!(columns.field("__tag__:host", 3), Some("c-host"));
        assert!(matches!(columns.columns["id"], Column::Plain { .. }));
        assert!(matches!(columns.columns["status"], Column::Dict { .. }));
        for (index, id) in many.iter().enumerate() {
            assert_eq!(columns.field("id", 3 + index), Some(id.as_str()));
        }
        assert_eq!(columns.field("id", 0), None);
    }

    #[test]
    fn built_from_groups_equals_decoded_from_a_section() {
        let groups = [
            group("a", &[(10, &[("status", "200"), ("url", "/x")]), (11, &[("url", "/y")])]),
            group("b", &[(12, &[("status", "500"), ("status", "dup")])]),
        ];
        let mut builder = ColumnsBuilder::default();
        groups.iter().for_each(|group| builder.add_group(group));
        let decoded = Columns::decode(&builder.finish(), &["status", "url", "none"]).unwrap().unwrap();
        let built = Columns::from_groups(&groups, &["status", "url", "none"]);
        assert_eq!(
            (&built.times, &built.groups, &built.group_of),
            (&decoded.times, &decoded.groups, &decoded.group_of)
        );
        for name in ["status", "url", "none", "__topic__", "__tag__:host"] {
            for row in 0..3 {
                assert_eq!(built.field(name, row), decoded.field(name, row), "{name} {row}");
            }
        }
    }

    #[test]
    fn version_1_sections_still_decode_and_runs_are_checked() {
        let groups = [
            group("a", &[(10, &[("k", "1")]), (10, &[("k", "2")]), (11, &[("k", "3")])]),
            group("b", &[(11, &[("k", "4")]), (9, &[("k", "5")]), (9, &[])]),
        ];
        let build = |version| {
            let mut builder = ColumnsBuilder::default();
            groups.iter().for_each(|group| builder.add_group(group));
            builder.finish_version(version)
        };
        let (old, new) = (build(1), build(VERSION));
        assert_eq!(Directory::parse(&old).unwrap().version, 1);
        let old = Columns::decode(&old, &["k"]).unwrap().unwrap();
        let decoded = Columns::decode(&new, &["k"]).unwrap().unwrap();
        assert_eq!(old, decoded);
        assert_eq!(decoded.times, [10, 10, 11, 11, 9, 9]);
        // Four runs of (time, count); a count past the rows, or too few, is damage.
        let directory = Directory::parse(&new).unwrap();
        let entry = directory.entry(TIMES).unwrap().clone();
        for runs in [vec![(10u32, 2u32), (11, 2), (9, 3)], vec![(10, 2), (11, 2), (9, 1)], vec![(1, u32::MAX)]] {
            let raw: Vec<u8> =
                runs.iter().flat_map(|(time, count)| [time.to_le_bytes(), count.to_le_bytes()]).flatten().collect();
            let entry = Entry { raw_len: raw.len() as u32, ..entry.clone() };
            assert!(decode_times(&Compression::Lz4.compress(&raw), &entry, 6, VERSION).is_err(), "{runs:?}");
        }
    }

    #[test]
    fn dictionaries_carry_value_counts_and_older_versions_still_decode() {
        // Two dictionary widths (one and two bytes per code) and a missing key.
        let wide: Vec<String> = (0..300).map(|i| format!("v{i}")).collect();
        let logs: Vec<(u32, Vec<(&str, &str)>)> = (0..900u32)
            .map(|i| {
                let mut contents = vec![("wide", wide[(i % 300) as usize].as_str())];
                if i % 3 != 0 {
                    contents.push(("status", ["200", "500"][(i % 2) as usize]));
                }
                (i / 100, contents)
            })
            .collect();
        let borrowed: Vec<(u32, &[(&str, &str)])> = logs.iter().map(|(t, c)| (*t, c.as_slice())).collect();
        let build = |version| {
            let mut builder = ColumnsBuilder::default();
            builder.add_group(&group("a", &borrowed));
            builder.finish_version(version)
        };
        let names = ["status", "wide"];
        let current = Columns::decode(&build(VERSION), &names).unwrap().unwrap();
        for version in [1, 2] {
            assert_eq!(Columns::decode(&build(version), &names).unwrap().unwrap(), current, "version {version}");
        }
        let expected = |name: &str| {
            let Column::Dict { values, codes } = &current.columns[name] else { panic!("{name} is a dictionary") };
            let mut counts = vec![0u32; values.len() + 1];
            codes.iter().for_each(|code| counts[usize::from(*code)] += 1);
            Column::Counts { values: values.clone(), counts }
        };
        let section = build(VERSION);
        let directory = Directory::parse(&section).unwrap();
        let block = |entry: &Entry| section.get(entry.offset as usize..(entry.offset + entry.len) as usize);
        let counted = Columns::decode_with(&directory, &names, &["status", "wide"], block).unwrap().unwrap();
        for name in names {
            assert_eq!(counted.columns[name], expected(name), "{name}");
        }
        assert_eq!(counted.times, current.times);
        // Older sections have no counts: their dictionaries decode whole.
        let old = build(2);
        let directory = Directory::parse(&old).unwrap();
        let block = |entry: &Entry| old.get(entry.offset as usize..(entry.offset + entry.len) as usize);
        assert_eq!(Columns::decode_with(&directory, &names, &["status"], block).unwrap().unwrap(), current);
        // Counts that do not add up to the rows are damage.
        let entry = Directory::parse(&section).unwrap().entry("status").unwrap().clone();
        let stored = &section[entry.offset as usize..(entry.offset + entry.len) as usize];
        let (mut head, codes, _) = split_dictionary(stored, &entry).unwrap();
        let at = head.len() - 1 - 4;
        head[at] ^= 1;
        let packed = Compression::Lz4.compress(&head);
        let mut damaged = Vec::new();
        damaged.extend_from_slice(&(packed.len() as u32).to_le_bytes());
        damaged.extend_from_slice(&(head.len() as u32).to_le_bytes());
        damaged.extend_from_slice(&packed);
        damaged.extend_from_slice(codes);
        assert!(decode_counts(&damaged, &entry, 900, VERSION).is_err());
        assert!(decode_counts(&damaged[..6], &entry, 900, VERSION).is_err());
    }

    #[test]
    fn truncated_sections_send_other_keys_to_the_groups() {
        let mut builder = ColumnsBuilder::new(1);
        builder.add_group(&group("a", &[(1, &[("first", "1"), ("second", "2")])]));
        let section = builder.finish();
        assert!(Columns::decode(&section, &["first"]).unwrap().is_some());
        assert!(Columns::decode(&section, &["second"]).unwrap().is_none());
        let directory = Directory::parse(&section).unwrap();
        assert!(directory.truncated);
        assert_eq!(directory.column_names().collect::<Vec<_>>(), ["first"]);
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let mut builder = ColumnsBuilder::default();
        builder.add_group(&group("a", &[(1, &[("k", "v")]), (2, &[("k", "w")])]));
        let section = builder.finish();
        for cut in [0, 5, HEADER_LEN, section.len() - 1] {
            assert!(Columns::decode(&section[..cut], &["k"]).is_err(), "cut at {cut}");
        }
        for index in 0..section.len() {
            let mut damaged = section.clone();
            damaged[index] ^= 0xff;
            let _ = Columns::decode(&damaged, &["k"]);
        }
    }
}
