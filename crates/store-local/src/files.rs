//! [`ObjectStore`] on a directory: object `a/b/c` is the file `<root>/a/b/c`.
//!
//! A put writes a temporary file next to the target (named `.tmp~<uuid>`: `~` is not allowed in
//! keys, so no object can ever be mistaken for one), fsyncs it, then moves it into place, and
//! fsyncs the directory. Overwrites move with `rename`, which replaces the target atomically.
//! Creates use `link`, which fails when the target exists, so of concurrent creates of one key
//! exactly one wins and nobody overwrites it; the temporary name is removed afterwards. Readers
//! open the target name only, so they see a whole old file or a whole new one. A crash can leave
//! temporary files behind: listings skip every name that is not a valid key segment.
//!
//! Deleting an object also removes the directories it leaves empty (never the root); a put that
//! loses a race with that removal recreates the directory and tries again.
//!
//! Limits of the file layout: one store cannot hold both `a` and `a/b` (a name is either a file or
//! a directory; such a put is [`StoreError::Invalid`]), each key segment must fit the file
//! system's name limit (255 bytes on most), and on a case-insensitive file system keys differing
//! only in case collide. The file system must support hard links.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use logport_core::store::{ObjectMeta, ObjectStore, PutMode, Result, StoreError, validate_key, validate_prefix};

use crate::blocking;

/// How temporary files start; `~` cannot occur in a key.
const TEMP_PREFIX: &str = ".tmp~";
/// How often a put retries when a concurrent delete removes the directory it is writing into.
const PUT_ATTEMPTS: usize = 8;

/// Objects as files under a root directory.
#[derive(Debug, Clone)]
pub struct FileObjectStore {
    root: Arc<Path>,
}

impl FileObjectStore {
    /// Opens the store rooted at `root`, creating the directory if needed (blocking).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root: PathBuf = root.into();
        fs::create_dir_all(&root).map_err(|e| backend("creating object root", &root, &e))?;
        Ok(Self { root: root.into() })
    }

    /// The directory objects live under.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[async_trait]
