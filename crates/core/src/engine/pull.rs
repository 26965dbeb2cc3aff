//! Cursors and PullLogs.

use std::ops::Bound;

use crate::cursor;
use crate::model::append_raw_group;
use crate::store::Query;

use super::records::{self, LogstoreRecord, SegmentRecord, ShardHead};
use super::{Engine, EngineError, Result, keys, segment};

/// Where GetCursor starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorFrom {
    /// The oldest data still retained.
    Begin,
    /// After the newest data.
    End,
    /// The first log group received at or after this unix time (`End` when there is none).
    Time(i64),
}

impl CursorFrom {
    /// Parses GetCursor's `from`: `begin`, `end` or unix seconds.
    pub fn parse(from: &str) -> Result<Self> {
        match from {
            "begin" => Ok(Self::Begin),
            "end" => Ok(Self::End),
            other => other.parse::<i64>().map(Self::Time).map_err(|_| {
                EngineError::ParameterInvalid(format!("from must be 'begin', 'end' or unix seconds, not '{other}'"))
            }),
        }
    }
}

/// One PullLogs answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullOutcome {
    /// A serialized `LogGroupList` of `count` groups.
    pub list: Vec<u8>,
    pub count: usize,
    /// Where the next pull starts; equals the request's cursor at the end of data, and exactly
    /// the `end_cursor` when it was reached.
    pub next_cursor: String,
}

/// How many segment records one index query fetches ahead.
const SEGMENTS_PER_QUERY: usize = 32;

impl Engine {
    pub(super) async fn shard_of(&self, project: &str, logstore: &str, shard: u32) -> Result<LogstoreRecord> {
        let record = self.logstore(project, logstore).await?;
        if shard >= record.shard_count {
            return Err(EngineError::ShardNotExist(shard));
        }
        Ok(record)
    }

    async fn head(&self, project: &str, record: &LogstoreRecord, shard: u32) -> Result<ShardHead> {
        let item =
            self.meta.get(&keys::heads(project, &record.name, &record.incarnation), &keys::shard_sk(shard)).await?;
        match item {
            Some(item) => records::decode("shard head", &item.value),
            None => Ok(ShardHead::default()),
        }
    }

    /// The position of the first segment received at or after `time` and not expired.
    async fn position_from_time(
        &self,
        project: &str,
        record: &LogstoreRecord,
        shard: u32,
        time: i64,
    ) -> Result<Option<u64>> {
        let floor = match record.expiry_cutoff(self.now()) {
            Some(cutoff) => time.max(cutoff),
            None => time,
        };
        let query = Query::partition(keys::segment_times(project, &record.name, &record.incarnation, shard))
            .from(Bound::Included(keys::time_floor(floor)))
            .limit(1);
        match self.meta.query(query).await?.first() {
            Some(item) => Ok(Some(records::decode("time index", &item.value)?)),
            None => Ok(None),
        }
    }

    /// GetCursor.
    pub async fn cursor(&self, project: &str, logstore: &str, shard: u32, from: CursorFrom) -> Result<String> {
        let record = self.shard_of(project, logstore, shard).await?;
        let head = self.head(project, &record, shard).await?;
        let position = match from {
            CursorFrom::End => head.next_position,
            CursorFrom::Begin => {
                self.position_from_time(project, &record, shard, 0).await?.unwrap_or(head.next_position)
            }
            CursorFrom::Time(time) => {
                self.position_from_time(project, &record, shard, time).await?.unwrap_or(head.next_position)
            }
        };
        Ok(cursor::encode(position))
    }

    /// The segment holding `position`, or else the first one after it.
    async fn segment_at(
        &self,
        project: &str,
        record: &LogstoreRecord,
        shard: u32,
        position: u64,
    ) -> Result<Option<SegmentRecord>> {
        let pk = keys::segments(project, &record.name, &record.incarnation, shard);
        let at_or_before =
            Query::partition(pk.clone()).to(Bound::Included(keys::position_sk(position))).reversed().limit(1);
        if let Some(item) = self.meta.query(at_or_before).await?.first() {
            let segment: SegmentRecord = records::decode("segment", &item.value)?;
            if segment.end_position() > position {
                return Ok(Some(segment));
            }
        }
        let after = Query::partition(pk).from(Bound::Excluded(keys::position_sk(position))).limit(1);
        match self.meta.query(after).await?.first() {
            Some(item) => Ok(Some(records::decode("segment", &item.value)?)),
            None => Ok(None),
        }
    }

