//! Consumer groups: several consumers share a logstore's shards, each shard leased to exactly
//! one live consumer, with a checkpoint per shard.
//!
//! # State and concurrency
//! A group is one metadata item ([`ConsumerGroupRecord`]): its settings, the live consumers with
//! their last heartbeat, and one [`Lease`] per shard (owner + fencing counter). A heartbeat reads
//! it, applies [`ConsumerGroupRecord::apply_heartbeat`] and writes it back conditioned on the
//! version it read, retrying a lost race; so the assignment is serializable on SQLite and on
//! DynamoDB alike. A checkpoint is its own item, written in a transaction that also checks the
//! group item's version: a checkpoint is accepted only against the lease state it was checked
//! against, so a consumer that lost its shard a moment ago cannot overwrite its successor's
//! checkpoint.
//!
//! # Assignment
//! Every heartbeat (1) records the consumer as live, (2) drops consumers silent for longer than
//! the group timeout and frees their leases, (3) frees the leases of this consumer that its
//! heartbeat no longer lists although they were returned to it before (it released them; a grant
//! made during another consumer's heartbeat is not released by the grantee's silence before it
//! has seen it), (4) grants free shards to the consumers holding
//! the fewest, and (5) marks shards of the fullest consumers as *revoking* while the counts differ
//! by more than one. A revoking shard disappears from its owner's answers but stays leased to it
//! until the owner stops listing it (after its final checkpoint) or times out: a shard is handed
//! over only after its holder released it or timed out, never held twice.
//!
//! # Checkpoints and `forceSuccess`
//! A checkpoint from the lease holder is always accepted (also while revoking: that is the final
//! checkpoint of a hand-over). With a fencing counter (`lease`), it must also name the current
//! grant. A checkpoint from anyone else is refused (`ConsumerNotMatch`), unless `forceSuccess` is
//! set and *no live consumer holds the shard*: that lets tools reset a checkpoint of an idle group
//! (the SDK always sends `forceSuccess=True`), but never lets a stale consumer overwrite the
//! checkpoint of a shard that another consumer holds.

use std::collections::BTreeSet;
use std::ops::Bound;

use crate::names::{validate_consumer, validate_consumer_group};
use crate::store::{Condition, Query, StoreError, WriteOp};

use super::records::{self, CheckpointRecord, ConsumerGroupRecord, Lease, LogstoreRecord};
use super::{Engine, EngineError, Result, keys};

/// Most consumer groups per logstore (SLS's quota).
pub const MAX_CONSUMER_GROUPS: usize = 10;
/// Longest group timeout, in seconds.
pub const MAX_TIMEOUT_SECS: u32 = 86_400;
/// How often a read-check-write loses a race before the call gives up (503).
const MAX_ATTEMPTS: usize = 64;

/// What a caller sets on a consumer group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerGroupSettings {
    /// Seconds without a heartbeat after which a consumer loses its shards.
    pub timeout: u32,
    pub order: bool,
}

fn validate_timeout(timeout: u32) -> Result<()> {
    if timeout == 0 || timeout > MAX_TIMEOUT_SECS {
        return Err(EngineError::ParameterInvalid(format!(
            "timeout must be 1-{MAX_TIMEOUT_SECS} seconds, not {timeout}"
        )));
    }
    Ok(())
}

/// A shard granted to a consumer, with the grant's fencing counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    pub shard: u32,
    pub counter: u64,
}

/// One entry of GetCheckPoint (`cursor` empty for a shard never checkpointed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointEntry {
    pub shard: u32,
    pub cursor: String,
    pub update_time_us: i64,
    pub consumer: String,
}

impl ConsumerGroupRecord {
    fn is_live(&self, consumer: &str, now: i64) -> bool {
        self.consumers.get(consumer).is_some_and(|last| now - last <= i64::from(self.timeout))
    }