impl ObjectStore for FileObjectStore {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        validate_key(key)?;
        let (root, key) = (self.root.clone(), key.to_owned());
        blocking::run(move || put(&root, &key, &data, mode)).await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        validate_key(key)?;
        let (root, key) = (self.root.clone(), key.to_owned());
        blocking::run(move || {
            let (mut file, len) = open_object(&root, &key)?;
            let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            file.read_to_end(&mut data).map_err(|e| backend("reading", &root.join(&key), &e))?;
            Ok(data.into())
        })
        .await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let mut ranges = self.get_ranges(key, std::slice::from_ref(&range)).await?;
        Ok(ranges.pop().expect("one range, one answer"))
    }

    async fn get_ranges(&self, key: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        validate_key(key)?;
        let (root, key, ranges) = (self.root.clone(), key.to_owned(), ranges.to_vec());
        blocking::run(move || {
            let (mut file, len) = open_object(&root, &key)?;
            let mut out = Vec::with_capacity(ranges.len());
            for range in ranges {
                if range.start > range.end || (range.start >= len && !(range.start == 0 && len == 0)) {
                    return Err(StoreError::Invalid(format!("range {range:?} of '{key}' ({len} bytes)")));
                }
                let wanted = range.end.min(len) - range.start;
                let mut data = Vec::with_capacity(usize::try_from(wanted).unwrap_or(0));
                file.seek(SeekFrom::Start(range.start))
                    .and_then(|_| (&mut file).take(wanted).read_to_end(&mut data))
                    .map_err(|e| backend("reading", &root.join(&key), &e))?;
                out.push(data.into());
            }
            Ok(out)
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        validate_prefix(prefix)?;
        let (root, prefix) = (self.root.clone(), prefix.to_owned());
        blocking::run(move || list(&root, &prefix)).await
    }

    fn reads_locally(&self) -> bool {
        true
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        let (root, key) = (self.root.clone(), key.to_owned());
        blocking::run(move || delete(&root, &key)).await
    }
}

fn put(root: &Path, key: &str, data: &[u8], mode: PutMode) -> Result<()> {
    let target = root.join(key);
    let dir = target.parent().expect("a validated key has a parent under the root");
    let temp = write_temp(root, dir, key, data)?;
    let placed = match mode {
        PutMode::Overwrite => fs::rename(&temp, &target),
        PutMode::Create => fs::hard_link(&temp, &target),
    };
    // After a create the temporary name is a second link to the object; after a failure it is the
    // only one. A temporary file that cannot be removed is harmless: listings skip it.
    if mode == PutMode::Create || placed.is_err() {
        let _ = fs::remove_file(&temp);
    }
    match placed {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == ErrorKind::InvalidFilename => Err(put_error(key, &target, &e)),
        Err(e) if target.is_dir() => Err(collision(key, &e)),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(StoreError::Conflict { index: None }),
        Err(e) => Err(backend("placing", &target, &e)),
    }
}

/// Writes `data` durably to a new temporary file in `dir` (creating it) and returns its path.
fn write_temp(root: &Path, dir: &Path, key: &str, data: &[u8]) -> Result<PathBuf> {
    let mut attempt = 1;
    loop {
        ensure_dir(root, dir, key)?;
        let temp = dir.join(format!("{TEMP_PREFIX}{}", uuid::Uuid::new_v4().simple()));
        let file = OpenOptions::new().write(true).create_new(true).open(&temp);
        let mut file = match file {
            Ok(file) => file,
            // A concurrent delete removed the (empty) directory between ensure_dir and here.
            Err(e) if e.kind() == ErrorKind::NotFound && attempt < PUT_ATTEMPTS => {
                attempt += 1;
                continue;
            }
            Err(e) => return Err(put_error(key, &temp, &e)),
        };
        return match file.write_all(data).and_then(|()| file.sync_all()) {
            Ok(()) => Ok(temp),
            Err(e) => {
                drop(file);
                let _ = fs::remove_file(&temp);
                Err(backend("writing", &temp, &e))
            }
        };
    }
}

/// Makes sure `dir` (under `root`) exists, and that the entries of directories created here are
/// durable.
fn ensure_dir(root: &Path, dir: &Path, key: &str) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let relative = dir.strip_prefix(root).expect("object directories are under the root");
    let mut current = root.to_path_buf();
    for component in relative.components() {
        let parent = current.clone();
        current.push(component);
        match fs::create_dir(&current) {
            Ok(()) => sync_dir(&parent)?,
            Err(e) if e.kind() == ErrorKind::AlreadyExists && current.is_dir() => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Err(collision(key, &e)),
            Err(e) => return Err(put_error(key, &current, &e)),
        }
    }
    Ok(())
}

/// Opens an object for reading, with its length; a missing object (or a directory) is `NotFound`.
fn open_object(root: &Path, key: &str) -> Result<(File, u64)> {
    let path = root.join(key);
    let not_found = || StoreError::NotFound(key.to_owned());
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if is_missing(&e) || e.kind() == ErrorKind::InvalidFilename => {
            return Err(not_found());
        }
        Err(e) => return Err(backend("opening", &path, &e)),
    };
    let meta = file.metadata().map_err(|e| backend("inspecting", &path, &e))?;
    if !meta.is_file() {
        return Err(not_found());
    }
    Ok((file, meta.len()))
}

