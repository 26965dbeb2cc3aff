//! `logport-store-aws` is Logport's scale-out storage backend: it implements the storage ports of
//! `logport-core` on AWS, objects in S3 ([`S3ObjectStore`]) and metadata items in one DynamoDB
//! table ([`DynamoMetaStore`]), both checked by the core's conformance suites against local
//! protocol servers (moto, dynalite). Conditional writes map to S3 `If-None-Match: *` and to
//! DynamoDB condition expressions; a failed condition is a [`StoreError::Conflict`], never an error.
//!
//! It must not know about logs, projects, logstores, shards, cursors, SLS or HTTP: it stores the
//! keys and bytes it is given under the ports' contracts. The port implementations take ready
//! SDK clients and never read the environment or load the AWS configuration chain, so that a wasm
//! component can build its own clients; building them from the standard chain (`connect`) is
//! the `config` feature's job, and the only place `aws-config` is used.
//!
//! [`StoreError::Conflict`]: logport_core::store::StoreError::Conflict

#[cfg(feature = "config")]
mod config;
mod dynamo;
mod error;
mod expression;
mod resources;
mod s3;
mod settings;

#[cfg(feature = "config")]
pub use config::{AwsStore, MAX_ATTEMPTS, connect, connect_with_loader};
pub use dynamo::DynamoMetaStore;
pub use expression::{ATTR_EXPIRES_AT, ATTR_PK, ATTR_SK, ATTR_VALUE, ATTR_VERSION};
pub use s3::S3ObjectStore;
pub use settings::{AwsStoreConfig, Error, Result};