    /// GetCursorTime: the receive time of the log group at `cursor` (for the end cursor, of the
    /// last one; 0 for a shard that never received data).
    pub async fn cursor_time(&self, project: &str, logstore: &str, shard: u32, cursor_text: &str) -> Result<i64> {
        let position = cursor::decode(cursor_text)?;
        let record = self.shard_of(project, logstore, shard).await?;
        let head = self.head(project, &record, shard).await?;
        if position > head.next_position {
            return Err(EngineError::CursorOutOfRange(format!(
                "cursor {cursor_text} is past the end of shard {shard}"
            )));
        }
        if position == head.next_position {
            return Ok(head.last_receive_time);
        }
        match self.segment_at(project, &record, shard, position).await? {
            Some(segment) => Ok(segment.receive_time),
            None => Ok(head.last_receive_time),
        }
    }

    /// PullLogs: up to `count` log groups from `cursor`, stopping at `end_cursor` when given.
    /// A cursor older than the retained data reads from the oldest retained group.
    pub async fn pull_logs(
        &self,
        project: &str,
        logstore: &str,
        shard: u32,
        cursor_text: &str,
        count: usize,
        end_cursor: Option<&str>,
    ) -> Result<PullOutcome> {
        let start = cursor::decode(cursor_text)?;
        let end_requested = end_cursor.map(cursor::decode).transpose()?;
        if count == 0 || count > self.limits.max_pull_count {
            return Err(EngineError::ParameterInvalid(format!(
                "count must be 1-{}, not {count}",
                self.limits.max_pull_count
            )));
        }
        let record = self.shard_of(project, logstore, shard).await?;
        let head = self.head(project, &record, shard).await?;
        if start > head.next_position {
            return Err(EngineError::CursorOutOfRange(format!(
                "cursor {cursor_text} is past the end of shard {shard}"
            )));
        }
        let stop = end_requested.map_or(head.next_position, |end| end.min(head.next_position));
        let cutoff = record.expiry_cutoff(self.now());

        let mut list = Vec::new();
        let mut count_out = 0usize;
        let mut position = start;
        let mut upcoming = match self.segment_at(project, &record, shard, position).await? {
            Some(segment) => vec![segment],
            None => Vec::new(),
        };
        let segments_pk = keys::segments(project, &record.name, &record.incarnation, shard);
        'segments: while position < stop && count_out < count {
            if upcoming.is_empty() {
                break;
            }
            for segment in std::mem::take(&mut upcoming) {
                if segment.position >= stop || count_out >= count {
                    break 'segments;
                }
                let last_position = segment.end_position();
                if cutoff.is_some_and(|cutoff| segment.receive_time < cutoff) {
                    position = position.max(last_position);
                    continue;
                }
                position = position.max(segment.position);
                let object = self.objects.get(&segment.object_key).await?;
                let raw = segment::decode(&segment.object_key, &object)?;
                let mut offset = 0usize;
                for (index, size) in segment.group_sizes.iter().enumerate() {
                    let size = *size as usize;
                    let group_position = segment.position + index as u64;
                    let group = raw.get(offset..offset + size).ok_or_else(|| {
                        EngineError::Corrupt(format!("segment {} is shorter than its index says", segment.object_key))
                    })?;
                    offset += size;
                    if group_position < position {
                        continue;
                    }
                    if group_position >= stop
                        || count_out >= count
                        || (count_out > 0 && list.len() + size > self.limits.max_pull_bytes)
                    {
                        break 'segments;
                    }
                    append_raw_group(&mut list, group);
                    count_out += 1;
                    position = group_position + 1;
                }
                position = position.max(last_position.min(stop));
            }
            if position < stop && count_out < count {
                let next = Query::partition(segments_pk.clone())
                    .from(Bound::Included(keys::position_sk(position)))
                    .limit(SEGMENTS_PER_QUERY);
                upcoming = self
                    .meta
                    .query(next)
                    .await?
                    .iter()
                    .map(|item| records::decode("segment", &item.value))
                    .collect::<Result<_>>()?;
            }
        }
        let next_position = match end_requested {
            Some(end) if position >= stop && stop == end => end,
            _ => position.max(start),
        };
        Ok(PullOutcome { list, count: count_out, next_cursor: cursor::encode(next_position) })
    }
}
