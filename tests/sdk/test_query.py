"""Query (issue 3), judged by the official SDK against an independent answer.

A known data set (gen_logs.py nginx, parsed into fields in Python) is put through the SDK; then
each query runs through `get_logs` / `get_histograms` / `get_context_logs`, and its answer is
compared with the same question answered here in plain Python over the parsed rows.
"""

import collections
import datetime
import os
import re
import subprocess
import sys

import pytest

from aliyun.log import GetHistogramsRequest, GetLogsRequest, LogException, LogItem, PutLogsRequest

PROJECT = "query-judge"
LOGSTORE = "nginx"
LINES = 20000
START = 1700000000
RATE = 50  # records per second of log time: 400 s of logs
GEN = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "testdata", "gen_logs.py")

LINE = re.compile(r'(\S+) - - \[([^\]]+)\] "(\S+) (\S+) HTTP/1.1" (\d+) (\d+) "([^"]*)" "([^"]*)" (\S+)')
DELIMS = re.compile(r"""[ \t\r\n,'";=()\[\]{}?@&<>/:]+""")
FROM, TO = START, START + LINES // RATE + 1


def tokens(text):
    return [t.lower() for t in DELIMS.split(text) if t]


def parse(line):
    ip, stamp, method, url, status, length, ref, browser, rt = LINE.match(line).groups()
    t = int(datetime.datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").timestamp())
    return {"time": t, "ip": ip, "method": method, "url": url, "status": status, "length": length,
            "ref_url": ref, "browser": browser, "request_time": rt}


@pytest.fixture(scope="module")
def data(make_client):
    out = subprocess.run([sys.executable, GEN, "--format", "nginx", "--lines", str(LINES), "--seed", "7",
                          "--start", str(START), "--rate", str(RATE)], check=True, capture_output=True, text=True)
    rows = [parse(line) for line in out.stdout.splitlines()]
    assert len(rows) == LINES
    client = make_client()
    client.create_project(PROJECT, "query judge")
    client.create_logstore(PROJECT, LOGSTORE, ttl=3650, shard_count=2)
    for batch_index, start in enumerate(range(0, LINES, 1000)):
        host = "web-1" if batch_index % 2 == 0 else "web-2"
        chunk = rows[start:start + 1000]
        for row in chunk:
            row["host"] = host
        items = [LogItem(timestamp=r["time"], contents=[(k, v) for k, v in r.items() if k not in ("time", "host")])
                 for r in chunk]
        client.put_logs(PutLogsRequest(PROJECT, LOGSTORE, "nginx", "10.0.0.9", items, logtags=[("host", host)]))
    return client, rows


def values(r):
    return [r[k] for k in ("ip", "method", "url", "status", "length", "ref_url", "browser", "request_time")] + \
        ["nginx", "10.0.0.9", r["host"]]


def any_token(r, pred):
    return any(pred(t) for v in values(r) for t in tokens(v))


def field_tokens(r, key):
    return tokens(r[key])


def phrase(tok, words):
    return any(tok[i:i + len(words)] == words for i in range(len(tok) - len(words) + 1))


NUM = lambda r, k: float(r[k])

COUNT_CASES = [
    ("*", lambda r: True),
    ("status:500", lambda r: r["status"] == "500"),
    ("status:404", lambda r: r["status"] == "404"),
    ("method:POST", lambda r: r["method"] == "POST"),
    ("GET", lambda r: any_token(r, lambda t: t == "get")),
    ("get", lambda r: any_token(r, lambda t: t == "get")),
    ("status:500 and method:GET", lambda r: r["status"] == "500" and r["method"] == "GET"),
    ("status:500 or status:502", lambda r: r["status"] in ("500", "502")),
    ("not status:200", lambda r: r["status"] != "200"),
    ("method:GET and not status:200", lambda r: r["method"] == "GET" and r["status"] != "200"),
    ("method:GET not status:200", lambda r: r["method"] == "GET" and r["status"] != "200"),
    ("url:/api/*", lambda r: any(t == "api" for t in field_tokens(r, "url")[:-1])),
    ("url:/api/v1/items", lambda r: phrase(field_tokens(r, "url"), ["api", "v1", "items"])),
    ("status in [400 499]", lambda r: 400 <= NUM(r, "status") <= 499),
    ("status in (400 499)", lambda r: 400 < NUM(r, "status") < 499),
    ("request_time > 0.1", lambda r: NUM(r, "request_time") > 0.1),
    ("request_time <= 0.01", lambda r: NUM(r, "request_time") <= 0.01),
    ("length >= 25000 and status:200", lambda r: NUM(r, "length") >= 25000 and r["status"] == "200"),
    ("browser:curl*", lambda r: any(t.startswith("curl") for t in field_tokens(r, "browser"))),
    ("us?rs", lambda r: any_token(r, lambda t: re.fullmatch(r"us.rs", t) is not None)),
    ('"Mozilla/5.0"', lambda r: any(phrase(tokens(v), ["mozilla", "5.0"]) for v in values(r))),
    ("__topic__:nginx", lambda r: True),
    ("__source__:10.0.0.9", lambda r: True),
    ("__tag__:host:web-1", lambda r: r["host"] == "web-1"),
    ("ref_url:example.com", lambda r: "example.com" in field_tokens(r, "ref_url")),
    ("search", lambda r: any_token(r, lambda t: t == "search")),
    ("term1*", lambda r: any_token(r, lambda t: t.startswith("term1"))),
    ("(status:500 or status:503) and method:DELETE", lambda r: r["status"] in ("500", "503") and r["method"] == "DELETE"),
    ("nosuchword", lambda r: False),
    ("status:500 and __tag__:host:web-2 and request_time > 0.05",
     lambda r: r["status"] == "500" and r["host"] == "web-2" and NUM(r, "request_time") > 0.05),
]


def run(client, query, **kwargs):
    request = GetLogsRequest(PROJECT, LOGSTORE, FROM, TO, query=query, **kwargs)
    return client.get_logs(request)


@pytest.mark.parametrize("query,pred", COUNT_CASES, ids=[c[0] for c in COUNT_CASES])
def test_search_counts_match_python(data, query, pred):
    client, rows = data
    expected = sum(1 for r in rows if pred(r))
    response = run(client, query + " | select count(*) as c")
    assert response.get_has_sql()
    got = int(response.get_logs()[0].get_contents()["c"])
    assert got == expected, query


def test_group_by_status(data):
    client, rows = data
    expected = collections.Counter(r["status"] for r in rows)
    response = run(client, "* | select status, count(*) as pv group by status order by pv desc, status limit 100")
    got = {log.get_contents()["status"]: int(log.get_contents()["pv"]) for log in response.get_logs()}
    assert got == dict(expected)
    counts = [int(log.get_contents()["pv"]) for log in response.get_logs()]
    assert counts == sorted(counts, reverse=True)


def test_per_minute_buckets_and_aggregates(data):
    client, rows = data
    expected = collections.Counter(r["time"] - r["time"] % 60 for r in rows)
    response = run(client, "* | select __time__ - __time__ % 60 as t, count(*) as c group by t order by t")
    got = {int(log.get_contents()["t"]): int(log.get_contents()["c"]) for log in response.get_logs()}
    assert got == dict(expected)

    response = run(client, "method:POST | select count(distinct ip) as d, max(cast(request_time as double)) as m, "
                           "avg(cast(length as bigint)) as a")
    contents = response.get_logs()[0].get_contents()
    posts = [r for r in rows if r["method"] == "POST"]
    assert int(contents["d"]) == len({r["ip"] for r in posts})
    assert float(contents["m"]) == max(float(r["request_time"]) for r in posts)
    assert abs(float(contents["a"]) - sum(int(r["length"]) for r in posts) / len(posts)) < 1e-6

    response = run(client, "* | select status, count(*) as c group by status having count(*) > 500 order by status")
    got = [(log.get_contents()["status"], int(log.get_contents()["c"])) for log in response.get_logs()]
    want = sorted((s, c) for s, c in collections.Counter(r["status"] for r in rows).items() if c > 500)
    assert got == want

    response = run(client, "* | select approx_distinct(url) as u")
    exact = len({r["url"] for r in rows})
    assert abs(int(response.get_logs()[0].get_contents()["u"]) - exact) <= exact * 0.05

    response = run(client, "status:404 | select method, count(*) as c group by method order by c desc limit 2")
    assert len(response.get_logs()) == 2


def test_paging_a_search_returns_every_hit_in_time_order(data):
    client, rows = data
    expected = sorted(r["time"] for r in rows if r["status"] == "503")
    seen = []
    offset = 0
    while True:
        response = run(client, "status:503", line=100, offset=offset)
        page = response.get_logs()
        if not page:
            break
        for log in page:
            assert log.get_contents()["status"] == "503"
            seen.append(int(log.get_time()))
        offset += len(page)
    assert seen == expected
    newest_first = run(client, "status:503", line=10, reverse=True).get_logs()
    assert [int(log.get_time()) for log in newest_first] == expected[::-1][:10]


def test_histogram_matches_python_buckets(data):
    client, rows = data
    response = client.get_histograms(GetHistogramsRequest(PROJECT, LOGSTORE, FROM, TO, query="status:404"))
    buckets = response.get_histograms()
    assert buckets and all(b.is_completed() for b in buckets)
    for bucket in buckets:
        want = sum(1 for r in rows if r["status"] == "404" and bucket.get_from() <= r["time"] < bucket.get_to())
        assert bucket.get_count() == want
    assert response.get_total_count() == sum(1 for r in rows if r["status"] == "404")


def test_context_of_a_hit(data):
    client, rows = data
    hit = run(client, "status:500", line=1, offset=3).get_logs()[0]
    contents = hit.get_contents()
    pack_meta, pack_id = contents["__pack_meta__"], contents["__tag__:__pack_id__"]
    context = client.get_context_logs(PROJECT, LOGSTORE, pack_id, pack_meta, 5, 5)
    logs = context.get_logs()
    assert context.get_total_lines() == len(logs) == 11
    middle = logs[5].get_contents()
    assert middle["__pack_meta__"] == pack_meta and middle["ip"] == contents["ip"]
    assert [log.get_contents()["__index_number__"] for log in logs] == [str(i) for i in range(-5, 6)]


@pytest.mark.parametrize("query,needle", [
    ("status:", "column"),
    ("(status:500", "never closed"),
    ("* | select nosuchcolumn", "nosuchcolumn"),
    ("* | selec count(*)", "SQL"),
    ("* | delete from log", "SELECT"),
])
def test_bad_queries_say_what_is_wrong(data, query, needle):
    client, _ = data
    with pytest.raises(LogException) as caught:
        run(client, query)
    assert caught.value.get_error_code() == "ParameterInvalid"
    assert needle in caught.value.get_error_message()


def test_bad_ranges_and_lines(data):
    client, _ = data
    with pytest.raises(LogException) as caught:
        client.get_logs(GetLogsRequest(PROJECT, LOGSTORE, TO, FROM, query="*"))
    assert "from" in caught.value.get_error_message()
    with pytest.raises(LogException) as caught:
        client.get_log(PROJECT, LOGSTORE, FROM, TO, query="status:500", size=50, offset=-1)
    assert caught.value.get_error_code() == "ParameterInvalid"
