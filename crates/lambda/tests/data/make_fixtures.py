"""Writes the API Gateway HTTP API (payload format 2.0) event fixtures of crates/lambda/tests:
requests as API Gateway hands them to a function behind its default `execute-api` endpoint, in dev
mode (unsigned). The PutLogs body is an SLS LogGroup (protobuf) in one LZ4 block, base64-encoded.

    python3 crates/lambda/tests/data/make_fixtures.py   # rewrites the *.json files beside it
"""
import base64, json, struct, os

def varint(n):
    out = b""
    while True:
        b = n & 0x7f; n >>= 7
        if n: out += bytes([b | 0x80])
        else: return out + bytes([b])
def field(num, wire, payload):
    key = varint((num << 3) | wire)
    if wire == 2: return key + varint(len(payload)) + payload
    if wire == 0: return key + varint(payload)
    if wire == 5: return key + struct.pack("<I", payload)
def s(num, text): return field(num, 2, text.encode())
def content(k, v): return s(1, k) + s(2, v)
def log(t, pairs, ns):
    return field(1, 0, t) + b"".join(field(2, 2, content(k, v)) for k, v in pairs) + field(4, 5, ns)
group = (field(1, 2, log(1700000000, [("status", "200"), ("url", "/index.html"), ("message", "GET /index.html 200")], 5))
         + field(1, 2, log(1700000001, [("status", "404"), ("url", "/missing"), ("message", "GET /missing 404")], 6))
         + s(3, "nginx") + s(4, "10.0.0.1") + field(6, 2, s(1, "host") + s(2, "web-1")))

def lz4_literals(data):
    # One LZ4 block sequence made only of literals (valid LZ4; what any decoder accepts).
    n = len(data)
    if n < 15: return bytes([n << 4]) + data
    out = bytes([0xF0]); rest = n - 15
    while rest >= 255: out += b"\xff"; rest -= 255
    return out + bytes([rest]) + data
packed = lz4_literals(group)

API = "abc123"; DOMAIN = f"{API}.execute-api.eu-west-1.amazonaws.com"
def event(method, path, query="", headers=None, body=None, b64=False, rid="Xk1pWjVHoAMEJ2A=", project=True):
    h = {"accept-encoding": "deflate", "content-length": str(len(base64.b64decode(body)) if b64 else len((body or "").encode())), "host": DOMAIN,
         "user-agent": "log-python-sdk-v-0.9.52", "x-amzn-trace-id": "Root=1-6560f1a2-1c2d3e4f5a6b7c8d9e0f1a2b",
         "x-forwarded-for": "198.51.100.7", "x-forwarded-port": "443", "x-forwarded-proto": "https",
         "x-log-apiversion": "0.6.0", "x-log-project": "demo"}
    h.update(headers or {})
    if body is None: del h["content-length"]
    if not project: del h["x-log-project"]
    e = {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query, "headers": h}
    if query:
        qs = {}
        from urllib.parse import parse_qsl
        for k, v in parse_qsl(query, keep_blank_values=True):
            qs[k] = qs[k] + "," + v if k in qs else v
        e["queryStringParameters"] = qs
    e["requestContext"] = {"accountId": "123456789012", "apiId": API, "domainName": DOMAIN, "domainPrefix": API,
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7",
                 "userAgent": "log-python-sdk-v-0.9.52"},
        "requestId": rid, "routeKey": "$default", "stage": "$default",
        "time": "22/Nov/2026:05:42:00 +0000", "timeEpoch": 1795239720000}
    if body is not None:
        e["body"] = body
    e["isBase64Encoded"] = b64
    return e

fx = {
 "create_project": event("POST", "/", headers={"content-type": "application/json"},
                         body='{"projectName":"demo","description":"created through API Gateway"}'),
 "list_projects": event("GET", "/", rid="Xk1pWjVHoAMEJ2B=", project=False),
 "create_logstore": event("POST", "/logstores", headers={"content-type": "application/json"},
                          body='{"logstoreName":"web","ttl":30,"shardCount":1}', rid="Xk1pWjVHoAMEJ2C="),
 "put_logs_lz4": event("POST", "/logstores/web/shards/lb", headers={
        "content-type": "application/x-protobuf", "x-log-compresstype": "lz4", "x-log-bodyrawsize": str(len(group))},
        body=base64.b64encode(packed).decode(), b64=True, rid="Xk1pWjVHoAMEJ2D="),
 "get_cursor": event("GET", "/logstores/web/shards/0", "type=cursor&from=begin", rid="Xk1pWjVHoAMEJ2E="),
 "pull_logs_lz4": event("GET", "/logstores/web/shards/0", "type=log&cursor=MA%3D%3D&count=100",
        headers={"accept": "application/x-protobuf", "accept-encoding": "lz4"}, rid="Xk1pWjVHoAMEJ2F="),
 "pull_logs_json_lz4": event("GET", "/logstores/web/shards/0", "type=log&cursor=MA%3D%3D&count=100",
        headers={"accept": "application/json", "accept-encoding": "lz4"}, rid="Xk1pWjVHoAMEJ2G="),
 "create_logstore_bad_name": event("POST", "/logstores", headers={"content-type": "application/json"},
        body='{"logstoreName":"../etc","shardCount":1}', rid="Xk1pWjVHoAMEJ2H="),
}
HERE = os.path.dirname(os.path.abspath(__file__))
for name, e in fx.items():
    with open(os.path.join(HERE, f"{name}.json"), "w") as f:
        json.dump(e, f, indent=2); f.write("\n")
