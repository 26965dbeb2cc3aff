"""Shipper (issue 4), judged by real readers and the official SDK.

Rules are created, listed and read with the SDK's shipper calls; logs are put with the SDK; the
shipped objects under `<data-dir>/buckets/<bucket>/` are then opened by the readers users have:
pyarrow and DuckDB for Parquet (schema, nulls where conversion failed, the snappy page codec,
Hive partitions as columns), Python's `csv` with the configured dialect, and python-snappy's
`snappy.uncompress` for the raw snappy block of JSON and CSV objects. Rows shipped = rows put,
none twice. Failed tasks are listed and retried with the SDK.

"Flush now" is Logport's extension (`POST .../shipper/{name}?type=flush`), sent through the SDK's
own signing code so the judge needs no second client.
"""

import csv
import datetime
import glob
import io
import json
import os
import time

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import snappy

from aliyun.log import LogException, LogItem, PutLogsRequest

# Through the Lambda functions (logport-lambda-local) these calls reach the shipper function, which
# ships to directories under the data directory there too (deployed, to S3 buckets).

PROJECT = "ship-judge"
LOGSTORE = "web"
ROWS = 600
START = 1763800000


def rows():
    """Rows with typed-looking values; every 7th has values that do not convert."""
    out = []
    for i in range(ROWS):
        bad = i % 7 == 3
        out.append({
            "seq": str(i),
            "ip": "10.0.%d.%d" % (i // 250, i % 250),
            "status": "oops" if bad else str([200, 404, 500][i % 3]),
            "length": "1e99" if bad else str(i * 13),
            "request_time": "fast" if bad else "%.3f" % (i / 1000),
            "ok": "perhaps" if bad else ("true" if i % 2 else "false"),
            "url": '/p/%d?q="a;b",\'c\'' % i if i % 5 == 0 else "/p/%d" % i,
        })
    return out


@pytest.fixture(scope="module")
def shipper(logport, make_client):
    client = make_client()
    client.create_project(PROJECT, "shipper judge")
    client.create_logstore(PROJECT, LOGSTORE, ttl=30, shard_count=2)
    return client


def bucket_dir(logport, bucket, create=True):
    path = os.path.join(logport.data_dir, "buckets", bucket)
    if create:
        os.makedirs(path, exist_ok=True)
    return path


def rule(name, bucket, storage, compress="snappy", path_format="%Y/%m/%d/%H/%M"):
    return {"shipperName": name, "targetType": "oss", "targetConfiguration": {
        "ossBucket": bucket, "ossPrefix": "ship/" + name, "roleArn": "acs:ram::1:role/logport",
        "bufferInterval": 300, "bufferSize": 256, "compressType": compress, "pathFormat": path_format,
        "storage": storage}}


def put_rows(client, data):
    for start in range(0, len(data), 100):
        items = [LogItem(timestamp=START + start + j, contents=list(row.items()))
                 for j, row in enumerate(data[start:start + 100])]
        client.put_logs(PutLogsRequest(PROJECT, LOGSTORE, "nginx", "10.9.9.9", items, logtags=[("host", "web-1")]))


def flush(client, name):
    resource = "/logstores/%s/shipper/%s" % (LOGSTORE, name)
    resp, _ = client._send("POST", PROJECT, b"", resource, {"type": "flush"}, {})
    return resp


def shipped(logport, bucket, suffix):
    return sorted(glob.glob(os.path.join(bucket_dir(logport, bucket, create=False), "**", "*" + suffix),
                            recursive=True))


def test_sdk_shipper_calls(shipper, logport):
    bucket_dir(logport, "sdk-bucket")
    shipper.create_shipper(PROJECT, LOGSTORE, rule("sdk-json", "sdk-bucket", {"format": "json"}))
    names = shipper.list_shipper(PROJECT, LOGSTORE).get_entities()
    assert "sdk-json" in names
    got = shipper.get_shipper(PROJECT, LOGSTORE, "sdk-json").get_body()
    assert got["targetConfiguration"]["ossBucket"] == "sdk-bucket"
    assert got["targetConfiguration"]["compressType"] == "snappy"
    updated = rule("sdk-json", "sdk-bucket", {"format": "json"})
    updated["targetConfiguration"]["bufferInterval"] = 900
    shipper.update_shipper(PROJECT, LOGSTORE, updated)
    got = shipper.get_shipper(PROJECT, LOGSTORE, "sdk-json").get_body()
    assert got["targetConfiguration"]["bufferInterval"] == 900
    with pytest.raises(LogException) as refused:
        shipper.create_shipper(PROJECT, LOGSTORE, rule("sdk-bad", "sdk-bucket", {"format": "json"}, compress="lz4"))
    assert refused.value.get_error_code() == "ParameterInvalid"
    with pytest.raises(LogException) as missing:
        shipper.get_shipper(PROJECT, LOGSTORE, "nope")
    assert missing.value.get_error_code() == "ShipperNotExist"
    now = int(time.time())
    tasks = shipper.get_shipper_tasks(PROJECT, LOGSTORE, "sdk-json", now - 3600, now + 60)
    assert tasks.get_count() == 0
    shipper.delete_shipper(PROJECT, LOGSTORE, "sdk-json")
    assert "sdk-json" not in shipper.list_shipper(PROJECT, LOGSTORE).get_entities()


def test_parquet_judged_by_pyarrow_and_duckdb(shipper, logport):
    bucket_dir(logport, "lake")
    columns = [
        {"name": "__time__", "type": "int64"}, {"name": "seq", "type": "int64"}, {"name": "ip", "type": "string"},
        {"name": "status", "type": "int32"}, {"name": "length", "type": "int64"},
        {"name": "request_time", "type": "double"}, {"name": "ok", "type": "boolean"},
        {"name": "__topic__", "type": "string"}, {"name": "__tag__:host", "type": "string"},
        {"name": "absent", "type": "float"},
    ]
    shipper.create_shipper(PROJECT, LOGSTORE, rule("pq-ship", "lake", {"format": "parquet", "detail": {"columns": columns}},
                                                   path_format="year=%Y/mon=%m/day=%d/%H%M"))
    data = rows()
    put_rows(shipper, data)
    report = flush(shipper, "pq-ship")
    assert report["linesShipped"] == ROWS and report["tasksFailed"] == 0, report

    files = shipped(logport, "lake", ".snappy.parquet")
    assert len(files) == 2, files  # one task per shard
    expected_schema = pa.schema([
        ("__time__", pa.int64()), ("seq", pa.int64()), ("ip", pa.string()), ("status", pa.int32()),
        ("length", pa.int64()), ("request_time", pa.float64()), ("ok", pa.bool_()), ("__topic__", pa.string()),
        ("__tag__:host", pa.string()), ("absent", pa.float32()),
    ])
    by_seq = {}
    for path in files:
        parquet = pq.ParquetFile(path)
        assert parquet.schema_arrow.equals(expected_schema, check_metadata=False), parquet.schema_arrow
        for group in range(parquet.metadata.num_row_groups):
            for column in range(parquet.metadata.num_columns):
                assert parquet.metadata.row_group(group).column(column).compression == "SNAPPY"
        for row in parquet.read().to_pylist():
            assert row["seq"] not in by_seq, "shipped twice"
            by_seq[row["seq"]] = row
    assert sorted(by_seq) == list(range(ROWS))
    for i, source in enumerate(data):
        row = by_seq[i]
        bad = i % 7 == 3
        assert row["__time__"] == START + i
        assert row["ip"] == source["ip"]
        assert row["status"] == (None if bad else int(source["status"]))
        assert row["length"] == (None if bad else int(source["length"]))
        assert row["request_time"] == (None if bad else float(source["request_time"]))
        assert row["ok"] == (None if bad else source["ok"] == "true")
        assert (row["__topic__"], row["__tag__:host"], row["absent"]) == ("nginx", "web-1", None)

    # DuckDB reads the same files, with the Hive partitions (year=/mon=/day=) as columns.
    glob_path = os.path.join(bucket_dir(logport, "lake"), "ship", "pq-ship", "**", "*.parquet")
    con = duckdb.connect()
    count, distinct, nulls, years, months, days = con.execute(
        "SELECT count(*), count(DISTINCT seq), count(*) - count(status), min(year), min(mon), min(day) "
        "FROM read_parquet(?, hive_partitioning = true)", [glob_path]).fetchone()
    today = datetime.datetime.now(datetime.timezone.utc)
    assert (count, distinct) == (ROWS, ROWS)
    assert nulls == len([i for i in range(ROWS) if i % 7 == 3])
    assert int(years) in (today.year, today.year - 1) and 1 <= int(months) <= 12 and 1 <= int(days) <= 31
    names = [d[0] for d in con.execute("DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = true)",
                                       [glob_path]).fetchall()]
    assert {"year", "mon", "day", "status", "request_time"} <= set(names), names


def test_csv_judged_by_python_csv(shipper, logport):
    bucket_dir(logport, "csv-bucket")
    detail = {"columns": ["__time__", "seq", "url", "status", "__source__", "absent"], "delimiter": ";",
              "quote": "'", "nullIdentifier": "NULL", "header": True, "lineFeed": "\n"}
    shipper.create_shipper(PROJECT, LOGSTORE, rule("csv-ship", "csv-bucket", {"format": "csv", "detail": detail}))
    data = rows()
    put_rows(shipper, data)
    flush(shipper, "csv-ship")
    files = shipped(logport, "csv-bucket", ".snappy.csv")
    assert len(files) == 2, files
    seen = {}
    for path in files:
        with open(path, "rb") as f:
            text = snappy.uncompress(f.read()).decode("utf-8")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=";", quotechar="'", doublequote=True)
        header = next(reader)
        assert header == detail["columns"]
        for record in reader:
            time_text, seq, url, status, source, absent = record
            assert seq not in seen, "shipped twice"
            seen[seq] = (int(time_text), url, status, source, absent)
    assert len(seen) == ROWS
    for i, source in enumerate(data):
        assert seen[str(i)] == (START + i, source["url"], source["status"], "10.9.9.9", "NULL")


