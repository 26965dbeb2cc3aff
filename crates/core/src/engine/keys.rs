//! The storage layout: every metadata key and object key the engine uses, in one place.
//!
//! Names reaching here are validated ([`crate::names`]), so they hold no `#` or `/`. Every key
//! under a logstore includes its *incarnation* (a random id chosen at creation), so a logstore
//! deleted and created again never sees the old one's leftovers.

/// Partition of project records; sort key = project name.
pub const PROJECTS: &str = "projects";

/// Partition of service-wide housekeeping markers; sort key = [`ORPHANS_MARKER`].
pub const HOUSEKEEPING: &str = "housekeeping";

/// Sort key of the marker holding when orphan objects were last collected (unix seconds, text).
pub const ORPHANS_MARKER: &str = "orphans";

/// Partition of a project's logstore records; sort key = logstore name.
pub fn logstores(project: &str) -> String {
    format!("logstores#{project}")
}

/// Partition of a logstore's shard heads; sort key = [`shard_sk`].
pub fn heads(project: &str, logstore: &str, incarnation: &str) -> String {
    format!("heads#{project}#{logstore}#{incarnation}")
}

/// Sort key of a shard.
pub fn shard_sk(shard: u32) -> String {
    format!("{shard:05}")
}

/// Partition of a shard's segment index; sort key = [`position_sk`] of the segment's first group.
pub fn segments(project: &str, logstore: &str, incarnation: &str, shard: u32) -> String {
    format!("segments#{project}#{logstore}#{incarnation}#{shard}")
}

/// Sort key of a shard position (zero-padded, so byte order is numeric order).
pub fn position_sk(position: u64) -> String {
    format!("{position:020}")
}

/// Partition of a shard's time index; sort key = [`time_sk`].
pub fn segment_times(project: &str, logstore: &str, incarnation: &str, shard: u32) -> String {
    format!("segtimes#{project}#{logstore}#{incarnation}#{shard}")
}

/// Sort key of the time index: receive time, then position.
pub fn time_sk(receive_time: i64, position: u64) -> String {
    format!("{:012}#{position:020}", receive_time.max(0))
}

/// The smallest time-index sort key at or after `time`.
pub fn time_floor(time: i64) -> String {
    format!("{:012}#", time.max(0))
}

/// Partition of a logstore's idempotency keys; sort key = the client's key.
pub fn idempotency(project: &str, logstore: &str, incarnation: &str) -> String {
    format!("idempotency#{project}#{logstore}#{incarnation}")
}

/// Object-key prefix of everything a logstore incarnation stores.
pub fn logstore_prefix(project: &str, logstore: &str, incarnation: &str) -> String {
    format!("{project}/{logstore}/{incarnation}/")
}

/// Object-key prefix of a shard's segments.
pub fn shard_prefix(project: &str, logstore: &str, incarnation: &str, shard: u32) -> String {
    format!("{project}/{logstore}/{incarnation}/{shard:05}/")
}

/// Object key of a new segment: written time first, so a listing is in write order and orphan
/// collection can tell old objects by name.
pub fn segment_object(
    project: &str,
    logstore: &str,
    incarnation: &str,
    shard: u32,
    written: i64,
    unique: &str,
) -> String {
    format!("{}{:012}-{unique}.seg", shard_prefix(project, logstore, incarnation, shard), written.max(0))
}

/// The written time encoded in a segment object key, if it is one.
pub fn segment_object_time(key: &str) -> Option<i64> {
    let name = key.rsplit('/').next()?;
    name.split('-').next()?.parse().ok()
}

/// Partition of a logstore's consumer groups (config + leases, one item per group); sort key =
/// the group name.
pub fn consumer_groups(project: &str, logstore: &str, incarnation: &str) -> String {
    format!("consumergroups#{project}#{logstore}#{incarnation}")
}

/// The item counting a logstore's consumer groups (the quota), in its own partition.
pub fn consumer_group_count(project: &str, logstore: &str, incarnation: &str) -> (String, &'static str) {
    (format!("cgcount#{project}#{logstore}#{incarnation}"), "count")
}

/// Partition of a consumer group's checkpoints; sort key = [`shard_sk`]. The group's own
/// incarnation keeps a group deleted and created again from seeing old checkpoints.
pub fn consumer_checkpoints(
    project: &str,
    logstore: &str,
    incarnation: &str,
    group: &str,
    group_incarnation: &str,
) -> String {
    format!("cgcheckpoints#{project}#{logstore}#{incarnation}#{group}#{group_incarnation}")
}

/// Partition of a project's machine groups (Logtail-style collection); sort key = group name.
pub fn machine_groups(project: &str) -> String {
    format!("machinegroups#{project}")
}

/// Partition of a project's collection configs; sort key = config name.
pub fn collection_configs(project: &str) -> String {
    format!("configs#{project}")
}

/// Partition of the agents that polled a project; sort key = [`machine_sk`].
pub fn machines(project: &str) -> String {
    format!("machines#{project}")
}

/// Sort key of an agent: its IP, then its user-defined identity (empty when it has none).
pub fn machine_sk(ip: &str, user_defined_id: &str) -> String {
    format!("{ip}#{user_defined_id}")
}