    /// The consumer holding `shard` now, with its grant's counter (a holder that timed out holds
    /// nothing, even before a heartbeat has freed its leases).
    pub fn holder(&self, shard: u32, now: i64) -> Option<(&str, u64)> {
        let lease = self.leases.get(&shard)?;
        let owner = lease.owner.as_deref()?;
        self.is_live(owner, now).then_some((owner, lease.counter))
    }

    /// Applies one heartbeat of `consumer`, which still holds `held`, at `now`, for a logstore of
    /// `shard_count` shards; returns the shards the consumer should hold (see the module docs).
    pub fn apply_heartbeat(
        &mut self,
        consumer: &str,
        held: &BTreeSet<u32>,
        now: i64,
        shard_count: u32,
    ) -> Vec<Assignment> {
        self.consumers.insert(consumer.to_owned(), now);
        let timeout = i64::from(self.timeout);
        self.consumers.retain(|_, last| now - *last <= timeout);
        self.leases.retain(|shard, _| *shard < shard_count);
        for shard in 0..shard_count {
            self.leases.entry(shard).or_default();
        }
        for (shard, lease) in self.leases.iter_mut() {
            let Some(owner) = lease.owner.as_deref() else { continue };
            let expired = !self.consumers.contains_key(owner);
            let released = owner == consumer && lease.delivered && !held.contains(shard);
            if expired || released {
                *lease = Lease { owner: None, counter: lease.counter, revoking: false, delivered: false };
            }
        }
        self.balance();
        let mut assigned = Vec::new();
        for (shard, lease) in self.leases.iter_mut() {
            if lease.owner.as_deref() == Some(consumer) {
                lease.delivered = true;
                if !lease.revoking {
                    assigned.push(Assignment { shard: *shard, counter: lease.counter });
                }
            }
        }
        assigned
    }

    /// Removes `consumer` from the group (Logport's goodbye): its leases are freed, and the other
    /// consumers take them up at their next heartbeats. The caller checkpointed first.
    pub fn remove_consumer(&mut self, consumer: &str, now: i64) {
        self.consumers.remove(consumer);
        let timeout = i64::from(self.timeout);
        self.consumers.retain(|_, last| now - *last <= timeout);
        for lease in self.leases.values_mut() {
            if lease.owner.as_deref() == Some(consumer) {
                *lease = Lease { owner: None, counter: lease.counter, revoking: false, delivered: false };
            }
        }
        self.balance();
    }

    /// Grants free shards to the consumers holding the fewest, then marks shards of the fullest
    /// consumers as revoking while counts (counting revoking shards as already moved to the
    /// emptiest consumers) differ by more than one.
    fn balance(&mut self) {
        if self.consumers.is_empty() {
            return;
        }
        let mut counts: std::collections::BTreeMap<String, usize> =
            self.consumers.keys().map(|name| (name.clone(), 0)).collect();
        let mut revoking = 0usize;
        for lease in self.leases.values() {
            match (&lease.owner, lease.revoking) {
                (Some(_), true) => revoking += 1,
                (Some(owner), false) => *counts.get_mut(owner).expect("owners are live") += 1,
                (None, _) => {}
            }
        }
        let emptiest = |counts: &std::collections::BTreeMap<String, usize>| {
            counts.iter().min_by_key(|(name, count)| (**count, (*name).clone())).map(|(name, _)| name.clone())
        };
        let fullest = |counts: &std::collections::BTreeMap<String, usize>| {
            counts
                .iter()
                .max_by_key(|(name, count)| (**count, std::cmp::Reverse((*name).clone())))
                .map(|(name, _)| name.clone())
        };
        for lease in self.leases.values_mut().filter(|lease| lease.owner.is_none()) {
            let receiver = emptiest(&counts).expect("there are consumers");
            *counts.get_mut(&receiver).expect("present") += 1;
            lease.owner = Some(receiver);
            lease.counter += 1;
            lease.revoking = false;
            lease.delivered = false;
        }
        for _ in 0..revoking {
            let receiver = emptiest(&counts).expect("there are consumers");
            *counts.get_mut(&receiver).expect("present") += 1;
        }
        while let (Some(donor), Some(receiver)) = (fullest(&counts), emptiest(&counts)) {
            if counts[&donor] <= counts[&receiver] + 1 {
                break;
            }
            let lease = self
                .leases
                .values_mut()
                .rev()
                .find(|lease| !lease.revoking && lease.owner.as_deref() == Some(donor.as_str()));
            let Some(lease) = lease else { break };
            lease.revoking = true;
            *counts.get_mut(&donor).expect("present") -= 1;
            *counts.get_mut(&receiver).expect("present") += 1;
        }
    }
}

