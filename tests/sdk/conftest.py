"""Fixtures for the "official SDK as judge" suite.

A real `logport up` is started per test module on 127.0.0.1 (port 0, so the kernel picks a free
port) with a fresh data directory and a random access key. The SDK's HTTP exchanges are recorded,
and when a test fails the last ones are attached to the report together with the server's stderr,
so that a failure shows what the SDK sent and what the server answered.
"""

import collections
import hashlib
import os
import queue
import re
import secrets
import signal
import subprocess
import threading
import time

import pytest

from aliyun.log import LogClient

# The first stdout line of `logport up`; the rest of its output goes to stderr.
LISTEN_LINE = re.compile(r"^logport listening on http://127\.0\.0\.1:(\d+) \((?:data|wasm): (.*)\)$")

STARTUP_TIMEOUT = 20  # seconds for the server to print its listening line
SHUTDOWN_TIMEOUT = 30  # seconds for the server to exit after SIGTERM
SDK_TIMEOUT = 10  # seconds the SDK waits for one HTTP answer (its default is 120)

# The last HTTP exchanges made by any SDK client of this suite (see `_record_exchange`).
WIRE = collections.deque(maxlen=8)
# Servers that are running, for the stderr tail in failure reports.
_SERVERS = []


def parse_listen_line(line):
    """Returns the port printed by `logport up` on its first stdout line."""
    match = LISTEN_LINE.match(line.strip())
    if not match:
        raise ValueError("unexpected first line from logport: %r" % line)
    return int(match.group(1))


def logport_bin():
    path = os.environ.get("LOGPORT_BIN")
    if not path:
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(repo, "target")
        path = os.path.join(target, "debug", "logport")
    path = os.path.abspath(path)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("no logport binary at %s (build it with `cargo build -p logport`, or set LOGPORT_BIN)" % path,
                    pytrace=False)
    return path


def backend_args(data_dir):
    """The backend flags: none (the embedded store), or with LOGPORT_TEST_BACKEND=aws the AWS backend
    on the S3 + DynamoDB server the environment names (LOGPORT_S3_BUCKET, LOGPORT_AWS_ENDPOINT, AWS
    credentials), in a table and key prefix of this data directory's own (as tests/support does)."""
    if os.environ.get("LOGPORT_TEST_BACKEND") != "aws":
        return []
    namespace = hashlib.sha256(data_dir.encode()).hexdigest()[:16]
    return ["--backend", "aws", "--dynamodb-table", "logport-sdk-" + namespace,
            "--s3-prefix", "sdk-" + namespace, "--create-aws-resources"]


class Server:
    """A running `logport up`."""

    def __init__(self, binary, data_dir, key_id, key_secret):
        self.data_dir = str(data_dir)
        self.key_id = key_id
        self.key_secret = key_secret
        self.stderr_path = os.path.join(os.path.dirname(self.data_dir), "logport-stderr.log")
        self._stderr = open(self.stderr_path, "wb")
        self.process = subprocess.Popen(
            [binary, "up", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir,
             "--access-key-id", key_id, "--access-key-secret", key_secret] + backend_args(self.data_dir),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
            env=dict(os.environ, NO_COLOR="1"),  # plain text in the stderr tail of failure reports
        )
        self._lines = queue.Queue()
        # Drains stdout for the whole life of the process, so that it can never block on a full pipe.
        threading.Thread(target=self._drain_stdout, daemon=True).start()
        self.port = self._wait_for_port()
        self.endpoint = "127.0.0.1:%d" % self.port

    def _drain_stdout(self):
        for raw in self.process.stdout:
            self._lines.put(raw.decode("utf-8", "replace"))
        self._lines.put(None)

    def _wait_for_port(self):
        try:
            line = self._lines.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            self.kill()
            raise AssertionError("logport printed nothing on stdout within %d s\n%s"
                                 % (STARTUP_TIMEOUT, self.stderr_tail()))
        if line is None:
            code = self.process.wait()
            raise AssertionError("logport exited with %s before listening\n%s" % (code, self.stderr_tail()))
        return parse_listen_line(line)

    def stderr_tail(self, limit=4000):
        try:
            with open(self.stderr_path, "rb") as f:
                data = f.read()
        except OSError:
            return "(no stderr)"
        text = data[-limit:].decode("utf-8", "replace")
        return "--- logport stderr (last %d bytes) ---\n%s" % (min(limit, len(data)), text)

    def stop(self):
        """SIGTERM, then the exit code (None if it did not exit in time; it is then killed)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        finally:
            self._stderr.close()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._stderr.close()


@pytest.fixture(scope="module")
def logport(tmp_path_factory):
    """A real server with a fresh data directory, stopped with SIGTERM after the module's tests."""
    binary = logport_bin()
    base = tmp_path_factory.mktemp("logport")
    key_id = "LTAI" + secrets.token_hex(8)
    key_secret = secrets.token_urlsafe(24)
    server = Server(binary, base / "data", key_id, key_secret)
    _SERVERS.append(server)
    try:
        yield server
    finally:
        _SERVERS.remove(server)
        started = time.monotonic()
        code = server.stop()
        elapsed = time.monotonic() - started
        assert code is not None, "logport did not exit within %d s of SIGTERM\n%s" % (
            SHUTDOWN_TIMEOUT, server.stderr_tail())
        assert code == 0, "logport exited with %s after SIGTERM (%.1f s)\n%s" % (code, elapsed, server.stderr_tail())


def _short(data, limit=600):
    if data is None:
        return "(none)"
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if not data:
        return "(empty)"
    text = repr(data[:limit])
    if len(data) > limit:
        text += " ... (%d bytes)" % len(data)
    return text


def _record_exchange(response, *args, **kwargs):
    request = response.request
    WIRE.append(
        "%s %s\n  request headers: %s\n  request body: %s\n  -> %s %s\n  response headers: %s\n  response body: %s"
        % (request.method, request.url, dict(request.headers), _short(request.body),
           response.status_code, response.reason, dict(response.headers), _short(response.content)))


@pytest.fixture(scope="module")
def make_client(logport):
    """Builds SDK clients for the module's server: `make_client(secret=..., row_ip=..., **LogClient kwargs)`.

    By default the client is pointed at 127.0.0.1:PORT the simplest way: `client._isRowIp = True`
    (no `<project>.` prefix in the URL; the project is still named by the Host header).
    """

    def new_client(key_secret=None, row_ip=True, source="sdk-judge", **kwargs):
        client = LogClient(logport.endpoint, logport.key_id,
                           logport.key_secret if key_secret is None else key_secret,
                           source=source, **kwargs)
        if row_ip:
            client._isRowIp = True
        client.timeout = SDK_TIMEOUT
        client._session.hooks["response"].append(_record_exchange)
        return client

    return new_client


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    WIRE.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        if WIRE:
            report.sections.append(("SDK HTTP exchanges (oldest first, last %d)" % len(WIRE), "\n\n".join(WIRE)))
        for server in _SERVERS:
            report.sections.append(("logport stderr", server.stderr_tail()))
