"""The SDK's ConsumerWorker as the judge of consumer groups (sls-api.md §9, §12).

Two unchanged `ConsumerWorker`s share one group of a four-shard logstore on a real server: both
are given shards, together they see every log exactly once, and when one stops its shards move to
the other, which resumes from the stopped one's checkpoints (nothing seen twice, nothing missed).

The workers build their own clients, so they reach 127.0.0.1:PORT the HTTP_PROXY way
(sls-api.md §0): their URLs name `<project>.127.0.0.1:PORT` and requests sends them to the server.

The SDK sends no goodbye heartbeat: a stopped consumer is noticed when its group timeout
(2 x heartbeat, the SDK's default) has passed, and its shards are handed over at the survivor's next
heartbeat. So the bound checked for a hand-over is timeout + one heartbeat interval (+ slack for
this 2-core machine).
"""

import threading
import time

import pytest

from aliyun.log import LogClient, LogItem, PutLogsRequest
from aliyun.log.consumer import ConsumerProcessorBase, ConsumerWorker, CursorPosition, LogHubConfig

PROJECT = "sdk-consumer"
LOGSTORE = "siem"
GROUP = "forwarders"
SHARDS = 4
HEARTBEAT = 2  # seconds; the group timeout is 2 x this (the SDK's default)
TIMEOUT = 2 * HEARTBEAT
SLACK = 3  # seconds for a loaded 2-core machine
KEYS = ["%032x" % (i * (2**128 // SHARDS)) for i in range(SHARDS)]  # one hash key inside each shard


class Seen:
    """What every processor of the test has seen: log id -> list of (consumer, shard)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_id = {}

    def add(self, consumer, shard, ids):
        with self.lock:
            for log_id in ids:
                self.by_id.setdefault(log_id, []).append((consumer, shard))

    def count(self):
        with self.lock:
            return len(self.by_id)

    def duplicates(self):
        with self.lock:
            return {log_id: where for log_id, where in self.by_id.items() if len(where) > 1}


SEEN = Seen()


class Recorder(ConsumerProcessorBase):
    """Records the `id` of every log it is handed, then checkpoints (at most every few seconds, as the
    SDK's base class does; always on shutdown)."""

    def process(self, log_groups, check_point_tracker):
        ids = []
        for group in log_groups.LogGroups:
            for log in group.Logs:
                for content in log.Contents:
                    if content.Key == "id":
                        ids.append(int(content.Value))
        SEEN.add(self.option_consumer, self.shard_id, ids)
        self.save_checkpoint(check_point_tracker)

    def shutdown(self, check_point_tracker):
        self.save_checkpoint(check_point_tracker, force=True)


def make_recorder(consumer):
    class Named(Recorder):
        option_consumer = consumer

    return Named


@pytest.fixture
def via_proxy(logport, monkeypatch):
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:%d" % logport.port)


def put_ids(client, first, count):
    """Puts logs with ids first..first+count-1, spread over every shard by hash key."""
    now = int(time.time())
    per_batch = 100
    for start in range(first, first + count, per_batch):
        ids = range(start, min(start + per_batch, first + count))
        items = [LogItem(timestamp=now, contents=[("id", str(i)), ("msg", "event %d" % i)]) for i in ids]
        key = KEYS[(start // per_batch) % SHARDS]
        client.put_logs(PutLogsRequest(PROJECT, LOGSTORE, topic="t", logitems=items, hashKey=key))


def wait_for(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def held(worker):
    return set(worker.heart_beat.get_held_shards())


def test_two_workers_share_shards_and_fail_over(logport, make_client, via_proxy):
    client = make_client()
    client.create_project(PROJECT, "consumer judge")
    client.create_logstore(PROJECT, LOGSTORE, shard_count=SHARDS)

    first_batch = 2000
    put_ids(client, 0, first_batch)

    def worker(name):
        option = LogHubConfig(logport.endpoint, logport.key_id, logport.key_secret, PROJECT, LOGSTORE, GROUP, name,
                              cursor_position=CursorPosition.BEGIN_CURSOR, heartbeat_interval=HEARTBEAT,
                              data_fetch_interval=0.2)
        assert option.consumer_group_time_out == TIMEOUT
        return ConsumerWorker(make_recorder(name), consumer_option=option)

    a, b = worker("consumer-a"), worker("consumer-b")
    a.start()
    b.start()
    try:
        # Balanced: two shards each, none held twice (b gets its share only after a released it).
        wait_for("two shards each", lambda: len(held(a)) == 2 and len(held(b)) == 2,
                 timeout=6 * HEARTBEAT + SLACK)
        assert held(a).isdisjoint(held(b))
        assert held(a) | held(b) == set(range(SHARDS))
        groups = client.list_consumer_group(PROJECT, LOGSTORE).get_consumer_groups()
        assert [(g.get_consumer_group_name(), g.get_timeout()) for g in groups] == [(GROUP, TIMEOUT)]

        # Data put while both run is seen too.
        put_ids(client, first_batch, 1000)
        wait_for("every log of phase 1", lambda: SEEN.count() == first_batch + 1000, timeout=30)
        assert SEEN.duplicates() == {}

        # The checkpoints name their holders.
        entries = client.get_check_point(PROJECT, LOGSTORE, GROUP).get_consumer_group_check_points()
        assert sorted(e["shard"] for e in entries) == list(range(SHARDS))

        # b stops (no goodbye heartbeat, as the SDK does): a takes over its shards after the timeout.
        b_shards = held(b)
        b.shutdown()
        b.join(30)
        assert not b.is_alive()
        stopped = time.monotonic()
        took_over = wait_for("a holding every shard", lambda: held(a) == set(range(SHARDS)),
                             timeout=TIMEOUT + HEARTBEAT + SLACK + 2)
        print("hand-over of %s took %.1f s (timeout %d s, heartbeat %d s)" % (sorted(b_shards), took_over - stopped,
                                                                             TIMEOUT, HEARTBEAT))

        # a resumes b's shards from b's checkpoints: new logs are seen once, old ones not again.
        put_ids(client, first_batch + 1000, 1000)
        wait_for("every log", lambda: SEEN.count() == first_batch + 2000, timeout=30)
        time.sleep(2 * 0.2 + 1)  # a few more fetch rounds: anything re-read would show up now
        assert SEEN.duplicates() == {}
        assert SEEN.count() == first_batch + 2000
        moved = {shard for log_id, where in SEEN.by_id.items() if log_id >= first_batch + 1000
                 for consumer, shard in where}
        assert b_shards <= moved, "the moved shards' new logs came through a"
    finally:
        for w in (a, b):
            w.shutdown()
        for w in (a, b):
            w.join(30)

    entries = client.get_check_point(PROJECT, LOGSTORE, GROUP).get_consumer_group_check_points()
    assert all(e["checkpoint"] for e in entries), entries


def test_consumer_group_errors(logport, make_client):
    from aliyun.log import LogException

    client = make_client()
    try:
        client.create_project(PROJECT, "consumer judge")
    except LogException:
        pass
    name = "errors"
    client.create_logstore(PROJECT, name, shard_count=2)
    client.create_consumer_group(PROJECT, name, "cg", 10)

    def code(call):
        with pytest.raises(LogException) as info:
            call()
        return info.value.get_error_code()

    assert code(lambda: client.create_consumer_group(PROJECT, name, "cg", 10)) == "ConsumerGroupAlreadyExist"
    assert code(lambda: client.get_check_point(PROJECT, name, "missing")) == "ConsumerGroupNotExist"
    assert code(lambda: client.heart_beat(PROJECT, name, "missing", "c", [])) == "ConsumerGroupNotExist"
    for i in range(9):
        client.create_consumer_group(PROJECT, name, "cg%d" % i, 10)
    assert code(lambda: client.create_consumer_group(PROJECT, name, "cg10", 10)) == "ConsumerGroupQuotaExceed"
    # A checkpoint for a shard the consumer does not hold.
    cursor = client.get_cursor(PROJECT, name, 0, "begin").get_cursor()
    assert code(lambda: client.update_check_point(PROJECT, name, "cg", 0, cursor, consumer="nobody",
                                                  force_success=False)) == "ConsumerNotMatch"
    # A checkpoint that is not a cursor of the shard.
    client.heart_beat(PROJECT, name, "cg", "c", [])
    assert code(lambda: client.update_check_point(PROJECT, name, "cg", 0, "not-a-cursor", consumer="c")) \
        == "InvalidCursor"
    entries = client.get_check_point(PROJECT, name, "cg").get_consumer_group_check_points()
    assert [e["checkpoint"] for e in entries] == ["", ""]
    client.update_check_point(PROJECT, name, "cg", 0, cursor, consumer="c")
    entries = client.get_check_point(PROJECT, name, "cg", 0).get_consumer_group_check_points()
    assert [(e["shard"], e["checkpoint"], e["consumer"]) for e in entries] == [(0, cursor, "c")]
    client.delete_consumer_group(PROJECT, name, "cg")
    assert code(lambda: client.get_check_point(PROJECT, name, "cg")) == "ConsumerGroupNotExist"