fn list(root: &Path, prefix: &str) -> Result<Vec<ObjectMeta>> {
    // Start at the deepest directory the prefix names; `pending` holds directory keys, each empty
    // or ending in '/'.
    let start = &prefix[..prefix.rfind('/').map_or(0, |slash| slash + 1)];
    let mut pending = vec![start.to_owned()];
    let mut found = Vec::new();
    while let Some(dir_key) = pending.pop() {
        let dir = root.join(&dir_key);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            // Missing, a file, or removed by a concurrent delete: nothing under it.
            Err(e) if is_missing(&e) => continue,
            Err(e) => return Err(backend("listing", &dir, &e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| backend("listing", &dir, &e))?;
            let name = entry.file_name();
            // Temporary files and anything else that is not a key segment are not objects.
            let Some(name) = name.to_str().filter(|name| validate_key(name).is_ok()) else {
                continue;
            };
            let key = format!("{dir_key}{name}");
            let file_type = match entry.file_type() {
                Ok(file_type) => file_type,
                Err(e) if is_missing(&e) => continue,
                Err(e) => return Err(backend("listing", &entry.path(), &e)),
            };
            if file_type.is_dir() {
                let sub = key + "/";
                if sub.starts_with(prefix) || prefix.starts_with(&sub) {
                    pending.push(sub);
                }
            } else if file_type.is_file() && key.starts_with(prefix) {
                match entry.metadata() {
                    Ok(meta) => found.push(ObjectMeta { key, size: meta.len() }),
                    Err(e) if is_missing(&e) => {}
                    Err(e) => return Err(backend("listing", &entry.path(), &e)),
                }
            }
        }
    }
    found.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    Ok(found)
}

fn delete(root: &Path, key: &str) -> Result<()> {
    let target = root.join(key);
    let dir = target.parent().expect("a validated key has a parent under the root");
    match fs::remove_file(&target) {
        Ok(()) => {}
        // No object there: a missing path, or a directory of other keys.
        Err(e) if is_missing(&e) || e.kind() == ErrorKind::IsADirectory || e.kind() == ErrorKind::InvalidFilename => {
            return Ok(());
        }
        Err(_) if target.is_dir() => return Ok(()),
        Err(e) => return Err(backend("deleting", &target, &e)),
    }
    sync_dir(dir)?;
    // Remove the directories this left empty; stop at the first that is not (or at the root).
    let mut dir = dir;
    while dir != root && fs::remove_dir(dir).is_ok() {
        dir = dir.parent().expect("object directories are under the root");
    }
    Ok(())
}

