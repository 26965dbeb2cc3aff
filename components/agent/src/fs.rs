//! The agent's file-system port over wasi:filesystem, with real file identities.
//!
//! `std::fs` works in the component, but WASI preview 2 gives std no inode, so the core's
//! [`logport_agent::fs::NativeFs`] reports every file as (0, 0) there, and a rename rotation looks
//! like a copytruncate. wasi:filesystem has `metadata-hash`: a 128-bit hash of the file's device
//! and inode, computed by the host, the same for every descriptor and path of one file. This port
//! uses it as (dev, ino); it opens, stats and reads through the descriptors of the directories the
//! host preopened, so the agent sees nothing else.

use std::io;
use std::path::Path;

use logport_agent::fs::{Entry, Fs, Meta, NativeFs, OpenFile};
use wasi::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, ErrorCode, MetadataHashValue, OpenFlags, PathFlags,
};

/// The preopened directories, longest guest path first.
pub struct WasiFs {
    preopens: Vec<(String, Descriptor)>,
}

impl std::fmt::Debug for WasiFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.preopens.iter().map(|(path, _)| path)).finish()
    }
}

fn error(code: ErrorCode) -> io::Error {
    let kind = match code {
        ErrorCode::NoEntry => io::ErrorKind::NotFound,
        ErrorCode::Access | ErrorCode::NotPermitted => io::ErrorKind::PermissionDenied,
        ErrorCode::IsDirectory => io::ErrorKind::InvalidInput,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("{code:?}"))
}

fn meta_of(stat: &DescriptorStat, hash: MetadataHashValue) -> Meta {
    let mtime_ns = stat
        .data_modification_timestamp
        .map_or(0, |t| t.seconds.saturating_mul(1_000_000_000).saturating_add(u64::from(t.nanoseconds)));
    Meta { dev: hash.upper, ino: hash.lower, size: stat.size, mtime_ns }
}

impl WasiFs {
    pub fn new() -> WasiFs {
        let mut preopens: Vec<(String, Descriptor)> = wasi::filesystem::preopens::get_directories()
            .into_iter()
            .map(|(descriptor, path)| (path.trim_end_matches('/').to_owned(), descriptor))
            .collect();
        preopens.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
        WasiFs { preopens }
    }

    /// The preopened directory holding `path`, and `path` relative to it.
    fn resolve(&self, path: &Path) -> io::Result<(&Descriptor, String)> {
        let text = path.to_str().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not UTF-8"))?;
        for (root, descriptor) in &self.preopens {
            if let Some(rest) = text.strip_prefix(root.as_str()) {
                if rest.is_empty() {
                    return Ok((descriptor, ".".into()));
                }
                if rest.starts_with('/') || root.is_empty() {
                    return Ok((descriptor, rest.trim_start_matches('/').to_owned()));
                }
            }
        }
        Err(io::Error::new(io::ErrorKind::PermissionDenied, "not in a directory granted to the agent"))
    }
}

#[derive(Debug)]
struct WasiFile(Descriptor);

impl OpenFile for WasiFile {
    fn meta(&self) -> io::Result<Meta> {
        Ok(meta_of(&self.0.stat().map_err(error)?, self.0.metadata_hash().map_err(error)?))
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let (data, _end) = self.0.read(buf.len() as u64, offset).map_err(error)?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }
}

impl Fs for WasiFs {
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<Entry>> {
        NativeFs.read_dir(dir)
    }

    fn stat(&self, path: &Path) -> io::Result<Meta> {
        let (dir, relative) = self.resolve(path)?;
        let stat = dir.stat_at(PathFlags::SYMLINK_FOLLOW, &relative).map_err(error)?;
        let hash = dir.metadata_hash_at(PathFlags::SYMLINK_FOLLOW, &relative).map_err(error)?;
        Ok(meta_of(&stat, hash))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn OpenFile>> {
        let (dir, relative) = self.resolve(path)?;
        let file = dir
            .open_at(PathFlags::SYMLINK_FOLLOW, &relative, OpenFlags::empty(), DescriptorFlags::READ)
            .map_err(error)?;
        if file.get_type().map_err(error)? == DescriptorType::Directory {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a directory"));
        }
        Ok(Box::new(WasiFile(file)))
    }
}
