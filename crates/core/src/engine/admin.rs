//! Projects and logstores: create, get, list, update, delete.

use crate::names::{validate_logstore, validate_project};
use crate::store::{Condition, Query, StoreError};

use super::records::{self, LogstoreRecord, PERMANENT_TTL_DAYS, ProjectRecord};
use super::{Engine, EngineError, Result, keys};

/// Most shards a logstore may have.
pub const MAX_SHARDS: u32 = 256;

/// What a caller sets on a project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectSettings {
    pub description: String,
}

/// What a caller sets on a logstore (SLS's CreateLogstore body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogstoreSettings {
    pub ttl: u32,
    pub shard_count: u32,
    pub enable_tracking: bool,
    pub auto_split: bool,
    pub max_split_shard: u32,
    pub append_meta: bool,
    pub telemetry_type: String,
}

impl Default for LogstoreSettings {
    fn default() -> Self {
        Self {
            ttl: 30,
            shard_count: 2,
            enable_tracking: false,
            auto_split: false,
            max_split_shard: 0,
            append_meta: false,
            telemetry_type: String::new(),
        }
    }
}

impl LogstoreSettings {
    fn validate(&self) -> Result<()> {
        if self.ttl == 0 || self.ttl > PERMANENT_TTL_DAYS {
            return Err(EngineError::ParameterInvalid(format!(
                "ttl must be 1-{PERMANENT_TTL_DAYS} days ({PERMANENT_TTL_DAYS} keeps data forever), not {}",
                self.ttl
            )));
        }
        if self.shard_count == 0 || self.shard_count > MAX_SHARDS {
            return Err(EngineError::ParameterInvalid(format!(
                "shardCount must be 1-{MAX_SHARDS}, not {}",
                self.shard_count
            )));
        }
        Ok(())
    }
}

impl Engine {
    /// Creates a project; `ProjectAlreadyExist` if the name is taken.
    pub async fn create_project(&self, name: &str, settings: ProjectSettings) -> Result<ProjectRecord> {
        validate_project(name)?;
        let now = self.now();
        let record = ProjectRecord {
            name: name.to_owned(),
            description: settings.description,
            create_time: now,
            last_modify_time: now,
        };
        match self.meta.put(keys::PROJECTS, name, records::encode(&record), None, Condition::Absent).await {
            Ok(_) => Ok(record),
            Err(StoreError::Conflict { .. }) => Err(EngineError::ProjectAlreadyExist(name.to_owned())),
            Err(error) => Err(error.into()),
        }
    }

    /// Reads a project; `ProjectNotExist` if it is missing.
    pub async fn project(&self, name: &str) -> Result<ProjectRecord> {
        validate_project(name).map_err(|_| EngineError::ProjectNotExist(name.to_owned()))?;
        let item = self.meta.get(keys::PROJECTS, name).await?;
        let item = item.ok_or_else(|| EngineError::ProjectNotExist(name.to_owned()))?;
        records::decode("project", &item.value)
    }

