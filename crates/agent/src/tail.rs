//! Tailing: which files a source follows, where each one is read up to, and how rotations are
//! recognised.
//!
//! A file's identity is its device + inode + its *head* (the first [`HEAD_MAX`] bytes, or fewer
//! while the file is shorter; "size-aware"). Each poll:
//! 1. every followed file whose inode still appears under a matching path gets its new path
//!    (rename within the pattern); if its size fell below what was read, or its head changed, it was
//!    truncated (copytruncate) or replaced: its old stream ends and a new one starts at 0;
//! 2. each unknown inode is matched against the checkpoints (restart, or a file closed while idle);
//!    then against the heads of followed or just-truncated files (the copy made by copytruncate
//!    continues where the original was read up to, so the lines between the last read and the
//!    truncation are not lost and none is read twice); otherwise it is new: read from 0, or from
//!    the end if it existed before the source was first started (incremental) and backfill is off;
//! 3. a followed file that no path names any more (renamed out of the pattern, deleted) is read
//!    through its open handle to its end, then closed.
//!
//! Offsets: `read` is what has been consumed from the file; `committed` is what the pipeline has
//! durably handled (sent or cached). Checkpoints hold committed offsets only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::discover::discover;
use crate::fs::{Fs, Meta, OpenFile};

/// How many leading bytes identify a file.
pub const HEAD_MAX: usize = 1024;
/// A copy is recognised by its head only when at least this many bytes of it are compared.
const COPY_MATCH_MIN: usize = 32;
/// Bytes read from one file per call of [`Tailer::read`].
const READ_CHUNK: usize = 256 * 1024;

/// Where one file was handled up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub dev: u64,
    pub ino: u64,
    pub head_len: u32,
    pub head_hash: u64,
    pub offset: u64,
    /// The size last seen (for the bytes-lost metric when the file is gone at restart).
    pub size: u64,
    /// The modification time last seen: an idle closed file is skipped without opening it only
    /// while size and mtime are unchanged (an inode reused by a new file of the same size differs).
    #[serde(default)]
    pub mtime_ns: u64,
    pub path: PathBuf,
}

/// What a source follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    pub dir: PathBuf,
    pub pattern: String,
    pub max_depth: u32,
    /// Read files that already existed when the source was first started from their start.
    pub backfill: bool,
    /// Lines longer than this are cut into pieces of this size.
    pub max_line: usize,
    /// Close a fully handled file after this many polls without growth (it stays in the checkpoints).
    pub idle_polls: u32,
}

/// One complete line (without its `\n`) and the file offset just after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub bytes: Vec<u8>,
    pub end: u64,
}

/// Lines read from one file stream.
#[derive(Debug)]
pub struct Chunk {
    pub stream: u64,
    pub path: PathBuf,
    pub lines: Vec<Line>,
    /// The stream ended (file gone or truncated) after these lines: flush pending multiline state.
    pub finished: bool,
}

/// Counters for status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TailStats {
    pub files: usize,
    pub bytes_read: u64,
    pub bytes_lost: u64,
    pub truncations: u64,
    pub copies_matched: u64,
    pub lines_split: u64,
    pub errors: Vec<String>,
}

/// Status of one followed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileStatus {
    pub path: PathBuf,
    pub offset: u64,
    pub size: u64,
    pub lag: u64,
}

#[derive(Debug)]
struct Stream {
    key: u64,
    file: Box<dyn OpenFile>,
    dev: u64,
    ino: u64,
    head: Vec<u8>,
    path: PathBuf,
    read: u64,
    /// Bytes of the unfinished last line (already counted in `read`).
    partial: Vec<u8>,
    committed: u64,
    /// A copy took over `(from, to)`: once committed reaches `from`, it jumps to `to`.
    skip: Option<(u64, u64)>,
    /// Copies (copytruncate) that continue this file's content from `upto`: until this stream has
    /// committed up to `upto`, a copy's committed offset (its checkpoint) follows this stream's,
    /// so that lines read here but not yet sent are read again from the copy after a crash.
    heirs: Vec<(u64, u64)>,
    size: u64,
    mtime_ns: u64,
    seen: bool,
    /// No path names this file any more: read it to its end, then close it.
    gone: bool,
    /// Its stream ended (truncated or replaced); only pending commits keep it.
    ended: bool,
    idle: u32,
}

impl Stream {
    fn line_start(&self) -> u64 {
        self.read - self.partial.len() as u64
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            dev: self.dev,
            ino: self.ino,
            head_len: self.head.len() as u32,
            head_hash: xxh3_64(&self.head),
            offset: self.committed,
            size: self.size,
            mtime_ns: self.mtime_ns,
            path: self.path.clone(),
        }
    }
}

/// A truncated file's last head and line offset, for a copy that shows up in the same poll or the
/// next one (the listing of a poll can predate the copy while the stat that saw the truncation
/// comes after it; by the next listing the copy, made before the truncation, is there).
#[derive(Debug)]
struct Truncated {
    key: u64,
    head: Vec<u8>,
    line_start: u64,
    /// Polls this record is still offered to new files in (this one and the next).
    polls_left: u32,
}

