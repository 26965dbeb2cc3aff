//! Creating the bucket and the table a store needs, for development and tests (production creates
//! them with the deployment template). Both calls leave existing resources as they are.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::AsyncSleep;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use logport_core::store::{Result, StoreError};

use crate::dynamo::DynamoMetaStore;
use crate::error::{Failure, build_error};
use crate::expression::{ATTR_EXPIRES_AT, ATTR_PK, ATTR_SK};
use crate::s3::S3ObjectStore;

/// How long to wait for a new table to become ACTIVE.
const TABLE_READY_TIMEOUT: Duration = Duration::from_secs(120);
const TABLE_POLL_INTERVAL: Duration = Duration::from_millis(250);

impl S3ObjectStore {
    /// Creates the bucket unless it exists and is ours (in the client's region).
    pub async fn create_bucket_if_missing(&self) -> Result<()> {
        let mut request = self.client().create_bucket().bucket(self.bucket());
        let region = self.client().config().region().map(|region| region.as_ref().to_owned());
        // us-east-1 is the default location and must not be named.
        if let Some(region) = region.filter(|region| region != "us-east-1") {
            let location = CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build();
            request = request.create_bucket_configuration(location);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                let failure = Failure::of(&error);
                if failure.is("BucketAlreadyOwnedByYou") {
                    return Ok(());
                }
                Err(failure.into_store_error(format_args!("CreateBucket {}", self.bucket())))
            }
        }
    }
}

impl DynamoMetaStore {
    /// Creates the table unless it exists (`pk` S HASH, `sk` S RANGE, on-demand billing), waits
    /// until it is ACTIVE, and turns on TTL on `ttl`. Servers without TTL support (dynalite) are
    /// left without it.
    pub async fn create_table_if_missing(&self) -> Result<()> {
        let action = |what: &str| format!("{what} {}", self.table());
        let definition = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| build_error(action("CreateTable"), e))
        };
        let key = |name: &str, key_type| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(|e| build_error(action("CreateTable"), e))
        };
        let created = self
            .client()
            .create_table()
            .table_name(self.table())
            .attribute_definitions(definition(ATTR_PK)?)
            .attribute_definitions(definition(ATTR_SK)?)
            .key_schema(key(ATTR_PK, KeyType::Hash)?)
            .key_schema(key(ATTR_SK, KeyType::Range)?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        if let Err(error) = created {
            let failure = Failure::of(&error);
            if !failure.is("ResourceInUseException") {
                return Err(failure.into_store_error(action("CreateTable")));
            }
        }
        self.wait_until_active().await?;
        self.enable_ttl().await
    }

    async fn wait_until_active(&self) -> Result<()> {
        let started = Instant::now();
        loop {
            let described = self
                .client()
                .describe_table()
                .table_name(self.table())
                .send()
                .await
                .map_err(|e| Failure::of(&e).into_store_error(format_args!("DescribeTable {}", self.table())))?;
            let status = described.table().and_then(|table| table.table_status());
            if matches!(status, Some(TableStatus::Active)) {
                return Ok(());
            }
            if started.elapsed() > TABLE_READY_TIMEOUT {
                return Err(StoreError::Backend(format!(
                    "table {} is not ACTIVE after {TABLE_READY_TIMEOUT:?} (status {status:?})",
                    self.table()
                )));
            }
            let Some(sleep) = self.client().config().sleep_impl() else {
                return Err(StoreError::Backend("the DynamoDB client has no sleep implementation".into()));
            };
            sleep.sleep(TABLE_POLL_INTERVAL).await;
        }
    }

    async fn enable_ttl(&self) -> Result<()> {
        let described = self.client().describe_time_to_live().table_name(self.table()).send().await;
        match described {
            Ok(output) => {
                let description = output.time_to_live_description();
                let status = description.and_then(|description| description.time_to_live_status());
                let attribute = description.and_then(|description| description.attribute_name());
                if matches!(status, Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling))
                    && attribute == Some(ATTR_EXPIRES_AT)
                {
                    return Ok(());
                }
            }
            Err(error) => {
                let failure = Failure::of(&error);
                if failure.is("UnknownOperationException") {
                    tracing::debug!(table = %self.table(), "the server has no TTL support; TTL left off");
                    return Ok(());
                }
                return Err(failure.into_store_error(format_args!("DescribeTimeToLive {}", self.table())));
            }
        }
        let specification = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(ATTR_EXPIRES_AT)
            .build()
            .map_err(|e| build_error(format_args!("UpdateTimeToLive {}", self.table()), e))?;
        let updated =
            self.client().update_time_to_live().table_name(self.table()).time_to_live_specification(specification);
        match updated.send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                let failure = Failure::of(&error);
                if failure.is("UnknownOperationException") {
                    return Ok(());
                }
                Err(failure.into_store_error(format_args!("UpdateTimeToLive {}", self.table())))
            }
        }
    }
}
