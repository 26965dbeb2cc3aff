//! Connecting the tests to the local protocol servers started by `infra/local-aws.sh`.

// Each test binary uses part of this module.
#![allow(dead_code)]

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::Credentials;
use logport_store_aws::{AwsStore, AwsStoreConfig, connect_with_loader};

/// moto: S3 and DynamoDB on one port.
pub const MOTO: &str = "LOGPORT_MOTO_ENDPOINT";
/// dynalite: DynamoDB without transactions or TTL, with strict request validation.
pub const DYNALITE: &str = "LOGPORT_DYNALITE_ENDPOINT";
/// When set to 1 (as `infra/test-all.sh` does), a missing endpoint fails the test instead of
/// skipping it, so CI cannot pass without running these tests.
const REQUIRE: &str = "LOGPORT_REQUIRE_LOCAL_AWS";

/// The endpoint in `var`, or `None` (the test is skipped) when it is not set.
pub fn endpoint(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ if std::env::var(REQUIRE).as_deref() == Ok("1") => {
            panic!("{var} is not set but {REQUIRE}=1: start the servers with eval \"$(bash infra/local-aws.sh start)\"")
        }
        _ => {
            eprintln!("skipped: {var} not set (run eval $(infra/local-aws.sh start))");
            None
        }
    }
}

/// A bucket or table name no other test (or earlier run on the same server) uses.
pub fn unique(name: &str) -> String {
    format!("logport-{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Both stores on `endpoint`, with a fresh bucket and table of their own, the objects under
/// `prefix`. Nothing is created.
pub async fn connect(endpoint: &str, name: &str, prefix: &str) -> AwsStore {
    let config = AwsStoreConfig {
        bucket: unique(name),
        prefix: prefix.to_owned(),
        table: unique(name),
        endpoint: Some(endpoint.to_owned()),
        // Named, so that the AWS chain looks for no region (nor credentials, set below) anywhere.
        region: Some("us-east-1".to_owned()),
    };
    let credentials = Credentials::new("logport-test", "logport-test-secret", None, None, "logport-tests");
    let loader = aws_config::defaults(BehaviorVersion::latest()).credentials_provider(credentials);
    connect_with_loader(&config, loader).await.expect("building the clients")
}