/// Follows the files of one source.
#[derive(Debug)]
pub struct Tailer {
    spec: SourceSpec,
    streams: Vec<Stream>,
    /// Checkpoints of files not open now (from the last run, or closed while idle), by inode.
    closed: HashMap<(u64, u64), Checkpoint>,
    /// Checkpoints whose inode turned out to hold other content.
    orphans: Vec<Checkpoint>,
    /// Files found truncated in this poll or the previous one, for their copies.
    truncated: Vec<Truncated>,
    /// Whether the source had been started before (then every unknown file is new: read from 0).
    started: bool,
    first_poll: bool,
    next_key: u64,
    stats: TailStats,
    /// Whether the last [`Tailer::read`] read anything (more may be waiting).
    backlog: bool,
}

fn read_head(file: &dyn OpenFile, size: u64) -> std::io::Result<Vec<u8>> {
    let want = size.min(HEAD_MAX as u64) as usize;
    let mut head = vec![0u8; want];
    let mut filled = 0;
    while filled < want {
        let n = file.read_at(filled as u64, &mut head[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    head.truncate(filled);
    Ok(head)
}

/// The offset just after the last `\n` at or before `size` (0 if none in the last 64 KiB).
fn last_line_end(file: &dyn OpenFile, size: u64) -> std::io::Result<u64> {
    let from = size.saturating_sub(64 * 1024);
    let mut buf = vec![0u8; (size - from) as usize];
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read_at(from + filled as u64, &mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(buf[..filled].iter().rposition(|&b| b == b'\n').map_or(from, |i| from + i as u64 + 1))
}

/// `LOGPORT_AGENT_TRACE=1`: every file decision on stderr (diagnosing rotations).
pub(crate) fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("LOGPORT_AGENT_TRACE").is_some())
}

/// Whether an opened file is the one `meta` (from a stat of its path) describes.
fn same_file(file: &dyn OpenFile, meta: &Meta, path: &Path) -> bool {
    let same = file.meta().is_ok_and(|m| m.dev == meta.dev && m.ino == meta.ino);
    if !same && trace() {
        eprintln!("agent-trace: {} replaced between stat and open ino={}", path.display(), meta.ino);
    }
    same
}

fn same_prefix(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

impl Tailer {
    /// A tailer resuming from `checkpoints`; `started` says whether this source ran before.
    pub fn new(spec: SourceSpec, checkpoints: Vec<Checkpoint>, started: bool) -> Self {
        let closed = checkpoints.into_iter().map(|c| ((c.dev, c.ino), c)).collect();
        Tailer {
            spec,
            streams: Vec::new(),
            closed,
            orphans: Vec::new(),
            truncated: Vec::new(),
            started,
            first_poll: true,
            next_key: 1,
            stats: TailStats::default(),
            backlog: false,
        }
    }

    pub fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    fn error(&mut self, message: String) {
        if self.stats.errors.len() >= 100 {
            self.stats.errors.remove(0);
        }
        if !self.stats.errors.contains(&message) {
            self.stats.errors.push(message);
        }
    }

    /// Adds a stream read from `offset`, handled up to `committed` (below `offset` when a copy
    /// takes over lines its original read but has not committed yet).
    fn add_stream(
        &mut self,
        file: Box<dyn OpenFile>,
        meta: Meta,
        head: Vec<u8>,
        path: PathBuf,
        offset: u64,
        committed: u64,
    ) -> u64 {
        let key = self.next_key;
        self.next_key += 1;
        self.streams.push(Stream {
            key,
            file,
            dev: meta.dev,
            ino: meta.ino,
            head,
            path,
            read: offset,
            partial: Vec::new(),
            committed: committed.min(offset),
            skip: None,
            heirs: Vec::new(),
            size: meta.size,
            mtime_ns: meta.mtime_ns,
            seen: true,
            gone: false,
            ended: false,
            idle: 0,
        });
        key
    }

    /// Discovers files and recognises rotations (see the module documentation).
    pub fn poll(&mut self, fs: &dyn Fs) {
        let mut errors = Vec::new();
        let paths = discover(fs, &self.spec.dir, &self.spec.pattern, self.spec.max_depth, &mut errors);
        for error in errors {
            self.error(error);
        }
        for stream in &mut self.streams {
            stream.seen = false;
        }
        let mut truncated = std::mem::take(&mut self.truncated);
        truncated.retain_mut(|t| {
            t.polls_left = t.polls_left.saturating_sub(1);
            t.polls_left > 0
        });
        let mut unknown: Vec<(PathBuf, Meta)> = Vec::new();
        for path in paths {
            let meta = match fs.stat(&path) {
                Ok(meta) => meta,
                Err(_) => continue, // vanished since the listing
            };
            let Some(index) = self.streams.iter().position(|s| !s.ended && s.dev == meta.dev && s.ino == meta.ino)
            else {
                unknown.push((path, meta));
                continue;
            };
            let stream = &mut self.streams[index];
            stream.seen = true;
            stream.gone = false;
            stream.path = path.clone();
            // Truncated or replaced? Size below what was read, or a different head.
            let current_head = match read_head(stream.file.as_ref(), meta.size) {
                Ok(head) => head,
                Err(error) => {
                    let message = format!("cannot read {}: {error}", path.display());
                    self.error(message);
                    continue;
                }
            };
            let shrunk = meta.size < stream.read;
            let head_changed = !same_prefix(&current_head, &stream.head) || current_head.len() < stream.head.len();
            if !shrunk && !head_changed {
                if current_head.len() > stream.head.len() {
                    stream.head = current_head;
                }
                stream.size = meta.size;
                stream.mtime_ns = meta.mtime_ns;
                continue;
            }
            // The old stream ends here; what it had read stays to be committed.
            if trace() {
                eprintln!(
                    "agent-trace: truncated {} ino={} size={} read={} shrunk={shrunk}",
                    path.display(),
                    meta.ino,
                    meta.size,
                    stream.read
                );
            }
            stream.ended = true;
            truncated.push(Truncated {
                key: stream.key,
                head: stream.head.clone(),
                line_start: stream.line_start(),
                polls_left: 2,
            });
            self.stats.truncations += 1;
            match fs.open(&path) {
                // The path may name another file by now (rotated since the stat): then the inode's
                // new content is found, as unknown, by the next poll.
                Ok(file) if same_file(file.as_ref(), &meta, &path) => {
                    let head = read_head(file.as_ref(), meta.size).unwrap_or_default();
                    self.add_stream(file, meta, head, path, 0, 0);
                }
                Ok(_) => {}
                Err(error) => self.error(format!("cannot open {}: {error}", path.display())),
            }
        }
        // Files with a checkpoint first: one whose content changed while the agent was down leaves
        // its offset for a copy of that content (copytruncate during the downtime).
        unknown.sort_by_key(|(_, m)| !self.closed.contains_key(&(m.dev, m.ino)));
        for (path, meta) in unknown {
            self.open_unknown(fs, path, meta, &mut truncated);
        }
        self.truncated = truncated;
        for stream in &mut self.streams {
            if !stream.seen && !stream.ended {
                stream.gone = true;
            }
        }
        if self.first_poll {
            self.first_poll = false;
            // Checkpoints of files that are gone: what they held beyond the offset was never read.
            for checkpoint in std::mem::take(&mut self.closed).into_values() {
                match fs.stat(&checkpoint.path) {
                    Ok(meta) if meta.dev == checkpoint.dev && meta.ino == checkpoint.ino => {
                        self.closed.insert((checkpoint.dev, checkpoint.ino), checkpoint);
                    }
                    _ => {
                        // It may live on under a path outside the pattern; we cannot see it.
                        self.stats.bytes_lost += checkpoint.size.saturating_sub(checkpoint.offset);
                    }
                }
            }
        }
        self.started = true;
    }

    fn open_unknown(&mut self, fs: &dyn Fs, path: PathBuf, meta: Meta, truncated: &mut Vec<Truncated>) {
        // Nothing to read yet, and nothing to recognise it by: a copy being made (copytruncate)
        // is empty for an instant, and taken for a new file it would be read again from 0.
        if meta.size == 0 {
            return;
        }
        // A closed file that has not changed stays closed (no open per poll for idle files).
        if let Some(checkpoint) = self.closed.get_mut(&(meta.dev, meta.ino))
            && checkpoint.size == meta.size
            && checkpoint.offset == meta.size
            && checkpoint.mtime_ns == meta.mtime_ns
            && meta.mtime_ns != 0
        {
            // It may have been renamed (rotated) meanwhile: remember where it is now.
            checkpoint.path = path;
            return;
        }
        let file = match fs.open(&path) {
            Ok(file) => file,
            Err(error) => {
                self.error(format!("cannot open {}: {error}", path.display()));
                return;
            }
        };
        // Between the stat and the open, a rotation can rename the file and create another under
        // its path: the descriptor would read one file under the other's identity (its content
        // read twice, the other's never). Both are seen under their current paths next poll.
        if !same_file(file.as_ref(), &meta, &path) {
            return;
        }
        let head = match read_head(file.as_ref(), meta.size) {
            Ok(head) => head,
            Err(error) => {
                self.error(format!("cannot read {}: {error}", path.display()));
                return;
            }
        };
        let mut offset = None;
        // Where the new stream is handled up to, when it takes over from another (a copy).
        let mut committed = None;
        // The stream a copy takes over from, and the offset it takes over at.
        let mut original_key = None;
        if let Some(checkpoint) = self.closed.remove(&(meta.dev, meta.ino)) {
            let len = checkpoint.head_len as usize;
            if head.len() >= len && xxh3_64(&head[..len]) == checkpoint.head_hash && meta.size >= checkpoint.offset {
                offset = Some(checkpoint.offset);
            }
            // Otherwise the inode now holds other content (reused, or truncated while the agent was
            // down): start it afresh, and let a copy of the old content continue at the offset.
            if offset.is_none() {
                if self.orphans.len() >= 64 {
                    self.orphans.remove(0);
                }
                self.orphans.push(checkpoint);
            }
        }
        if offset.is_none() && head.len() >= COPY_MATCH_MIN {
            // A copy of a followed file (copytruncate): continue where the original's lines end.
            let live = self
                .streams
                .iter_mut()
                .find(|s| !s.ended && s.head.len() >= COPY_MATCH_MIN && same_prefix(&s.head, &head));
            if let Some(original) = live {
                let start = original.line_start().min(meta.size);
                committed = Some(original.committed.min(start));
                original_key = Some(original.key);
                // The original skips what the copy now covers.
                if meta.size > original.line_start() {
                    let from = original.line_start();
                    original.partial.clear();
                    original.read = original.read.max(meta.size);
                    original.skip = Some((from, original.read));
                    if original.committed >= from {
                        original.committed = original.read;
                        original.skip = None;
                    }
                }
                offset = Some(start);
                self.stats.copies_matched += 1;
            } else if let Some(index) =
                truncated.iter().position(|t| t.head.len() >= COPY_MATCH_MIN && same_prefix(&t.head, &head))
            {
                // One copy per truncation.
                let record = truncated.remove(index);
                let start = record.line_start.min(meta.size);
                offset = Some(start);
                original_key = Some(record.key);
                // Still open: what it has committed (its batch may be in flight). Closed: it was
                // fully handled.
                committed = Some(start);
                if let Some(original) = self.streams.iter_mut().find(|s| s.key == record.key) {
                    committed = Some(original.committed.min(start));
                    // The ended original stops at its last line end: an unfinished last line
                    // not yet sent is read whole from the copy, not sent as a fragment.
                    original.read = original.read.min(original.line_start().max(start));
                    original.partial.clear();
                }
                self.stats.copies_matched += 1;
            } else if let Some(index) = self.orphans.iter().position(|o| {
                let len = o.head_len as usize;
                len >= COPY_MATCH_MIN
                    && head.len() >= len
                    && xxh3_64(&head[..len]) == o.head_hash
                    && meta.size >= o.offset
            }) {
                offset = Some(self.orphans.remove(index).offset);
                self.stats.copies_matched += 1;
            }
        }
        let found = offset.is_some();
        let offset = match offset {
            Some(offset) => offset,
            None if self.first_poll && !self.started && !self.spec.backfill => {
                last_line_end(file.as_ref(), meta.size).unwrap_or(meta.size)
            }
            None => 0,
        };
        if trace() {
            eprintln!(
                "agent-trace: open {} ino={} size={} offset={offset} matched={found} first={}",
                path.display(),
                meta.ino,
                meta.size,
                self.first_poll
            );
        }
        let key = self.add_stream(file, meta, head, path, offset, committed.unwrap_or(offset));
        if let Some(original_key) = original_key
            && let Some(original) = self.streams.iter_mut().find(|s| s.key == original_key)
            && original.committed < offset
        {
            original.heirs.push((key, offset));
        }
    }

    /// Reads what is new in every followed file, oldest stream first.
    pub fn read(&mut self) -> Vec<Chunk> {
        let max_line = self.spec.max_line.max(1);
        let mut chunks = Vec::new();
        let mut buf = vec![0u8; READ_CHUNK];
        let mut lost_errors = Vec::new();
        self.backlog = false;
        for stream in &mut self.streams {
            let mut lines = Vec::new();
            let mut eof = false;
            let n = if stream.ended {
                eof = true;
                0
            } else {
                match stream.file.read_at(stream.read, &mut buf) {
                    Ok(n) => n,
                    Err(error) => {
                        lost_errors.push(format!("cannot read {}: {error}", stream.path.display()));
                        0
                    }
                }
            };
            let mut n = n;
            if n > 0 {
                // The fingerprint covers everything read (up to HEAD_MAX), so that a truncation
                // followed by regrowth past `read` is told apart by the head, not only by the size.
                // Checked after the read: if the file was truncated and rewritten before or while
                // these bytes were read, its head differs now and the bytes are dropped (the next
                // poll ends the stream and follows the new content from 0).
                let want = (stream.read + n as u64).min(HEAD_MAX as u64);
                match read_head(stream.file.as_ref(), want) {
                    Ok(head) if head.len() >= stream.head.len() && head.starts_with(&stream.head) => {
                        if head.len() > stream.head.len() {
                            stream.head = head;
                        }
                    }
                    Ok(_) => {
                        if trace() {
                            eprintln!(
                                "agent-trace: head changed under read {} ino={} read={}",
                                stream.path.display(),
                                stream.ino,
                                stream.read
                            );
                        }
                        n = 0;
                    }
                    Err(error) => {
                        lost_errors.push(format!("cannot read {}: {error}", stream.path.display()));
                        n = 0;
                    }
                }
            }
            if n == 0 {
                eof = true;
            }
            // Reads may come back short (a WASI host hands out at most what its stream holds), so
            // anything read means there may be more: read again until a read finds nothing.
            if n > 0 {
                self.backlog = true;
            }
            let data = &buf[..n];
            let mut start = 0;
            let base = stream.read;
            while let Some(pos) = data[start..].iter().position(|&b| b == b'\n') {
                let mut bytes = std::mem::take(&mut stream.partial);
                bytes.extend_from_slice(&data[start..start + pos]);
                start += pos + 1;
                let end = base + start as u64;
                if bytes.len() > max_line {
                    // Cut into pieces; a piece's end is inside the line (a restart resumes there).
                    let line_start = end - 1 - bytes.len() as u64;
                    let count = bytes.len().div_ceil(max_line);
                    for (i, piece) in bytes.chunks(max_line).enumerate() {
                        let piece_end = if i + 1 == count { end } else { line_start + ((i + 1) * max_line) as u64 };
                        lines.push(Line { bytes: piece.to_vec(), end: piece_end });
                    }
                    self.stats.lines_split += count as u64 - 1;
                } else {
                    lines.push(Line { bytes, end });
                }
            }
            stream.partial.extend_from_slice(&data[start..]);
            stream.read += n as u64;
            self.stats.bytes_read += n as u64;
            while stream.partial.len() >= max_line {
                let rest = stream.partial.split_off(max_line);
                let piece = std::mem::replace(&mut stream.partial, rest);
                let end = stream.read - stream.partial.len() as u64;
                lines.push(Line { bytes: piece, end });
                self.stats.lines_split += 1;
            }
            if n > 0 {
                stream.idle = 0;
                stream.size = stream.size.max(stream.read);
            } else {
                stream.idle = stream.idle.saturating_add(1);
            }
            let finished = eof && (stream.gone || stream.ended);
            if finished && !stream.partial.is_empty() {
                // The file will not grow any more: its last line has no newline.
                lines.push(Line { bytes: std::mem::take(&mut stream.partial), end: stream.read });
            }
            if !lines.is_empty() || finished {
                chunks.push(Chunk { stream: stream.key, path: stream.path.clone(), lines, finished });
            }
        }
        for error in lost_errors {
            self.error(error);
        }
        chunks
    }

    /// Whether the last [`Tailer::read`] read anything: then more may be waiting, and the caller
    /// should read again without waiting for the next poll.
    pub fn has_backlog(&self) -> bool {
        self.backlog
    }

    /// Records that the pipeline has durably handled stream `stream` up to `offset`.
    pub fn commit(&mut self, stream: u64, offset: u64) {
        let mut heirs = Vec::new();
        if let Some(s) = self.streams.iter_mut().find(|s| s.key == stream) {
            s.committed = s.committed.max(offset);
            for &(heir, upto) in &s.heirs {
                heirs.push((heir, offset.min(upto)));
            }
            let committed = s.committed;
            s.heirs.retain(|&(_, upto)| committed < upto);
            if let Some((from, to)) = s.skip
                && s.committed >= from
            {
                s.committed = s.committed.max(to);
                s.skip = None;
            }
        }
        // The copies' content up to `upto` is the same bytes: handled here, handled there.
        for (heir, offset) in heirs {
            if let Some(h) = self.streams.iter_mut().find(|h| h.key == heir) {
                h.committed = h.committed.max(offset);
            }
        }
    }

    /// Closes streams that are done: ended or gone and fully committed, or idle and fully committed
    /// (those stay in the checkpoints and reopen if they grow).
    pub fn close_done(&mut self) {
        let idle_polls = self.spec.idle_polls;
        let mut keep = Vec::with_capacity(self.streams.len());
        for stream in std::mem::take(&mut self.streams) {
            let handled = stream.committed >= stream.read && stream.partial.is_empty();
            if handled && stream.ended {
                continue;
            }
            if handled && (stream.gone || stream.idle >= idle_polls) {
                if !stream.gone {
                    self.closed.insert((stream.dev, stream.ino), stream.checkpoint());
                }
                continue;
            }
            keep.push(stream);
        }
        self.streams = keep;
        // Bounded memory for closed checkpoints: keep the newest (by inode order is arbitrary, so by offset).
        if self.closed.len() > 8192 {
            let mut all: Vec<_> = self.closed.drain().collect();
            all.sort_by_key(|(_, c)| std::cmp::Reverse(c.size));
            all.truncate(4096);
            self.closed = all.into_iter().collect();
        }
    }

    /// Drops closed checkpoints whose file no longer exists under its path (called now and then).
    pub fn prune_closed(&mut self, fs: &dyn Fs) {
        self.closed.retain(|_, c| fs.stat(&c.path).is_ok_and(|m| m.dev == c.dev && m.ino == c.ino));
    }

    /// Everything needed to resume: open streams (not ended) and closed files.
    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        let mut all: Vec<Checkpoint> = self.streams.iter().filter(|s| !s.ended).map(Stream::checkpoint).collect();
        all.extend(self.closed.values().cloned());
        all
    }

    pub fn stats(&self) -> TailStats {
        let mut stats = self.stats.clone();
        stats.files = self.streams.len();
        stats
    }

    pub fn files(&self) -> Vec<FileStatus> {
        self.streams
            .iter()
            .map(|s| FileStatus {
                path: s.path.clone(),
                offset: s.committed,
                size: s.size,
                lag: s.size.saturating_sub(s.committed),
            })
            .collect()
    }

    /// The keys of the streams open now.
    pub fn stream_keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.streams.iter().map(|s| s.key)
    }

    pub fn dir(&self) -> &Path {
        &self.spec.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::NativeFs;
    use std::io::Write;

    fn spec(dir: &Path, pattern: &str, backfill: bool) -> SourceSpec {
        SourceSpec {
            dir: dir.to_path_buf(),
            pattern: pattern.into(),
            max_depth: 0,
            backfill,
            max_line: 1 << 20,
            idle_polls: 3,
        }
    }

    /// One poll + read, committing everything read; returns the lines.
    fn round(tailer: &mut Tailer) -> Vec<String> {
        tailer.poll(&NativeFs);
        let mut out = Vec::new();
        for chunk in tailer.read() {
            for line in &chunk.lines {
                out.push(String::from_utf8(line.bytes.clone()).unwrap());
                tailer.commit(chunk.stream, line.end);
            }
        }
        tailer.close_done();
        out
    }

    fn append(path: &Path, text: &str) {
        std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
    }

    fn lines(range: std::ops::Range<u32>) -> String {
        range.map(|i| format!("line {i:06} of a log that is long enough to identify files\n")).collect()
    }

    fn expect(range: std::ops::Range<u32>) -> Vec<String> {
        lines(range).lines().map(str::to_owned).collect()
    }

    #[test]
    fn starts_at_the_end_of_old_files_unless_backfill_and_reads_new_files_whole() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        append(&log, &lines(0..3));
        append(&log, "partial");
        let mut tailer = Tailer::new(spec(dir.path(), "*.log", false), vec![], false);
        assert!(round(&mut tailer).is_empty());
        append(&log, " end\n");
        append(&log, &lines(3..5));
        // The line being written at the start is read whole, not from its middle.
        let mut want = vec!["partial end".to_owned()];
        want.extend(expect(3..5));
        assert_eq!(round(&mut tailer), want);
        append(&dir.path().join("b.log"), &lines(10..12));
        assert_eq!(round(&mut tailer), expect(10..12));
        let mut backfill = Tailer::new(spec(dir.path(), "a.log", true), vec![], false);
        let mut all = expect(0..3);
        all.push("partial end".into());
        all.extend(expect(3..5));
        assert_eq!(round(&mut backfill), all);
    }

    #[test]
    fn rename_and_create_several_times_between_polls_reads_every_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, "");
        let mut tailer = Tailer::new(spec(dir.path(), "app.log*", false), vec![], false);
        round(&mut tailer);
        let mut seen = Vec::new();
        let mut n = 0;
        for rotation in 0..5u32 {
            // Several rotations between two polls; the writer keeps writing to the renamed file
            // for a moment (it holds it open), then reopens.
            for _ in 0..3 {
                let mut writer = std::fs::OpenOptions::new().append(true).create(true).open(&log).unwrap();
                writer.write_all(lines(n..n + 10).as_bytes()).unwrap();
                std::fs::rename(&log, dir.path().join(format!("app.log.{}", n))).unwrap();
                writer.write_all(lines(n + 10..n + 12).as_bytes()).unwrap();
                n += 12;
            }
            append(&log, &lines(n..n + 1));
            n += 1;
            seen.extend(round(&mut tailer));
            assert!(rotation < 5);
        }
        seen.extend(round(&mut tailer));
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(sorted, expect(0..n));
    }

    #[test]
    fn copytruncate_loses_and_repeats_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, "");
        let mut tailer = Tailer::new(spec(dir.path(), "app.log*", false), vec![], false);
        round(&mut tailer);
        let mut seen = Vec::new();
        let mut n = 0;
        for copy in 0..4u32 {
            append(&log, &lines(n..n + 20));
            n += 20;
            seen.extend(round(&mut tailer));
            // Lines the agent has not read yet when the copy is made.
            append(&log, &lines(n..n + 7));
            n += 7;
            std::fs::copy(&log, dir.path().join(format!("app.log.{copy}"))).unwrap();
            if copy % 2 == 0 {
                // The copy seen before the truncation, in its own poll.
                seen.extend(round(&mut tailer));
            }
            std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
            append(&log, &lines(n..n + 3));
            n += 3;
            seen.extend(round(&mut tailer));
        }
        seen.extend(round(&mut tailer));
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(sorted, expect(0..n));
        assert!(tailer.stats().truncations >= 4);
        assert_eq!(tailer.stats().copies_matched, 4);
    }

    #[test]
    fn checkpoints_resume_and_inode_reuse_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, &lines(0..5));
        let mut tailer = Tailer::new(spec(dir.path(), "*.log", true), vec![], false);
        tailer.poll(&NativeFs);
        let chunks = tailer.read();
        // Only the first two lines are committed before the "crash".
        tailer.commit(chunks[0].stream, chunks[0].lines[1].end);
        let saved = tailer.checkpoints();
        append(&log, &lines(5..6));
        let mut resumed = Tailer::new(spec(dir.path(), "*.log", true), saved.clone(), true);
        assert_eq!(round(&mut resumed), expect(2..6));
        // The same inode now holds another file (as after delete + create): its head differs.
        let mut reused = saved;
        reused[0].head_hash ^= 1;
        let mut fresh = Tailer::new(spec(dir.path(), "*.log", false), reused, true);
        assert_eq!(round(&mut fresh), expect(0..6));
    }

    #[test]
    fn an_idle_closed_file_renamed_while_down_is_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, &lines(0..3));
        let mut tailer = Tailer::new(spec(dir.path(), "app.log*", true), vec![], false);
        assert_eq!(round(&mut tailer), expect(0..3));
        for _ in 0..5 {
            round(&mut tailer); // idle: closed, kept as a checkpoint
        }
        assert_eq!(tailer.stats().files, 0);
        std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
        round(&mut tailer); // sees it under its new name without reading it
        let saved = tailer.checkpoints();
        append(&log, &lines(3..4));
        let mut resumed = Tailer::new(spec(dir.path(), "app.log*", true), saved, true);
        assert_eq!(round(&mut resumed), expect(3..4));
        assert_eq!(resumed.stats().bytes_lost, 0);
    }

    #[test]
    fn copytruncate_while_down_resumes_in_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, &lines(0..4));
        let mut tailer = Tailer::new(spec(dir.path(), "app.log*", true), vec![], false);
        assert_eq!(round(&mut tailer), expect(0..4));
        let saved = tailer.checkpoints();
        append(&log, &lines(4..6)); // written, not read, before the copy
        std::fs::copy(&log, dir.path().join("app.log.1")).unwrap();
        std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
        append(&log, &lines(6..8));
        let mut resumed = Tailer::new(spec(dir.path(), "app.log*", true), saved, true);
        let mut got = round(&mut resumed);
        got.sort();
        assert_eq!(got, expect(4..8));
    }

    #[test]
    fn a_started_source_reads_files_created_while_it_was_down_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        append(&dir.path().join("new.log"), &lines(0..2));
        let mut tailer = Tailer::new(spec(dir.path(), "*.log", false), vec![], true);
        assert_eq!(round(&mut tailer), expect(0..2));
    }

    #[test]
    fn bytes_of_a_file_gone_while_down_are_counted_as_lost() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, &lines(0..5));
        let mut tailer = Tailer::new(spec(dir.path(), "*.log", true), vec![], false);
        tailer.poll(&NativeFs);
        let chunks = tailer.read();
        tailer.commit(chunks[0].stream, chunks[0].lines[0].end);
        let saved = tailer.checkpoints();
        let total = std::fs::metadata(&log).unwrap().len();
        std::fs::remove_file(&log).unwrap();
        let mut resumed = Tailer::new(spec(dir.path(), "*.log", true), saved, true);
        round(&mut resumed);
        assert_eq!(resumed.stats().bytes_lost, total - chunks[0].lines[0].end);
    }

    /// The classic copytruncate race: between two polls the file is copied, truncated and written
    /// again past the offset already read, and its new first line equals the old one (a banner), so
    /// neither the size nor a fingerprint of only the bytes seen at open tells the files apart.
    /// The fingerprint must cover everything read (up to [`HEAD_MAX`]).
    #[test]
    fn truncation_with_regrowth_past_the_offset_is_seen_by_the_head_of_what_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let banner = "=== app started, same banner at the top of every file of this program ===\n";
        append(&log, banner);
        let mut tailer = Tailer::new(spec(dir.path(), "app.log*", true), vec![], false);
        // Opened while it holds the banner only: the head seen at open is the banner.
        tailer.poll(&NativeFs);
        append(&log, &lines(0..3));
        let mut seen = Vec::new();
        for chunk in tailer.read() {
            for line in &chunk.lines {
                seen.push(String::from_utf8(line.bytes.clone()).unwrap());
                tailer.commit(chunk.stream, line.end);
            }
        }
        tailer.close_done();
        append(&log, &lines(3..6)); // not read yet
        std::fs::copy(&log, dir.path().join("app.log.1")).unwrap();
        std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
        append(&log, banner);
        append(&log, &lines(6..12)); // past the offset read before
        seen.extend(round(&mut tailer));
        seen.extend(round(&mut tailer));
        let mut want = vec![banner.trim_end().to_owned(); 2];
        want.extend(expect(0..12));
        want.sort();
        seen.sort();
        assert_eq!(seen, want);
        assert_eq!(tailer.stats().truncations, 1);
        assert_eq!(tailer.stats().copies_matched, 1);
    }

    /// The poll's listing can predate the copy while its stat sees the truncation (the copy is
    /// made just before the truncation): the copy shows up one poll later and is still recognised.
    #[test]
    fn a_copy_listed_one_poll_after_the_truncation_continues_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, "");
        let mut tailer = Tailer::new(spec(dir.path(), "app.log*", false), vec![], false);
        round(&mut tailer);
        append(&log, &lines(0..5));
        let mut seen = round(&mut tailer);
        append(&log, &lines(5..8));
        // Made under a name the listing does not show yet, then truncated.
        let hidden = dir.path().join("copy.tmp");
        std::fs::copy(&log, &hidden).unwrap();
        std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
        append(&log, &lines(8..10));
        seen.extend(round(&mut tailer));
        std::fs::rename(&hidden, dir.path().join("app.log.1")).unwrap();
        seen.extend(round(&mut tailer));
        seen.extend(round(&mut tailer));
        seen.sort();
        assert_eq!(seen, expect(0..10));
        assert_eq!(tailer.stats().copies_matched, 1);
    }

    /// Renames `path` to `to` and creates a new file there, just before the first open of `path`:
    /// a rotation between the tailer's stat and its open.
    #[derive(Debug)]
    struct RotateOnOpen {
        path: PathBuf,
        to: PathBuf,
        content: String,
        done: std::cell::Cell<bool>,
    }

    impl Fs for RotateOnOpen {
        fn read_dir(&self, dir: &Path) -> std::io::Result<Vec<crate::fs::Entry>> {
            NativeFs.read_dir(dir)
        }
        fn stat(&self, path: &Path) -> std::io::Result<Meta> {
            NativeFs.stat(path)
        }
        fn open(&self, path: &Path) -> std::io::Result<Box<dyn OpenFile>> {
            if path == self.path && !self.done.replace(true) {
                std::fs::rename(&self.path, &self.to).unwrap();
                append(&self.path, &self.content);
            }
            NativeFs.open(path)
        }
    }

    #[test]
    fn a_rotation_between_stat_and_open_reads_both_files_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, &lines(0..3));
        let mut tailer = Tailer::new(spec(dir.path(), "app.log*", true), vec![], true);
        let rotating = RotateOnOpen {
            path: log.clone(),
            to: dir.path().join("app.log.1"),
            content: lines(3..5),
            done: false.into(),
        };
        tailer.poll(&rotating);
        let mut seen = Vec::new();
        for chunk in tailer.read() {
            for line in &chunk.lines {
                seen.push(String::from_utf8(line.bytes.clone()).unwrap());
                tailer.commit(chunk.stream, line.end);
            }
        }
        tailer.close_done();
        seen.extend(round(&mut tailer));
        seen.extend(round(&mut tailer));
        seen.sort();
        assert_eq!(seen, expect(0..5));
    }

    /// A copy listed at the instant it is created (empty) is not taken for a new file read from 0.
    #[test]
    fn an_empty_file_is_not_opened_until_it_has_content() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, "");
        let mut tailer = Tailer::new(spec(dir.path(), "app.log*", false), vec![], false);
        round(&mut tailer);
        append(&log, &lines(0..5));
        let mut seen = round(&mut tailer);
        append(&log, &lines(5..8));
        let copy = dir.path().join("app.log.1");
        append(&copy, ""); // the copy exists, its bytes are not there yet
        seen.extend(round(&mut tailer));
        std::fs::write(&copy, std::fs::read(&log).unwrap()).unwrap();
        std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
        append(&log, &lines(8..10));
        seen.extend(round(&mut tailer));
        seen.extend(round(&mut tailer));
        seen.sort();
        assert_eq!(seen, expect(0..10));
    }

    /// A copy takes over from the original at what the original had *read*; what the original had
    /// read but not yet committed (a batch in flight) must stay in the checkpoints, or a kill -9
    /// loses it. Both orders: the copy seen after the truncation, and before it.
    #[test]
    fn a_copy_keeps_the_originals_uncommitted_lines_in_the_checkpoints() {
        for copy_seen_first in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("app.log");
            append(&log, &lines(0..2));
            let mut tailer = Tailer::new(spec(dir.path(), "app.log*", true), vec![], false);
            assert_eq!(round(&mut tailer), expect(0..2));
            append(&log, &lines(2..6));
            tailer.poll(&NativeFs);
            let in_flight = tailer.read(); // lines 2..6 read, their batch not yet accepted
            assert_eq!(in_flight[0].lines.len(), 4);
            append(&log, &lines(6..8));
            std::fs::copy(&log, dir.path().join("app.log.1")).unwrap();
            if copy_seen_first {
                tailer.poll(&NativeFs);
                let _ = tailer.read(); // lines 6..8 read from the copy, not committed either
            }
            std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
            append(&log, &lines(8..9));
            tailer.poll(&NativeFs);
            let _ = tailer.read();
            // kill -9 now: nothing after line 2 was committed.
            let saved = tailer.checkpoints();
            let mut resumed = Tailer::new(spec(dir.path(), "app.log*", true), saved, true);
            let mut got = round(&mut resumed);
            got.extend(round(&mut resumed));
            got.sort();
            assert_eq!(got, expect(2..9), "copy seen first: {copy_seen_first}");
        }
    }

    /// A checkpoint taken right after a read holds an identity that covers the bytes before its
    /// offset: the inode reused by a file with the same first line and the same size is not
    /// resumed in the middle.
    #[test]
    fn a_checkpoint_identifies_the_bytes_before_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let banner = "=== app started, same banner at the top of every file of this program ===\n";
        append(&log, banner);
        let mut tailer = Tailer::new(spec(dir.path(), "app.log", true), vec![], false);
        tailer.poll(&NativeFs);
        append(&log, &lines(0..3));
        for chunk in tailer.read() {
            for line in &chunk.lines {
                tailer.commit(chunk.stream, line.end);
            }
        }
        let saved = tailer.checkpoints();
        assert_eq!(saved[0].offset, std::fs::metadata(&log).unwrap().len());
        // While down: the content is replaced in place by a file with the same banner.
        std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
        append(&log, banner);
        append(&log, &lines(10..13));
        let mut resumed = Tailer::new(spec(dir.path(), "app.log", true), saved, true);
        let mut want = vec![banner.trim_end().to_owned()];
        want.extend(expect(10..13));
        assert_eq!(round(&mut resumed), want);
    }

    #[test]
    fn long_lines_are_cut_and_unreadable_files_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut small = spec(dir.path(), "*.log", true);
        small.max_line = 1000;
        append(&dir.path().join("big.log"), &format!("{}\nshort\n", "x".repeat(2500)));
        let mut tailer = Tailer::new(small, vec![], false);
        let got = round(&mut tailer);
        assert_eq!(got.iter().map(String::len).collect::<Vec<_>>(), [1000, 1000, 500, 5]);
        assert_eq!(tailer.stats().lines_split, 2);
        let missing = Tailer::new(spec(&dir.path().join("none"), "*", false), vec![], false);
        let mut missing = missing;
        round(&mut missing);
        assert!(missing.stats().errors[0].contains("cannot list"));
    }
}