impl Engine {
    fn groups_pk(project: &str, record: &LogstoreRecord) -> String {
        keys::consumer_groups(project, &record.name, &record.incarnation)
    }

    async fn group_item(
        &self,
        project: &str,
        record: &LogstoreRecord,
        group: &str,
    ) -> Result<(ConsumerGroupRecord, u64)> {
        validate_consumer_group(group).map_err(|_| EngineError::ConsumerGroupNotExist(group.to_owned()))?;
        let item = self.meta.get(&Self::groups_pk(project, record), group).await?;
        let item = item.ok_or_else(|| EngineError::ConsumerGroupNotExist(group.to_owned()))?;
        Ok((records::decode("consumer group", &item.value)?, item.version))
    }

    /// CreateConsumerGroup; `ConsumerGroupAlreadyExist`, `ConsumerGroupQuotaExceed` (at most
    /// [`MAX_CONSUMER_GROUPS`] per logstore, counted by a versioned item in the same transaction).
    pub async fn create_consumer_group(
        &self,
        project: &str,
        logstore: &str,
        group: &str,
        settings: ConsumerGroupSettings,
    ) -> Result<ConsumerGroupRecord> {
        let record = self.logstore(project, logstore).await?;
        validate_consumer_group(group)?;
        validate_timeout(settings.timeout)?;
        let pk = Self::groups_pk(project, &record);
        let (count_pk, count_sk) = keys::consumer_group_count(project, logstore, &record.incarnation);
        let group_record = ConsumerGroupRecord {
            name: group.to_owned(),
            incarnation: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
            timeout: settings.timeout,
            order: settings.order,
            create_time: self.now(),
            consumers: Default::default(),
            leases: Default::default(),
        };
        for _ in 0..MAX_ATTEMPTS {
            let count_item = self.meta.get(&count_pk, count_sk).await?;
            let (count, condition) = match &count_item {
                Some(item) => {
                    (records::decode::<usize>("consumer group count", &item.value)?, Condition::Version(item.version))
                }
                None => (0, Condition::Absent),
            };
            if self.meta.get(&pk, group).await?.is_some() {
                return Err(EngineError::ConsumerGroupAlreadyExist(group.to_owned()));
            }
            if count >= MAX_CONSUMER_GROUPS {
                return Err(EngineError::ConsumerGroupQuotaExceed(format!(
                    "logstore '{logstore}' already has {count} consumer groups, the most allowed is {MAX_CONSUMER_GROUPS}"
                )));
            }
            let ops = vec![
                WriteOp::Put {
                    pk: pk.clone(),
                    sk: group.to_owned(),
                    value: records::encode(&group_record),
                    expires_at: None,
                    condition: Condition::Absent,
                },
                WriteOp::Put {
                    pk: count_pk.clone(),
                    sk: count_sk.to_owned(),
                    value: records::encode(&(count + 1)),
                    expires_at: None,
                    condition,
                },
            ];
            match self.meta.transact(ops).await {
                Ok(()) => return Ok(group_record),
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(busy("consumer group creation"))
    }

    /// UpdateConsumerGroup: the timeout and/or the order flag.
    pub async fn update_consumer_group(
        &self,
        project: &str,
        logstore: &str,
        group: &str,
        timeout: Option<u32>,
        order: Option<bool>,
    ) -> Result<ConsumerGroupRecord> {
        if let Some(timeout) = timeout {
            validate_timeout(timeout)?;
        }
        let record = self.logstore(project, logstore).await?;
        self.modify_group(project, &record, group, |group_record| {
            if let Some(timeout) = timeout {
                group_record.timeout = timeout;
            }
            if let Some(order) = order {
                group_record.order = order;
            }
            Ok(())
        })
        .await
        .map(|(group_record, _)| group_record)
    }

    /// Reads, changes and writes back a group item, retrying lost races.
    async fn modify_group<T>(
        &self,
        project: &str,
        record: &LogstoreRecord,
        group: &str,
        mut change: impl FnMut(&mut ConsumerGroupRecord) -> Result<T>,
    ) -> Result<(ConsumerGroupRecord, T)> {
        let pk = Self::groups_pk(project, record);
        for _ in 0..MAX_ATTEMPTS {
            let (mut group_record, version) = self.group_item(project, record, group).await?;
            let outcome = change(&mut group_record)?;
            let written =
                self.meta.put(&pk, group, records::encode(&group_record), None, Condition::Version(version)).await;
            match written {
                Ok(_) => return Ok((group_record, outcome)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(busy("consumer group update"))
    }

    /// ListConsumerGroup, in name order.
    pub async fn list_consumer_groups(&self, project: &str, logstore: &str) -> Result<Vec<ConsumerGroupRecord>> {
        let record = self.logstore(project, logstore).await?;
        let items = self.meta.query(Query::partition(Self::groups_pk(project, &record))).await?;
        items.iter().map(|item| records::decode("consumer group", &item.value)).collect()
    }

    /// One consumer group.
    pub async fn consumer_group(&self, project: &str, logstore: &str, group: &str) -> Result<ConsumerGroupRecord> {
        let record = self.logstore(project, logstore).await?;
        Ok(self.group_item(project, &record, group).await?.0)
    }

    /// DeleteConsumerGroup, with its checkpoints.
    pub async fn delete_consumer_group(&self, project: &str, logstore: &str, group: &str) -> Result<()> {
        let record = self.logstore(project, logstore).await?;
        let pk = Self::groups_pk(project, &record);
        let (count_pk, count_sk) = keys::consumer_group_count(project, logstore, &record.incarnation);
        let mut deleted = None;
        for _ in 0..MAX_ATTEMPTS {
            let (group_record, version) = self.group_item(project, &record, group).await?;
            let count_item = self.meta.get(&count_pk, count_sk).await?;
            let mut ops =
                vec![WriteOp::Delete { pk: pk.clone(), sk: group.to_owned(), condition: Condition::Version(version) }];
            if let Some(item) = count_item {
                let count: usize = records::decode("consumer group count", &item.value)?;
                ops.push(WriteOp::Put {
                    pk: count_pk.clone(),
                    sk: count_sk.to_owned(),
                    value: records::encode(&count.saturating_sub(1)),
                    expires_at: None,
                    condition: Condition::Version(item.version),
                });
            }
            match self.meta.transact(ops).await {
                Ok(()) => {
                    deleted = Some(group_record);
                    break;
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        let group_record = deleted.ok_or_else(|| busy("consumer group deletion"))?;
        let checkpoints =
            keys::consumer_checkpoints(project, logstore, &record.incarnation, group, &group_record.incarnation);
        for item in self.meta.query(Query::partition(checkpoints)).await? {
            self.meta.delete(&item.pk, &item.sk, Condition::Always).await?;
        }
        Ok(())
    }

    /// Removes every consumer group item of a logstore incarnation (logstore deletion).
    pub(super) async fn purge_consumer_groups(&self, project: &str, record: &LogstoreRecord) -> Result<()> {
        let pk = Self::groups_pk(project, record);
        for item in self.meta.query(Query::partition(pk)).await? {
            let group: ConsumerGroupRecord = records::decode("consumer group", &item.value)?;
            let checkpoints =
                keys::consumer_checkpoints(project, &record.name, &record.incarnation, &group.name, &group.incarnation);
            for checkpoint in self.meta.query(Query::partition(checkpoints)).await? {
                self.meta.delete(&checkpoint.pk, &checkpoint.sk, Condition::Always).await?;
            }
            self.meta.delete(&item.pk, &item.sk, Condition::Always).await?;
        }
        let (count_pk, count_sk) = keys::consumer_group_count(project, &record.name, &record.incarnation);
        self.meta.delete(&count_pk, count_sk, Condition::Always).await?;
        Ok(())
    }

    /// ConsumerGroupHeartBeat: records `consumer` as live, holding `held`; answers the shards it
    /// should hold now (see the module docs).
    pub async fn consumer_heartbeat(
        &self,
        project: &str,
        logstore: &str,
        group: &str,
        consumer: &str,
        held: &[u32],
    ) -> Result<Vec<Assignment>> {
        validate_consumer(consumer)?;
        let record = self.logstore(project, logstore).await?;
        let held: BTreeSet<u32> = held.iter().copied().collect();
        let now = self.now();
        let (_, assignments) = self
            .modify_group(project, &record, group, |group_record| {
                Ok(group_record.apply_heartbeat(consumer, &held, now, record.shard_count))
            })
            .await?;
        Ok(assignments)
    }

    /// Logport's goodbye (`?type=leave`): `consumer` leaves the group and its shards are handed
    /// out at once instead of after the group timeout.
    pub async fn leave_consumer_group(&self, project: &str, logstore: &str, group: &str, consumer: &str) -> Result<()> {
        validate_consumer(consumer)?;
        let record = self.logstore(project, logstore).await?;
        let now = self.now();
        self.modify_group(project, &record, group, |group_record| {
            group_record.remove_consumer(consumer, now);
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// ConsumerGroupUpdateCheckPoint. `lease`: the fencing counter of the caller's grant, when it
    /// knows it. See the module docs for who may checkpoint.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_checkpoint(
        &self,
        project: &str,
        logstore: &str,
        group: &str,
        consumer: &str,
        shard: u32,
        cursor_text: &str,
        force_success: bool,
        lease: Option<u64>,
    ) -> Result<()> {
        if !consumer.is_empty() {
            validate_consumer(consumer)?;
        }
        let record = self.logstore(project, logstore).await?;
        if shard >= record.shard_count {
            return Err(EngineError::ShardNotExist(shard));
        }
        self.group_item(project, &record, group).await?;
        // A checkpoint must be a cursor of this shard: decodes, and is not past its end.
        self.cursor_time(project, logstore, shard, cursor_text).await?;
        let pk = Self::groups_pk(project, &record);
        for _ in 0..MAX_ATTEMPTS {
            let (group_record, version) = self.group_item(project, &record, group).await?;
            let now = self.now();
            match group_record.holder(shard, now) {
                Some((owner, counter)) if owner == consumer => {
                    if lease.is_some_and(|lease| lease != counter) {
                        return Err(EngineError::ConsumerNotMatch(format!(
                            "consumer '{consumer}' holds shard {shard} under lease {counter}, not {}: the \
                             checkpoint comes from an older grant",
                            lease.unwrap_or_default()
                        )));
                    }
                }
                Some((owner, _)) => {
                    return Err(EngineError::ConsumerNotMatch(format!(
                        "shard {shard} of consumer group '{group}' is held by consumer '{owner}', not '{consumer}'"
                    )));
                }
                None if force_success && lease.is_none() => {}
                None => {
                    return Err(EngineError::ConsumerNotMatch(format!(
                        "consumer '{consumer}' does not hold shard {shard} of consumer group '{group}'"
                    )));
                }
            }
            let checkpoint = CheckpointRecord {
                cursor: cursor_text.trim().to_owned(),
                update_time_us: now.saturating_mul(1_000_000),
                consumer: consumer.to_owned(),
            };
            let ops = vec![
                WriteOp::Check { pk: pk.clone(), sk: group.to_owned(), condition: Condition::Version(version) },
                WriteOp::Put {
                    pk: keys::consumer_checkpoints(
                        project,
                        logstore,
                        &record.incarnation,
                        group,
                        &group_record.incarnation,
                    ),
                    sk: keys::shard_sk(shard),
                    value: records::encode(&checkpoint),
                    expires_at: None,
                    condition: Condition::Always,
                },
            ];
            match self.meta.transact(ops).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(busy("checkpoint update"))
    }

    /// GetCheckPoint: one entry per shard (or for `shard`), with an empty cursor for a shard never
    /// checkpointed (the SDK's shard consumer needs the entry).
    pub async fn checkpoints(
        &self,
        project: &str,
        logstore: &str,
        group: &str,
        shard: Option<u32>,
    ) -> Result<Vec<CheckpointEntry>> {
        let record = self.logstore(project, logstore).await?;
        if let Some(shard) = shard
            && shard >= record.shard_count
        {
            return Err(EngineError::ShardNotExist(shard));
        }
        let (group_record, _) = self.group_item(project, &record, group).await?;
        let pk = keys::consumer_checkpoints(project, logstore, &record.incarnation, group, &group_record.incarnation);
        let query = match shard {
            Some(shard) => Query::partition(pk)
                .from(Bound::Included(keys::shard_sk(shard)))
                .to(Bound::Included(keys::shard_sk(shard))),
            None => Query::partition(pk),
        };
        let mut stored = std::collections::BTreeMap::new();
        for item in self.meta.query(query).await? {
            let checkpoint: CheckpointRecord = records::decode("checkpoint", &item.value)?;
            let shard: u32 =
                item.sk.parse().map_err(|_| EngineError::Corrupt(format!("checkpoint key '{}'", item.sk)))?;
            stored.insert(shard, checkpoint);
        }
        let shards: Vec<u32> = match shard {
            Some(shard) => vec![shard],
            None => (0..record.shard_count).collect(),
        };
        Ok(shards
            .into_iter()
            .map(|shard| match stored.remove(&shard) {
                Some(checkpoint) => CheckpointEntry {
                    shard,
                    cursor: checkpoint.cursor,
                    update_time_us: checkpoint.update_time_us,
                    consumer: checkpoint.consumer,
                },
                None => CheckpointEntry { shard, cursor: String::new(), update_time_us: 0, consumer: String::new() },
            })
            .collect())
    }
}

fn busy(what: &str) -> EngineError {
    EngineError::Storage(StoreError::Unavailable(format!("{what} lost {MAX_ATTEMPTS} races in a row; try again")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(timeout: u32) -> ConsumerGroupRecord {
        ConsumerGroupRecord {
            name: "g".into(),
            incarnation: "i".into(),
            timeout,
            order: false,
            create_time: 0,
            consumers: Default::default(),
            leases: Default::default(),
        }
    }

    fn shards(assignments: &[Assignment]) -> BTreeSet<u32> {
        assignments.iter().map(|assignment| assignment.shard).collect()
    }

    /// Every shard has at most one owner by construction (one lease per shard); this checks that
    /// no consumer is told to hold a shard another consumer is still told to hold.
    fn assert_disjoint(views: &[&BTreeSet<u32>]) {
        let mut seen = BTreeSet::new();
        for view in views {
            for shard in *view {
                assert!(seen.insert(*shard), "shard {shard} given to two consumers: {views:?}");
            }
        }
    }

    #[test]
    fn one_consumer_gets_every_shard() {
        let mut g = group(10);
        let got = g.apply_heartbeat("a", &BTreeSet::new(), 100, 4);
        assert_eq!(shards(&got), (0..4).collect());
        assert!(got.iter().all(|assignment| assignment.counter == 1));
        // Listing them keeps them, with the same grants.
        assert_eq!(g.apply_heartbeat("a", &shards(&got), 101, 4), got);
    }

    #[test]
    fn a_second_consumer_gets_half_only_after_the_first_releases() {
        let mut g = group(10);
        let a = shards(&g.apply_heartbeat("a", &BTreeSet::new(), 100, 4));
        let b = shards(&g.apply_heartbeat("b", &BTreeSet::new(), 101, 4));
        assert!(b.is_empty(), "nothing is free yet: {b:?}");
        // a is told to give two shards up, but still holds them until it stops listing them.
        let a_next = shards(&g.apply_heartbeat("a", &a, 102, 4));
        assert_eq!(a_next.len(), 2);
        assert!(shards(&g.apply_heartbeat("b", &b, 103, 4)).is_empty());
        // a stops listing the revoked ones: they move to b, with a new fencing counter.
        let a_final = shards(&g.apply_heartbeat("a", &a_next, 104, 4));
        assert_eq!(a_final, a_next);
        let b_got = g.apply_heartbeat("b", &b, 105, 4);
        assert_eq!(shards(&b_got).len(), 2);
        assert!(b_got.iter().all(|assignment| assignment.counter == 2));
        assert_disjoint(&[&a_final, &shards(&b_got)]);
    }

    #[test]
    fn counts_stay_balanced_for_any_group_size() {
        for consumers in 1..=5usize {
            for shard_count in [1u32, 2, 3, 7, 16] {
                let mut g = group(100);
                let names: Vec<String> = (0..consumers).map(|i| format!("c{i}")).collect();
                let mut held: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); consumers];
                for round in 0..6 {
                    for (index, name) in names.iter().enumerate() {
                        let got = shards(&g.apply_heartbeat(name, &held[index], 1000 + round, shard_count));
                        held[index] = got;
                    }
                }
                let counts: Vec<usize> = held.iter().map(BTreeSet::len).collect();
                let views: Vec<&BTreeSet<u32>> = held.iter().collect();
                assert_disjoint(&views);
                assert_eq!(counts.iter().sum::<usize>(), shard_count as usize, "{consumers} x {shard_count}");
                let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
                assert!(max - min <= 1, "{consumers} consumers, {shard_count} shards: {counts:?}");
            }
        }
    }

    #[test]
    fn a_leaving_consumer_frees_its_shards_for_the_others_at_once() {
        let mut g = group(10);
        let a = shards(&g.apply_heartbeat("a", &BTreeSet::new(), 100, 4));
        let b = shards(&g.apply_heartbeat("b", &BTreeSet::new(), 100, 4));
        let a = shards(&g.apply_heartbeat("a", &a, 101, 4));
        let a = shards(&g.apply_heartbeat("a", &a, 102, 4));
        let b = shards(&g.apply_heartbeat("b", &b, 102, 4));
        assert_eq!((a.len(), b.len()), (2, 2));
        g.remove_consumer("b", 103);
        assert_eq!(g.holder(*b.first().unwrap(), 103).map(|(owner, _)| owner), Some("a"));
        let a = shards(&g.apply_heartbeat("a", &a, 103, 4));
        assert_eq!(a, (0..4).collect());
        assert!(!g.consumers.contains_key("b"));
    }

    #[test]
    fn a_silent_consumer_loses_its_shards_after_the_timeout() {
        let mut g = group(10);
        let a = shards(&g.apply_heartbeat("a", &BTreeSet::new(), 100, 2));
        assert_eq!(a.len(), 2);
        assert_eq!(g.holder(0, 110), Some(("a", 1)));
        assert_eq!(g.holder(0, 111), None, "a timed out");
        // b heartbeats before the timeout: nothing moves.
        assert!(g.apply_heartbeat("b", &BTreeSet::new(), 110, 2).is_empty());
        // After it: b gets both, under new grants.
        let b = g.apply_heartbeat("b", &BTreeSet::new(), 111, 2);
        assert_eq!(shards(&b), a);
        assert!(b.iter().all(|assignment| assignment.counter == 2));
        assert!(!g.consumers.contains_key("a"));
    }
}
