//! The shipper's metadata layout (its items live in the same MetaStore as the engine's, under
//! partitions of their own). Names reaching here are validated: they hold no `#`.

/// Every rule of the service, for the scheduler; sort key = [`rule_index_sk`].
pub const RULE_INDEX: &str = "shippers";

pub fn rule_index_sk(project: &str, logstore: &str, name: &str) -> String {
    format!("{project}#{logstore}#{name}")
}

/// A logstore incarnation's rules; sort key = rule name.
pub fn rules(project: &str, logstore: &str, incarnation: &str) -> String {
    format!("shipper#{project}#{logstore}#{incarnation}")
}

/// A rule's per-shard window state; sort key = [`shard_sk`].
pub fn windows(project: &str, logstore: &str, incarnation: &str, name: &str) -> String {
    format!("shipwin#{project}#{logstore}#{incarnation}#{name}")
}

pub fn shard_sk(shard: u32) -> String {
    format!("{shard:05}")
}

/// A rule's tasks; sort key = task id (which starts with the creation time).
pub fn tasks(project: &str, logstore: &str, incarnation: &str, name: &str) -> String {
    format!("shiptask#{project}#{logstore}#{incarnation}#{name}")
}

/// The smallest task sort key created at or after `time`.
pub fn task_time_floor(time: i64) -> String {
    format!("{:010}", time.clamp(0, 9_999_999_999))
}

/// A new task id: creation time, shard, random part (sorted by creation time).
pub fn task_id(created: i64, shard: u32) -> String {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{shard:03}-{}", task_time_floor(created), &unique[..12])
}
