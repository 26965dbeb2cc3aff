"""The peer of `cargo bench -p logport --bench consume`: the official SDK's ConsumerWorker
forwarding a logstore as RFC 5424 syslog frames (octet counting, `k=v||k=v` bodies, the same as
`logport consume`'s default) over one TCP connection. Runs until SIGTERM.

usage: consume_sdk.py ENDPOINT PROJECT LOGSTORE GROUP SINK_HOST:PORT
"""

import datetime
import signal
import socket
import sys
import threading

from aliyun.log.consumer import ConsumerProcessorBase, ConsumerWorker, CursorPosition, LogHubConfig

endpoint, project, logstore, group, sink = sys.argv[1:6]
host, port = sink.rsplit(":", 1)
connection = socket.create_connection((host, int(port)))
lock = threading.Lock()


def frame(group, log):
    fields = ["%s=%s" % (c.Key, c.Value) for c in log.Contents]
    if group.Topic:
        fields.append("__topic__=" + group.Topic)
    if group.Source:
        fields.append("__source__=" + group.Source)
    for tag in group.LogTags:
        fields.append("__tag__:%s=%s" % (tag.Key, tag.Value))
    stamp = datetime.datetime.fromtimestamp(log.Time, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    hostname = group.Source or "-"
    message = ("<134>1 %s %s logport - - - %s" % (stamp, hostname, "||".join(fields))).encode("utf-8")
    return b"%d %s" % (len(message), message)


class Forwarder(ConsumerProcessorBase):
    def process(self, log_group_list, check_point_tracker):
        frames = [frame(g, log) for g in log_group_list.LogGroups for log in g.Logs]
        with lock:
            connection.sendall(b"".join(frames))
        self.save_checkpoint(check_point_tracker)


option = LogHubConfig(endpoint, "bench", "bench", project, logstore, group, "sdk-1",
                      cursor_position=CursorPosition.BEGIN_CURSOR, heartbeat_interval=2, data_fetch_interval=0.1,
                      max_fetch_log_group_size=10)
worker = ConsumerWorker(Forwarder, consumer_option=option)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
worker.start()
stop.wait()
worker.shutdown()
worker.join(30)
