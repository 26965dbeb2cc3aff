//! The Logport agent: follows log files through rotations, parses them, and sends them to the
//! service as signed PutLogs batches, caching batches on disk while the service is unreachable.
//!
//! The core (discovery, tailing, parsing, batching, signing, the cache) does its file reading
//! through [`fs::Fs`] and its sending through [`agent::Sink`], so it has no network or async
//! runtime in it; [`run`] is the run loop of both hosts, and `native` adds the blocking HTTP
//! transport.

pub mod agent;
pub mod config;
pub mod discover;
pub mod fs;
pub mod parse;
pub mod run;
pub mod sls;
pub mod spool;
pub mod tail;

#[cfg(feature = "native")]
pub mod native;
