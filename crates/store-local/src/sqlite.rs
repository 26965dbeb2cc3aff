//! [`MetaStore`] on SQLite: one table, `items`, keyed by `(pk, sk)` without a rowid, so the
//! primary key is the table's b-tree and range queries walk it in sort-key order (SQLite compares
//! TEXT with `memcmp`, which is UTF-8 byte order, as the contract requires).
//!
//! Connections: every write goes through one connection behind a mutex, in its own
//! `BEGIN IMMEDIATE` transaction (conditions are read and writes applied under the database's
//! write lock, so transactions are serializable even against other processes on the same file).
//! Reads use a small pool of separate read-only connections: the database is in WAL mode, so they
//! run concurrently with each other and with the writer, each statement on the latest committed
//! state. `synchronous=FULL` makes every commit durable before the call returns. All of it runs
//! on tokio's blocking pool.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use logport_core::store::{
    Condition, Item, MetaStore, Query, Result, StoreError, WriteOp, condition_holds, validate_key_pair,
    validate_transaction, validate_value,
};
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use crate::blocking;

/// How long a connection waits for another process's lock before giving up with `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many idle read connections the pool keeps (more are opened under load, then closed).
const IDLE_READERS: usize = 8;
/// The schema this code writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    value BLOB NOT NULL,
    version INTEGER NOT NULL,
    expires_at INTEGER NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID";

/// Metadata items in a SQLite database file.
#[derive(Clone)]
pub struct SqliteMetaStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    idle_readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteMetaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteMetaStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl SqliteMetaStore {
    /// Opens (creating if needed) the database at `path`, whose directory must exist (blocking).
    pub fn open(path: &Path) -> Result<Self> {
        let writer = Connection::open(path).map_err(|e| open_error(path, &e))?;
        configure(&writer).map_err(|e| open_error(path, &e))?;
        let journal_mode: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| open_error(path, &e))?;
        if !journal_mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "{}: SQLite refused WAL mode (journal mode is {journal_mode})",
                path.display()
            )));
        }
        writer.pragma_update(None, "synchronous", "FULL").map_err(|e| open_error(path, &e))?;
        migrate(&writer, path)?;
        let inner = Inner { path: path.to_owned(), writer: Mutex::new(writer), idle_readers: Mutex::new(Vec::new()) };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `work` on the write connection inside one `BEGIN IMMEDIATE` transaction, committed
    /// when `work` succeeds and rolled back otherwise.
    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let inner = self.inner.clone();
        blocking::run(move || {
            let mut writer = lock(&inner.writer);
            let tx = writer.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)?;
            let result = work(&tx)?;
            tx.commit().map_err(db_error)?;
            Ok(result)
        })
        .await
    }

    /// Runs `work` on a pooled read connection.
    async fn read<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let inner = self.inner.clone();
        blocking::run(move || {
            let pooled = lock(&inner.idle_readers).pop();
            let reader = match pooled {
                Some(reader) => reader,
                None => open_reader(&inner.path)?,
            };
            let result = work(&reader);
            let mut idle = lock(&inner.idle_readers);
            if idle.len() < IDLE_READERS {
                idle.push(reader);
            }
            result
        })
        .await
    }
}