    /// Updates a project's description.
    pub async fn update_project(&self, name: &str, settings: ProjectSettings) -> Result<ProjectRecord> {
        loop {
            let item = self.meta.get(keys::PROJECTS, name).await?;
            let item = item.ok_or_else(|| EngineError::ProjectNotExist(name.to_owned()))?;
            let mut record: ProjectRecord = records::decode("project", &item.value)?;
            record.description = settings.description.clone();
            record.last_modify_time = self.now();
            let written = self
                .meta
                .put(keys::PROJECTS, name, records::encode(&record), None, Condition::Version(item.version))
                .await;
            match written {
                Ok(_) => return Ok(record),
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Projects in name order: `(page, total)`.
    pub async fn list_projects(&self, offset: usize, size: usize) -> Result<(Vec<ProjectRecord>, usize)> {
        let items = self.meta.query(Query::partition(keys::PROJECTS)).await?;
        let total = items.len();
        let page = items
            .iter()
            .skip(offset)
            .take(size)
            .map(|item| records::decode("project", &item.value))
            .collect::<Result<_>>()?;
        Ok((page, total))
    }

    /// Deletes a project with all its logstores and their data.
    pub async fn delete_project(&self, name: &str) -> Result<()> {
        self.project(name).await?;
        for item in self.meta.query(Query::partition(keys::logstores(name))).await? {
            self.delete_logstore(name, &item.sk).await?;
        }
        self.meta.delete(keys::PROJECTS, name, Condition::Always).await?;
        Ok(())
    }

    /// Creates a logstore in an existing project.
    pub async fn create_logstore(
        &self,
        project: &str,
        name: &str,
        settings: LogstoreSettings,
    ) -> Result<LogstoreRecord> {
        self.project(project).await?;
        validate_logstore(name)?;
        settings.validate()?;
        let now = self.now();
        let record = LogstoreRecord {
            name: name.to_owned(),
            incarnation: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
            ttl: settings.ttl,
            shard_count: settings.shard_count,
            create_time: now,
            last_modify_time: now,
            enable_tracking: settings.enable_tracking,
            auto_split: settings.auto_split,
            max_split_shard: settings.max_split_shard,
            append_meta: settings.append_meta,
            telemetry_type: settings.telemetry_type,
        };
        match self.meta.put(&keys::logstores(project), name, records::encode(&record), None, Condition::Absent).await {
            Ok(_) => Ok(record),
            Err(StoreError::Conflict { .. }) => Err(EngineError::LogStoreAlreadyExist(name.to_owned())),
            Err(error) => Err(error.into()),
        }
    }

    /// Reads a logstore; `ProjectNotExist` / `LogStoreNotExist` when missing.
    pub async fn logstore(&self, project: &str, name: &str) -> Result<LogstoreRecord> {
        self.project(project).await?;
        validate_logstore(name).map_err(|_| EngineError::LogStoreNotExist(name.to_owned()))?;
        let item = self.meta.get(&keys::logstores(project), name).await?;
        let item = item.ok_or_else(|| EngineError::LogStoreNotExist(name.to_owned()))?;
        records::decode("logstore", &item.value)
    }

    /// Updates a logstore's ttl and flags. The shard count cannot change (no split/merge yet).
    pub async fn update_logstore(
        &self,
        project: &str,
        name: &str,
        settings: LogstoreSettings,
    ) -> Result<LogstoreRecord> {
        settings.validate()?;
        loop {
            self.logstore(project, name).await?;
            let item = self.meta.get(&keys::logstores(project), name).await?;
            let item = item.ok_or_else(|| EngineError::LogStoreNotExist(name.to_owned()))?;
            let mut record: LogstoreRecord = records::decode("logstore", &item.value)?;
            if settings.shard_count != record.shard_count {
                return Err(EngineError::ParameterInvalid(
                    "shardCount cannot be changed by UpdateLogstore (shard split/merge is not supported)".into(),
                ));
            }
            record.ttl = settings.ttl;
            record.enable_tracking = settings.enable_tracking;
            record.auto_split = settings.auto_split;
            record.max_split_shard = settings.max_split_shard;
            record.append_meta = settings.append_meta;
            record.telemetry_type = settings.telemetry_type.clone();
            record.last_modify_time = self.now();
            let written = self
                .meta
                .put(&keys::logstores(project), name, records::encode(&record), None, Condition::Version(item.version))
                .await;
            match written {
                Ok(_) => return Ok(record),
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Logstore names of a project in order: `(page, total)`.
    pub async fn list_logstores(&self, project: &str, offset: usize, size: usize) -> Result<(Vec<String>, usize)> {
        self.project(project).await?;
        let items = self.meta.query(Query::partition(keys::logstores(project))).await?;
        let total = items.len();
        Ok((items.into_iter().skip(offset).take(size).map(|item| item.sk).collect(), total))
    }

    /// Deletes a logstore and everything stored in it. The record goes first, so readers stop
    /// seeing the logstore at once; the data is then removed (a crash midway leaves only
    /// unreachable keys of the old incarnation).
    pub async fn delete_logstore(&self, project: &str, name: &str) -> Result<()> {
        let record = self.logstore(project, name).await?;
        self.meta.delete(&keys::logstores(project), name, Condition::Always).await?;
        self.purge_incarnation(project, &record).await
    }

    async fn purge_incarnation(&self, project: &str, record: &LogstoreRecord) -> Result<()> {
        self.purge_consumer_groups(project, record).await?;
        let incarnation = &record.incarnation;
        let mut partitions = vec![
            keys::heads(project, &record.name, incarnation),
            keys::idempotency(project, &record.name, incarnation),
        ];
        for shard in 0..record.shard_count {
            partitions.push(keys::segments(project, &record.name, incarnation, shard));
            partitions.push(keys::segment_times(project, &record.name, incarnation, shard));
        }
        for partition in partitions {
            for item in self.meta.query(Query::partition(partition)).await? {
                self.meta.delete(&item.pk, &item.sk, Condition::Always).await?;
            }
        }
        for object in self.objects.list(&keys::logstore_prefix(project, &record.name, incarnation)).await? {
            self.objects.delete(&object.key).await?;
        }
        Ok(())
    }
}
