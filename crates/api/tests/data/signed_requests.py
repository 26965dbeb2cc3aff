"""Regenerates signed_requests.json: drives the real aliyun-log-python-sdk against a local
recording HTTP server and dumps each request exactly as it arrived (method, request target,
headers in order, body), for both signature versions.

    python3 -m venv /tmp/sdkvenv && /tmp/sdkvenv/bin/pip install aliyun-log-python-sdk==0.9.52
    /tmp/sdkvenv/bin/python signed_requests.py > signed_requests.json

The SDK raises on some of the stub answers (histogram, list_project, pull_logs); the request has
been recorded by then, which is all that matters here.
"""
import base64, json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECORDED = []

class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        RECORDED.append({
            "method": self.command,
            "uri": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_b64": base64.b64encode(body).decode(),
        })
        out = b"{}"
        if self.path.rstrip("/").endswith("consumergroups") and self.command == "GET" or "type=heartbeat" in self.path:
            out = b"[]"
        if "type=cursor" in self.path:
            out = b'{"cursor":"MTAw"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("x-log-requestid", "0")
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = do_PUT = do_DELETE = _handle
    def log_message(self, *a):
        pass

srv = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
port = srv.server_address[1]
threading.Thread(target=srv.serve_forever, daemon=True).start()

from aliyun.log import LogClient, PutLogsRequest, LogItem, GetHistogramsRequest
from aliyun.log.auth import AUTH_VERSION_1, AUTH_VERSION_4

AKID, SECRET = "LTAItestkey0001", "s3cr3t/Key+with=chars"
fixtures = []

def client(version, token=None, proxy=False):
    ep = "127.0.0.1:%d" % port
    kw = dict(auth_version=version)
    if version == AUTH_VERSION_4:
        kw["region"] = "cn-hangzhou"
    c = LogClient(ep, AKID, SECRET, securityToken=token, source="10.0.0.1", **kw)
    if not proxy:
        c._isRowIp = True
    else:
        c._session.trust_env = True
    return c

def run(name, version, fn, token=None, proxy=False):
    before = len(RECORDED)
    if proxy:
        os.environ["HTTP_PROXY"] = "http://127.0.0.1:%d" % port
        os.environ["NO_PROXY"] = ""
    try:
        fn(client(version, token, proxy))
    except Exception as e:
        print("note: %s raised %r" % (name, e), file=sys.stderr)
    finally:
        os.environ.pop("HTTP_PROXY", None)
    got = RECORDED[before:]
    assert len(got) == 1, (name, len(got))
    rec = got[0]
    rec["name"] = "%s_%s" % (name, version)
    rec["version"] = version
    rec["akid"] = AKID
    rec["secret"] = SECRET
    fixtures.append(rec)

def put_logs(c):
    items = []
    for i in range(3):
        it = LogItem(timestamp=1700000000 + i)
        it.set_contents([("msg", "hello world %d" % i), ("level", "info")])
        items.append(it)
    c.put_logs(PutLogsRequest("p1", "ls1", topic="t", source="10.0.0.1", logitems=items))

def histogram(c):
    c.get_histograms(GetHistogramsRequest("p1", "ls1", 1700000000, 1700003600, topic="",
                                          query="a b+c~d/e & f=g|ü"))

for v in (AUTH_VERSION_1, AUTH_VERSION_4):
    run("get_cursor", v, lambda c: c.get_cursor("p1", "ls1", 0, "begin"))
    run("histogram", v, histogram)
    run("put_logs_lz4", v, put_logs)
    run("list_project", v, lambda c: c.list_project())
    run("create_consumer_group", v, lambda c: c.create_consumer_group("p1", "ls1", "cg1", 40, in_order=False))
    run("checkpoint", v, lambda c: c.update_check_point("p1", "ls1", "cg1", 0, "MTAw", consumer="c-1"))
    run("heartbeat", v, lambda c: c.heart_beat("p1", "ls1", "cg1", "c-1", [0, 1]))
    run("pull_logs", v, lambda c: c.pull_logs("p1", "ls1", 0, "MTAw", count=1000))
    run("sts_get_cursor", v, lambda c: c.get_cursor("p1", "ls1", 1, "end"), token="sts-token-abc")
    run("proxy_list_shards", v, lambda c: c.list_shards("p1", "ls1"), proxy=True)

srv.shutdown()
from aliyun.log.version import __version__ as SDK_VERSION
json.dump({"sdk": "aliyun-log-python-sdk " + SDK_VERSION,
           "generator": "signed_requests.py beside this file",
           "requests": fixtures}, sys.stdout, indent=1, ensure_ascii=False)
print()