/// Makes a directory's entries durable (no-op where directories cannot be opened for sync).
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    match File::open(dir).and_then(|dir| dir.sync_all()) {
        // A concurrent delete emptied and removed the directory after our entry was placed: a
        // later operation superseded the entry, so there is nothing left to make durable.
        Err(e) if is_missing(&e) => {}
        other => other.map_err(|e| backend("syncing directory", dir, &e))?,
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn is_missing(error: &io::Error) -> bool {
    matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

/// Maps an error creating a key's directory or temporary file.
fn put_error(key: &str, path: &Path, error: &io::Error) -> StoreError {
    match error.kind() {
        ErrorKind::NotADirectory => collision(key, error),
        ErrorKind::InvalidFilename => {
            StoreError::Invalid(format!("object key '{key}' does not fit the file system's name limits: {error}"))
        }
        _ => backend("writing", path, error),
    }
}

fn collision(key: &str, error: &io::Error) -> StoreError {
    StoreError::Invalid(format!(
        "object key '{key}' collides with another key's file or directory (the file store cannot hold both 'a' and 'a/b'): {error}"
    ))
}

fn backend(action: &str, path: &Path, error: &io::Error) -> StoreError {
    if error.kind() == ErrorKind::PermissionDenied {
        return StoreError::Forbidden(format!("{action} {}: {error}", path.display()));
    }
    StoreError::Backend(format!("{action} {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_under(dir: &Path) -> Vec<String> {
        let mut names = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                if entry.file_type().unwrap().is_dir() {
                    pending.push(entry.path());
                }
                names.push(entry.file_name().into_string().unwrap());
            }
        }
        names
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn puts_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileObjectStore::open(dir.path()).unwrap();
        store.put("x/one", Bytes::from_static(b"1"), PutMode::Create).await.unwrap();
        store.put("x/one", Bytes::from_static(b"2"), PutMode::Overwrite).await.unwrap();
        assert!(store.put("x/one", Bytes::from_static(b"3"), PutMode::Create).await.is_err());
        store.put("x/y/two", Bytes::from_static(b"2"), PutMode::Create).await.unwrap();
        let racers = (0..8u8).map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.put("x/race", Bytes::from(vec![i; 10]), PutMode::Create).await })
        });
        let mut wins = 0;
        for racer in racers.collect::<Vec<_>>() {
            wins += usize::from(racer.await.unwrap().is_ok());
        }
        assert_eq!(wins, 1);
        let mut names = names_under(dir.path());
        names.sort();
        assert_eq!(names, ["one", "race", "two", "x", "y"]);
        assert!(!names.iter().any(|name| name.starts_with(TEMP_PREFIX)));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn leftover_temporary_files_are_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileObjectStore::open(dir.path()).unwrap();
        store.put("seg/a", Bytes::from_static(b"a"), PutMode::Create).await.unwrap();
        // What a crash between writing and renaming leaves behind.
        fs::write(dir.path().join("seg").join(format!("{TEMP_PREFIX}0123")), b"partial").unwrap();
        fs::write(dir.path().join(format!("{TEMP_PREFIX}4567")), b"partial").unwrap();
        let keys: Vec<_> = store.list("").await.unwrap().into_iter().map(|meta| meta.key).collect();
        assert_eq!(keys, ["seg/a"]);
        assert_eq!(store.list("seg/").await.unwrap().len(), 1);
        // The leftover does not block later puts or deletes.
        store.put("seg/b", Bytes::from_static(b"b"), PutMode::Create).await.unwrap();
        store.delete("seg/a").await.unwrap();
        assert_eq!(store.list("seg/").await.unwrap().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn delete_removes_empty_directories_but_not_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileObjectStore::open(dir.path().join("objects")).unwrap();
        store.put("a/b/c/d", Bytes::from_static(b"d"), PutMode::Create).await.unwrap();
        store.put("a/e", Bytes::from_static(b"e"), PutMode::Create).await.unwrap();
        store.delete("a/b/c/d").await.unwrap();
        assert!(!store.root().join("a/b").exists());
        assert!(store.root().join("a/e").is_file());
        store.delete("a/e").await.unwrap();
        assert!(store.root().is_dir());
        assert!(names_under(store.root()).is_empty());
        // Puts into a directory that deletes keep removing still work.
        let churn = (0..64).map(|i| {
            let store = store.clone();
            async move {
                let key = format!("churn/{}", i % 4);
                store.put(&key, Bytes::from_static(b"x"), PutMode::Overwrite).await?;
                store.delete(&key).await
            }
        });
        for handle in churn.map(tokio::spawn).collect::<Vec<_>>() {
            handle.await.unwrap().unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn keys_that_are_both_file_and_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileObjectStore::open(dir.path()).unwrap();
        store.put("a/b", Bytes::from_static(b"b"), PutMode::Create).await.unwrap();
        for mode in [PutMode::Create, PutMode::Overwrite] {
            let result = store.put("a", Bytes::from_static(b"a"), mode).await;
            assert!(matches!(result, Err(StoreError::Invalid(_))), "{mode:?}: {result:?}");
            let result = store.put("a/b/c", Bytes::from_static(b"c"), mode).await;
            assert!(matches!(result, Err(StoreError::Invalid(_))), "{mode:?}: {result:?}");
        }
        assert!(matches!(store.get("a").await, Err(StoreError::NotFound(_))));
        assert!(matches!(store.get("a/b/c").await, Err(StoreError::NotFound(_))));
        store.delete("a").await.unwrap();
        store.delete("a/b/c").await.unwrap();
        assert_eq!(store.get("a/b").await.unwrap(), Bytes::from_static(b"b"));
        assert!(!names_under(dir.path()).iter().any(|name| name.starts_with(TEMP_PREFIX)));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn overlong_segments_are_invalid_not_failures() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileObjectStore::open(dir.path()).unwrap();
        let key = format!("a/{}", "x".repeat(300));
        let result = store.put(&key, Bytes::from_static(b"x"), PutMode::Create).await;
        assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
        assert!(matches!(store.get(&key).await, Err(StoreError::NotFound(_))));
        store.delete(&key).await.unwrap();
    }
}
