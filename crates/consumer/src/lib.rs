//! Logport's consumer-group library.
//!
//! A [`Worker`] joins a consumer group of a logstore, heartbeats, takes up the shards the group
//! assigns it from their checkpoints, pulls them, hands each batch to a [`Processor`] and
//! checkpoints only what the processor accepted (fenced by the grant's lease counter, so a stale
//! consumer cannot overwrite its successor's checkpoint). [`sink`] holds the SIEM receivers:
//! Splunk HEC and syslog (RFC 5424 over TCP, TLS, UDP). All I/O is blocking and single-threaded, so
//! the same code runs natively and inside a WASI component; HTTP goes through a [`Transport`].

pub mod client;
pub mod config;
pub mod sink;
pub mod worker;

pub use client::{Client, ClientConfig, ClientError, StartPosition, Transport};
pub use worker::{Processor, SinkProcessor, Worker, WorkerConfig, WorkerStats};