#[async_trait]
impl MetaStore for SqliteMetaStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>> {
        validate_key_pair(pk, sk)?;
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.read(move |conn| {
            let mut statement = conn
                .prepare_cached("SELECT pk, sk, value, version, expires_at FROM items WHERE pk = ?1 AND sk = ?2")
                .map_err(db_error)?;
            statement.query_row(params![pk, sk], item_columns).optional().map_err(db_error)?.map(to_item).transpose()
        })
        .await
    }

    async fn put(
        &self,
        pk: &str,
        sk: &str,
        value: Vec<u8>,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> Result<u64> {
        validate_key_pair(pk, sk)?;
        validate_value(&value)?;
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.write(move |tx| {
            let current = current_version(tx, &pk, &sk)?;
            if !condition_holds(condition, current) {
                return Err(StoreError::Conflict { index: None });
            }
            write_item(tx, &pk, &sk, &value, expires_at, current)
        })
        .await
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<()> {
        validate_key_pair(pk, sk)?;
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.write(move |tx| {
            if !condition_holds(condition, current_version(tx, &pk, &sk)?) {
                return Err(StoreError::Conflict { index: None });
            }
            delete_item(tx, &pk, &sk)
        })
        .await
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<()> {
        validate_transaction(&ops)?;
        self.write(move |tx| {
            let mut versions = Vec::with_capacity(ops.len());
            for (index, op) in ops.iter().enumerate() {
                let (pk, sk) = op.key();
                let current = current_version(tx, pk, sk)?;
                if !condition_holds(condition_of(op), current) {
                    return Err(StoreError::Conflict { index: Some(index) });
                }
                versions.push(current);
            }
            // Keys are distinct (validated), so the versions read above are still current.
            for (op, current) in ops.into_iter().zip(versions) {
                match op {
                    WriteOp::Put { pk, sk, value, expires_at, .. } => {
                        write_item(tx, &pk, &sk, &value, expires_at, current)?;
                    }
                    WriteOp::Delete { pk, sk, .. } => delete_item(tx, &pk, &sk)?,
                    WriteOp::Check { .. } => {}
                }
            }
            Ok(())
        })
        .await
    }

    async fn query(&self, query: Query) -> Result<Vec<Item>> {
        validate_key_pair(&query.pk, "-")?;
        self.read(move |conn| {
            let (sql, params) = query_sql(query);
            let mut statement = conn.prepare_cached(&sql).map_err(db_error)?;
            let rows = statement.query_map(rusqlite::params_from_iter(params), item_columns).map_err(db_error)?;
            rows.map(|row| to_item(row.map_err(db_error)?)).collect()
        })
        .await
    }
}

/// The SQL for a range query and its parameters, in the order of their `?`s.
fn query_sql(query: Query) -> (String, Vec<Value>) {
    let mut sql = String::from("SELECT pk, sk, value, version, expires_at FROM items WHERE pk = ?");
    let mut params = vec![Value::Text(query.pk)];
    for (bound, included, excluded) in
        [(query.start, " AND sk >= ?", " AND sk > ?"), (query.end, " AND sk <= ?", " AND sk < ?")]
    {
        match bound {
            Bound::Included(sk) => {
                sql.push_str(included);
                params.push(Value::Text(sk));
            }
            Bound::Excluded(sk) => {
                sql.push_str(excluded);
                params.push(Value::Text(sk));
            }
            Bound::Unbounded => {}
        }
    }
    sql.push_str(if query.reverse { " ORDER BY sk DESC" } else { " ORDER BY sk" });
    if let Some(limit) = query.limit {
        sql.push_str(" LIMIT ?");
        params.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    }
    (sql, params)
}

fn condition_of(op: &WriteOp) -> Condition {
    match op {
        WriteOp::Put { condition, .. } | WriteOp::Delete { condition, .. } | WriteOp::Check { condition, .. } => {
            *condition
        }
    }
}

fn current_version(tx: &Transaction<'_>, pk: &str, sk: &str) -> Result<Option<u64>> {
    let version: Option<i64> = tx
        .prepare_cached("SELECT version FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut statement| statement.query_row(params![pk, sk], |row| row.get(0)).optional())
        .map_err(db_error)?;
    version.map(to_version).transpose()
}

/// Writes an item whose current version is `current`, returning its new version.
fn write_item(
    tx: &Transaction<'_>,
    pk: &str,
    sk: &str,
    value: &[u8],
    expires_at: Option<i64>,
    current: Option<u64>,
) -> Result<u64> {
    let version = match current {
        None => 1,
        Some(current) => current.checked_add(1).ok_or_else(|| version_overflow(pk, sk))?,
    };
    let stored = i64::try_from(version).map_err(|_| version_overflow(pk, sk))?;
    tx.prepare_cached(
        "INSERT INTO items (pk, sk, value, version, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (pk, sk) DO UPDATE SET
             value = excluded.value, version = excluded.version, expires_at = excluded.expires_at",
    )
    .and_then(|mut statement| statement.execute(params![pk, sk, value, stored, expires_at]))
    .map_err(db_error)?;
    Ok(version)
}

fn delete_item(tx: &Transaction<'_>, pk: &str, sk: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut statement| statement.execute(params![pk, sk]))
        .map_err(db_error)?;
    Ok(())
}

type ItemColumns = (String, String, Vec<u8>, i64, Option<i64>);

fn item_columns(row: &Row<'_>) -> rusqlite::Result<ItemColumns> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
}

fn to_item((pk, sk, value, version, expires_at): ItemColumns) -> Result<Item> {
    Ok(Item { pk, sk, value, version: to_version(version)?, expires_at })
}

fn to_version(stored: i64) -> Result<u64> {
    u64::try_from(stored).map_err(|_| StoreError::Backend(format!("stored item version {stored} is negative")))
}

fn version_overflow(pk: &str, sk: &str) -> StoreError {
    StoreError::Backend(format!("item ({pk}, {sk}) has reached the largest version"))
}

/// Settings every connection gets.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

fn open_reader(path: &Path) -> Result<Connection> {
    let reader = Connection::open(path).map_err(|e| open_error(path, &e))?;
    configure(&reader).map_err(|e| open_error(path, &e))?;
    reader.pragma_update(None, "query_only", true).map_err(|e| open_error(path, &e))?;
    Ok(reader)
}

/// Creates the schema in a new database and refuses one written by a newer schema.
fn migrate(conn: &Connection, path: &Path) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(db_error)?;
    match version {
        0 => {
            conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"))
                .map_err(|e| open_error(path, &e))?;
            Ok(())
        }
        SCHEMA_VERSION => Ok(()),
        newer => Err(StoreError::Backend(format!(
            "{}: metadata schema version {newer} is newer than this Logport's ({SCHEMA_VERSION})",
            path.display()
        ))),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection dropped its transaction, which rolled it back: the
    // connection is still sound.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn open_error(path: &Path, error: &rusqlite::Error) -> StoreError {
    match db_error_kind(error) {
        StoreError::Unavailable(detail) => StoreError::Unavailable(format!("{}: {detail}", path.display())),
        _ => StoreError::Backend(format!("opening {}: {error}", path.display())),
    }
}

fn db_error(error: rusqlite::Error) -> StoreError {
    db_error_kind(&error)
}

/// Lock contention that outlasted the busy timeout is transient (`Unavailable`); the rest is
/// `Backend`.
fn db_error_kind(error: &rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(format!("SQLite: {error}"))
        }
        _ => StoreError::Backend(format!("SQLite: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn the_database_is_in_wal_mode_with_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.sqlite");
        let store = SqliteMetaStore::open(&path).unwrap();
        store.put("p", "s", b"v".to_vec(), Some(5), Condition::Absent).await.unwrap();
        drop(store);
        let conn = Connection::open(&path).unwrap();
        let mode: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let row: (String, String, Vec<u8>, i64, Option<i64>) =
            conn.query_row("SELECT pk, sk, value, version, expires_at FROM items", [], item_columns).unwrap();
        assert_eq!(row, ("p".into(), "s".into(), b"v".to_vec(), 1, Some(5)));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.sqlite");
        drop(SqliteMetaStore::open(&path).unwrap());
        Connection::open(&path).unwrap().pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        assert!(matches!(SqliteMetaStore::open(&path), Err(StoreError::Backend(_))));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sort_keys_order_by_utf8_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetaStore::open(&dir.path().join("meta.sqlite")).unwrap();
        let mut sks = vec!["a", "B", "\u{e9}", "\u{1F600}", "\u{FFFD}", "a\u{0}", "Z"];
        for sk in &sks {
            store.put("p", sk, Vec::new(), None, Condition::Absent).await.unwrap();
        }
        sks.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let listed: Vec<_> =
            store.query(Query::partition("p")).await.unwrap().into_iter().map(|item| item.sk).collect();
        assert_eq!(listed, sks);
        let prefixed = store.query(Query::prefix("p", "a")).await.unwrap();
        assert_eq!(prefixed.len(), 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn two_stores_on_one_file_stay_serializable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.sqlite");
        let stores = [SqliteMetaStore::open(&path).unwrap(), SqliteMetaStore::open(&path).unwrap()];
        stores[0].put("p", "counter", Vec::new(), None, Condition::Absent).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..16u64 {
            let store = stores[(i % 2) as usize].clone();
            tasks.push(tokio::spawn(async move {
                let mut wins = 0;
                for _ in 0..20 {
                    let current = store.get("p", "counter").await.unwrap().unwrap().version;
                    let result = store.put("p", "counter", Vec::new(), None, Condition::Version(current)).await;
                    match result {
                        Ok(_) => wins += 1,
                        Err(StoreError::Conflict { .. }) => {}
                        Err(other) => panic!("{other:?}"),
                    }
                }
                wins
            }));
        }
        let mut wins = 0;
        for task in tasks {
            wins += task.await.unwrap();
        }
        let version = stores[1].get("p", "counter").await.unwrap().unwrap().version;
        assert_eq!(version, 1 + wins, "every successful conditional put is one version step");
    }
}
