//! The file-system port: the tailer reads files only through these traits, so the same logic runs
//! natively ([`NativeFs`]) and inside a WASI component (preopened directories) or on a test double.

use std::io;
use std::path::{Path, PathBuf};

/// What the tailer needs to know about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    /// Modification time (ns since the epoch; 0 when unknown).
    pub mtime_ns: u64,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    pub name: String,
    pub is_dir: bool,
}

/// An open file. It stays readable after the file is renamed or unlinked (that is how a rotated
/// file is read to its end).
pub trait OpenFile: std::fmt::Debug {
    /// Metadata of the open file (not of whatever its old path names now).
    fn meta(&self) -> io::Result<Meta>;
    /// Reads up to `buf.len()` bytes at `offset`; 0 means end of file.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

/// The file system.
pub trait Fs: std::fmt::Debug {
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<Entry>>;
    /// Metadata by path, following symlinks.
    fn stat(&self, path: &Path) -> io::Result<Meta>;
    fn open(&self, path: &Path) -> io::Result<Box<dyn OpenFile>>;
}

/// The host's file system through `std::fs`.
#[derive(Debug, Default, Clone, Copy)]
pub struct NativeFs;

#[derive(Debug)]
struct NativeFile(std::fs::File);

#[cfg(unix)]
fn meta_of(meta: &std::fs::Metadata) -> Meta {
    use std::os::unix::fs::MetadataExt;
    let mtime_ns =
        (meta.mtime().max(0) as u64).saturating_mul(1_000_000_000).saturating_add(meta.mtime_nsec().max(0) as u64);
    Meta { dev: meta.dev(), ino: meta.ino(), size: meta.len(), mtime_ns }
}

#[cfg(not(unix))]
fn meta_of(meta: &std::fs::Metadata) -> Meta {
    // Without inodes (WASI preview 2 has no stable ones), identity rests on the signature.
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    Meta { dev: 0, ino: 0, size: meta.len(), mtime_ns }
}

impl OpenFile for NativeFile {
    fn meta(&self) -> io::Result<Meta> {
        Ok(meta_of(&self.0.metadata()?))
    }

    #[cfg(unix)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        self.0.read_at(buf, offset)
    }

    #[cfg(not(unix))]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = &self.0;
        file.seek(SeekFrom::Start(offset))?;
        file.read(buf)
    }
}

impl Fs for NativeFs {
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            // Follow symlinks for the kind; a dangling link is skipped.
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            // Only regular files and directories: opening a FIFO or a device could block or never end.
            if !meta.is_file() && !meta.is_dir() {
                continue;
            }
            entries.push(Entry { name: entry.file_name().to_string_lossy().into_owned(), is_dir: meta.is_dir(), path });
        }
        Ok(entries)
    }

    fn stat(&self, path: &Path) -> io::Result<Meta> {
        Ok(meta_of(&std::fs::metadata(path)?))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn OpenFile>> {
        let file = std::fs::File::open(path)?;
        if file.metadata()?.is_dir() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a directory"));
        }
        Ok(Box::new(NativeFile(file)))
    }
}
