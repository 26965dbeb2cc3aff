//! Retention: expired segments (older than the logstore's ttl) are deleted, expired idempotency
//! keys forgotten, and orphan objects (written by a request that never committed) collected.
//! Readers already skip expired segments, so a sweep only reclaims space.

use std::collections::HashSet;
use std::ops::Bound;

use crate::store::{Condition, Query, StoreError};

use super::records::{self, LogstoreRecord, SegmentRecord};
use super::{Engine, Result, keys};

/// How old an uncommitted object must be before it counts as an orphan: far longer than any
/// request takes between writing its segment and committing it.
pub const ORPHAN_AGE_SECS: i64 = 3600;

/// What a sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub segments_deleted: u64,
    pub bytes_deleted: u64,
    pub idempotency_keys_deleted: u64,
    pub orphans_deleted: u64,
}

impl Engine {
    /// Deletes every expired segment and idempotency key of every logstore.
    pub async fn sweep_expired(&self) -> Result<SweepReport> {
        let mut report = SweepReport::default();
        let now = self.now();
        let (projects, _) = self.list_projects(0, usize::MAX).await?;
        for project in projects {
            for item in self.meta.query(Query::partition(keys::logstores(&project.name))).await? {
                let record: LogstoreRecord = records::decode("logstore", &item.value)?;
                if let Some(cutoff) = record.expiry_cutoff(now) {
                    for shard in 0..record.shard_count {
                        self.sweep_shard(&project.name, &record, shard, cutoff, &mut report).await?;
                    }
                }
                let idempotency = keys::idempotency(&project.name, &record.name, &record.incarnation);
                for key in self.meta.query(Query::partition(idempotency)).await? {
                    if key.expires_at.is_some_and(|expires| expires <= now) {
                        self.meta.delete(&key.pk, &key.sk, Condition::Version(key.version)).await.ok();
                        report.idempotency_keys_deleted += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    async fn sweep_shard(
        &self,
        project: &str,
        record: &LogstoreRecord,
        shard: u32,
        cutoff: i64,
        report: &mut SweepReport,
    ) -> Result<()> {
        let times_pk = keys::segment_times(project, &record.name, &record.incarnation, shard);
        let segments_pk = keys::segments(project, &record.name, &record.incarnation, shard);
        let expired = Query::partition(times_pk).to(Bound::Excluded(keys::time_floor(cutoff)));
        for time_item in self.meta.query(expired).await? {
            let position: u64 = records::decode("time index", &time_item.value)?;
            let position_sk = keys::position_sk(position);
            if let Some(item) = self.meta.get(&segments_pk, &position_sk).await? {
                let segment: SegmentRecord = records::decode("segment", &item.value)?;
                // Index first, then the object: a reader never finds an index entry without data.
                self.meta.delete(&segments_pk, &position_sk, Condition::Always).await?;
                self.objects.delete(&segment.object_key).await?;
                report.segments_deleted += 1;
                report.bytes_deleted += segment.stored_bytes;
            }
            self.meta.delete(&time_item.pk, &time_item.sk, Condition::Always).await?;
        }
        Ok(())
    }

    /// [`Engine::collect_orphans`] when no process has run it for `every` seconds: for stateless
    /// runtimes (the scheduled Lambda function) that cannot keep a timer. The last run's time is
    /// a marker in the metadata store, claimed with a conditional write, so of several
    /// invocations that find it due only one collects. `None` when it was not due (or another
    /// invocation claimed it).
    pub async fn collect_orphans_if_due(&self, every: i64) -> Result<Option<SweepReport>> {
        let now = self.now();
        let marker = self.meta.get(keys::HOUSEKEEPING, keys::ORPHANS_MARKER).await?;
        let condition = match &marker {
            Some(item) => {
                let last: i64 = std::str::from_utf8(&item.value).ok().and_then(|text| text.parse().ok()).unwrap_or(0);
                if now - last < every {
                    return Ok(None);
                }
                Condition::Version(item.version)
            }
            None => Condition::Absent,
        };
        let claimed = self
            .meta
            .put(keys::HOUSEKEEPING, keys::ORPHANS_MARKER, now.to_string().into_bytes(), None, condition)
            .await;
        match claimed {
            Ok(_) => Ok(Some(self.collect_orphans().await?)),
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes segment objects older than [`ORPHAN_AGE_SECS`] that no index entry refers to.
    pub async fn collect_orphans(&self) -> Result<SweepReport> {
        let mut report = SweepReport::default();
        let old_before = self.now() - ORPHAN_AGE_SECS;
        let (projects, _) = self.list_projects(0, usize::MAX).await?;
        for project in projects {
            for item in self.meta.query(Query::partition(keys::logstores(&project.name))).await? {
                let record: LogstoreRecord = records::decode("logstore", &item.value)?;
                for shard in 0..record.shard_count {
                    let prefix = keys::shard_prefix(&project.name, &record.name, &record.incarnation, shard);
                    let objects = self.objects.list(&prefix).await?;
                    let old: Vec<_> = objects
                        .into_iter()
                        .filter(|object| keys::segment_object_time(&object.key).is_some_and(|time| time < old_before))
                        .collect();
                    if old.is_empty() {
                        continue;
                    }
                    let pk = keys::segments(&project.name, &record.name, &record.incarnation, shard);
                    let referenced: HashSet<String> = self
                        .meta
                        .query(Query::partition(pk))
                        .await?
                        .iter()
                        .map(|item| {
                            records::decode::<SegmentRecord>("segment", &item.value).map(|segment| segment.object_key)
                        })
                        .collect::<Result<_>>()?;
                    for object in old.into_iter().filter(|object| !referenced.contains(&object.key)) {
                        self.objects.delete(&object.key).await?;
                        report.orphans_deleted += 1;
                        report.bytes_deleted += object.size;
                    }
                }
            }
        }
        Ok(report)
    }
}
