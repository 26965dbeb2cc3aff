//! `logport-core` is the part of Logport that every runtime shares: the log data model and its
//! validation, the SLS wire codecs (protobuf `LogGroup`, lz4 block, zstd, the JSON form), names,
//! shard hash ranges, cursors, the storage ports ([`store::ObjectStore`], [`store::MetaStore`])
//! and the logstore engine ([`engine::Engine`]) that implements projects, logstores, shards,
//! PutLogs, cursors, PullLogs and TTL over those ports.
//!
//! It must not know about AWS, SQLite, tokio, HTTP servers or wasm hosts: it builds for
//! `wasm32-wasip2` and does no I/O except through the ports it is given.

pub mod bloom;
pub mod codec;
pub mod columns;
pub mod cursor;
pub mod engine;
pub mod json;
pub mod model;
pub mod names;
pub mod shard;
pub mod store;
pub mod tokens;
pub mod view;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use model::{Content, Log, LogGroup, LogGroupList, LogTag};