def test_json_snappy_opens_with_snappy_uncompress(shipper, logport):
    bucket_dir(logport, "json-bucket")
    shipper.create_shipper(PROJECT, LOGSTORE, rule("json-ship", "json-bucket",
                                                   {"format": "json", "detail": {"enableTag": True}}))
    data = rows()
    put_rows(shipper, data)
    flush(shipper, "json-ship")
    files = [f for f in shipped(logport, "json-bucket", ".snappy")]
    assert len(files) == 2, files
    seen = {}
    for path in files:
        with open(path, "rb") as f:
            lines = snappy.uncompress(f.read()).decode("utf-8").splitlines()
        for line in lines:
            obj = json.loads(line)
            assert obj["seq"] not in seen
            seen[obj["seq"]] = obj
    assert len(seen) == ROWS
    first = seen["0"]
    assert first["__time__"] == START and first["__topic__"] == "nginx" and first["__source__"] == "10.9.9.9"
    assert first["__tag__:host"] == "web-1"
    assert {k: first[k] for k in data[0]} == data[0]


def test_failed_task_is_listed_and_retried_with_the_sdk(shipper, logport):
    shipper.create_shipper(PROJECT, LOGSTORE, rule("late", "late-bucket", {"format": "json"}, compress="none"))
    put_rows(shipper, rows()[:50])
    report = flush(shipper, "late")
    assert report["tasksFailed"] >= 1, report
    now = int(time.time())
    failed = shipper.get_shipper_tasks(PROJECT, LOGSTORE, "late", now - 3600, now + 60, status_type="fail")
    assert failed.get_fail_task_count() == failed.get_count() >= 1
    ids = [task.task_id for task in failed.tasks]
    assert all("InvalidOssBucket" in task.task_message for task in failed.tasks)

    bucket_dir(logport, "late-bucket")  # the bucket now exists
    shipper.retry_shipper_tasks(PROJECT, LOGSTORE, "late", ids)
    deadline = time.time() + 30
    while True:
        tasks = shipper.get_shipper_tasks(PROJECT, LOGSTORE, "late", now - 3600, now + 60)
        if tasks.get_success_task_count() == len(ids):
            break
        assert time.time() < deadline, [t.to_json() for t in tasks.tasks]
        time.sleep(0.2)
    lines = []
    for path in glob.glob(os.path.join(bucket_dir(logport, "late-bucket"), "**", "*_*"), recursive=True):
        if os.path.isfile(path):
            with open(path) as f:
                lines.extend(json.loads(line)["seq"] for line in f)
    assert sorted(lines, key=int) == [str(i) for i in range(50)]
