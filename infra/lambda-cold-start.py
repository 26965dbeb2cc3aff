#!/usr/bin/env python3
"""Cold start of a Logport Lambda function: time from process start to the first handled event.

Two ways to run a function, both timing a fresh process per run:

  runtime  the real function binary (e.g. target/lambda/logport-ingest/bootstrap) against an
           emulated Lambda Runtime API on 127.0.0.1: the event is served from
           /2018-06-01/runtime/invocation/next and the clock stops when the function posts its
           response. `init` is process start -> first poll for an event (what Lambda reports as
           Init Duration), `first event` is process start -> response posted.
  local    `logport-lambda-local` (the same handler code behind an emulated API Gateway): the
           clock stops when the first HTTP request is answered. `init` is process start -> the
           "listening" line.

Examples:
  python3 infra/lambda-cold-start.py runtime --runs 20 --env LOGPORT_INSECURE_NO_AUTH=true \\
      --event crates/lambda/tests/data/list_projects.json -- target/lambda/logport-ingest/bootstrap
  python3 infra/lambda-cold-start.py local --runs 20 -- target/release/logport-lambda-local \\
      --insecure-no-auth --data-dir /tmp/lp

The function's own environment (store, keys) comes from this process's environment plus --env.
Prints one line per run and a summary (median, min, max) in milliseconds.
"""

import argparse
import http.client
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

RUNTIME_PREFIX = "/2018-06-01/runtime"


class RuntimeApi(http.server.ThreadingHTTPServer):
    """The Lambda Runtime API, for one invocation per process."""

    daemon_threads = True

    def __init__(self, event):
        super().__init__(("127.0.0.1", 0), RuntimeHandler)
        self.event = event
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.served = False
            self.first_poll = None
            self.done = threading.Event()
            self.outcome = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.server_address[1]


class RuntimeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        api = self.server
        if self.path != RUNTIME_PREFIX + "/invocation/next":
            return self._reply(404)
        with api.lock:
            if api.first_poll is None:
                api.first_poll = time.perf_counter()
            serve = not api.served
            api.served = True
        if not serve:
            api.done.wait(30)  # One event per process: hold later polls until the run ends.
            return self._reply(500)
        deadline = int(time.time() * 1000) + 30_000
        self._reply(200, api.event, [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", "cold-start-1"),
            ("Lambda-Runtime-Deadline-Ms", str(deadline)),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:000000000000:function:logport"),
            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
        ])

    def do_POST(self):
        api = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self._reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
        if self.path.endswith("/response"):
            api.outcome = ("response", time.perf_counter(), body)
        elif self.path.endswith("/error"):
            api.outcome = ("error", time.perf_counter(), body)
        else:
            return
        api.done.set()


def run_runtime(args, env):
    with open(args.event, "rb") as f:
        event = f.read()
    env = dict(env, AWS_LAMBDA_FUNCTION_NAME="logport-cold-start",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024", AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
               AWS_LAMBDA_LOG_STREAM_NAME="cold-start", AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/logport-cold-start")
    results = []
    for run in range(args.runs):
        # A Runtime API of its own per run: a poll the previous (killed) process sent just before it
        # died may still be read by a handler thread, and on a shared server it would take this
        # run's event and leave the new process waiting.
        api = RuntimeApi(event)
        threading.Thread(target=api.serve_forever, daemon=True).start()
        started = time.perf_counter()
        process = subprocess.Popen(args.command, env=dict(env, AWS_LAMBDA_RUNTIME_API=api.address),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        finished = api.done.wait(args.timeout)
        process.kill()
        _, stderr = process.communicate()
        api.shutdown()
        api.server_close()
        if not finished:
            sys.exit("run %d: no response within %s s (exit %s)\n%s" % (run, args.timeout, process.returncode,
                                                                     stderr.decode("utf-8", "replace")[-2000:]))
        kind, at, body = api.outcome
        if kind != "response":
            sys.exit("run %d: the function reported an error: %s" % (run, body.decode("utf-8", "replace")))
        if run == 0:
            status = json.loads(body).get("statusCode")
            print("first response: statusCode %s, %d bytes" % (status, len(body)))
        results.append(((api.first_poll - started) * 1000, (at - started) * 1000))
        print("run %2d: init %7.2f ms   first event %7.2f ms" % (run, *results[-1]))
    return results


def run_local(args, env):
    results = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as data:
            command = [arg.replace("{tmp}", data) for arg in args.command] + ["--listen", "127.0.0.1:0"]
            started = time.perf_counter()
            process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                line = process.stdout.readline().decode()
                listening = time.perf_counter()
                if "http://" not in line:
                    sys.exit("unexpected first line %r\n%s" % (line, process.stderr.read().decode()[-2000:]))
                host, port = line.split("http://", 1)[1].split()[0].rsplit(":", 1)
                connection = http.client.HTTPConnection(host, int(port), timeout=args.timeout)
                connection.request("GET", "/", headers={"Host": host})
                response = connection.getresponse()
                response.read()
                answered = time.perf_counter()
                if run == 0:
                    print("first response: HTTP %d" % response.status)
            finally:
                process.kill()
                process.communicate()
        results.append(((listening - started) * 1000, (answered - started) * 1000))
        print("run %2d: init %7.2f ms   first event %7.2f ms" % (run, *results[-1]))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["runtime", "local"])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--event", default="crates/lambda/tests/data/list_projects.json",
                        help="the event JSON (runtime mode)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("command", nargs="+", help="the binary and its arguments ({tmp}: a fresh directory)")
    args = parser.parse_args()
    env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    for pair in args.env:
        key, _, value = pair.partition("=")
        env[key] = value
    results = run_runtime(args, env) if args.mode == "runtime" else run_local(args, env)
    for name, index in (("init", 0), ("first event", 1)):
        values = [result[index] for result in results]
        print("%-12s median %7.2f ms   min %7.2f ms   max %7.2f ms   (%d runs)"
              % (name, statistics.median(values), min(values), max(values), len(values)))


if __name__ == "__main__":
    main()
