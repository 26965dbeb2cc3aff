//! Shipping throughput per core, against DuckDB writing the same rows to Parquet in the same run.
//!
//! `cargo bench -p logport-shipper --features local --bench ship` (size with
//! `LOGPORT_BENCH_SIZE`, default 1G; DuckDB from `LOGPORT_BENCH_PYTHON`, default `.venv/bin/python`
//! as `tests/sdk/run.sh` creates it): generates nginx access logs with
//! `../shared/testdata/gen_logs.py`, parses each line into 10 fields, ingests them into an engine
//! on the embedded store (2 shards; not timed) with two rules created first (Parquet + snappy with
//! 10 typed columns, and JSON + snappy), then times a flush of each rule: pull from the store,
//! decode, encode, compress, write the objects. Throughput is rows per second of this process's
//! CPU time (user + system, every thread), so it is per core. The peer is DuckDB on the same
//! rows: `COPY t TO ... (FORMAT parquet, COMPRESSION snappy)` from an in-memory table, and the same
//! COPY from the CSV file (parse + write), each per second of DuckDB's process CPU time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use logport_core::engine::{Batch, Engine, LogstoreSettings, ProjectSettings, ShardTarget};
use logport_core::model::{Content, Log, LogGroup};
use logport_shipper::{DirectoryBuckets, Shipper};
use logport_store_local::LocalStore;
use serde_json::json;

const BATCH_RAW_BYTES: usize = 2 << 20;
const SHARDS: u32 = 2;
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// The 10 columns: name, Parquet type, DuckDB type.
const COLUMNS: [(&str, &str, &str); 10] = [
    ("__time__", "int64", "BIGINT"),
    ("ip", "string", "VARCHAR"),
    ("time_local", "string", "VARCHAR"),
    ("method", "string", "VARCHAR"),
    ("url", "string", "VARCHAR"),
    ("status", "int32", "INTEGER"),
    ("length", "int64", "BIGINT"),
    ("ref_url", "string", "VARCHAR"),
    ("browser", "string", "VARCHAR"),
    ("request_time", "double", "DOUBLE"),
];

fn main() {
    let size = std::env::var("LOGPORT_BENCH_SIZE").unwrap_or_else(|_| "1G".into());
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = std::env::temp_dir().join("logport-bench-shipper");
    std::fs::create_dir_all(&work).unwrap();
    let log_path = work.join(format!("nginx-{size}.log"));
    if !log_path.exists() {
        let generator = repo.join("../shared/testdata/gen_logs.py");
        let out = std::fs::File::create(&log_path).unwrap();
        let status = Command::new("python3")
            .arg(&generator)
            .args(["--format", "nginx", "--size", &size, "--seed", "1"])
            .stdout(out)
            .status()
            .unwrap();
        assert!(status.success(), "gen_logs.py failed");
    }
    let raw = std::fs::read_to_string(&log_path).unwrap();
    let rows: Vec<[String; 10]> = raw.lines().map(parse).collect();
    println!("input: {} MB of nginx logs, {} rows, 10 fields each", raw.len() >> 20, rows.len());

    // DuckDB's input: the same rows as CSV (not timed).
    let csv_path = work.join(format!("rows-{size}.csv"));
    if !csv_path.exists() {
        let mut writer = csv::Writer::from_path(&csv_path).unwrap();
        writer.write_record(COLUMNS.iter().map(|c| c.0)).unwrap();
        for row in &rows {
            writer.write_record(row).unwrap();
        }
        writer.flush().unwrap();
    }

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (parquet_rate, json_rate) = runtime.block_on(ship(&work, &rows));
    drop(rows);
    drop(raw);

    let python =
        std::env::var("LOGPORT_BENCH_PYTHON").map(PathBuf::from).unwrap_or_else(|_| repo.join(".venv/bin/python"));
    let peer = duckdb_peer(&python, &csv_path, &work);
    println!();
    println!("| measure | rows/s per core |");
    println!("|---|---|");
    println!("| logport shipper: Parquet + snappy, 10 typed columns | {parquet_rate:.0} |");
    println!("| logport shipper: JSON + snappy | {json_rate:.0} |");
    println!("| DuckDB COPY table -> Parquet snappy | {:.0} |", peer.0);
    println!("| DuckDB COPY read_csv -> Parquet snappy | {:.0} |", peer.1);
    println!("ratio Parquet shipper / DuckDB from table: {:.2}", parquet_rate / peer.0);
    println!("ratio Parquet shipper / DuckDB from CSV:   {:.2}", parquet_rate / peer.1);
    println!("ratio JSON shipper / DuckDB from table:    {:.2}", json_rate / peer.0);
}

/// One nginx combined line (gen_logs.py's format) into the 10 fields, `__time__` first.
fn parse(line: &str) -> [String; 10] {
    let (ip, rest) = line.split_once(" - - [").expect("ip");
    let (time_local, rest) = rest.split_once("] \"").expect("time");
    let (request, rest) = rest.split_once("\" ").expect("request");
    let mut request = request.splitn(3, ' ');
    let (method, url) = (request.next().unwrap(), request.next().unwrap());
    let (status, rest) = rest.split_once(' ').unwrap();
    let (length, rest) = rest.split_once(" \"").unwrap();
    let (ref_url, rest) = rest.split_once("\" \"").unwrap();
    let (browser, request_time) = rest.rsplit_once("\" ").unwrap();
    [
        unix_time(time_local).to_string(),
        ip.into(),
        time_local.into(),
        method.into(),
        url.into(),
        status.into(),
        length.into(),
        ref_url.into(),
        browser.into(),
        request_time.into(),
    ]
}

/// `22/Nov/2026:09:00:00 +0000` -> unix seconds (UTC).
fn unix_time(text: &str) -> i64 {
    let day: i64 = text[0..2].parse().unwrap();
    let month = MONTHS.iter().position(|m| *m == &text[3..6]).unwrap() as i64 + 1;
    let year: i64 = text[7..11].parse().unwrap();
    let (hour, minute, second): (i64, i64, i64) =
        (text[12..14].parse().unwrap(), text[15..17].parse().unwrap(), text[18..20].parse().unwrap());
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hour * 3600 + minute * 60 + second
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

async fn ship(work: &Path, rows: &[[String; 10]]) -> (f64, f64) {
    let data = work.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let store = LocalStore::open(&data.join("store")).unwrap();
    let meta = store.meta.clone();
    let engine = Arc::new(Engine::new(store.objects, store.meta));
    engine.create_project("bench", ProjectSettings::default()).await.unwrap();
    let settings = LogstoreSettings { shard_count: SHARDS, ttl: 3650, ..Default::default() };
    engine.create_logstore("bench", "nginx", settings).await.unwrap();
    let buckets = data.join("buckets");
    std::fs::create_dir_all(buckets.join("lake")).unwrap();
    let shipper = Shipper::new(engine.clone(), meta, Arc::new(DirectoryBuckets::new(&buckets)));
    let columns: Vec<_> = COLUMNS.iter().map(|(name, kind, _)| json!({"name": name, "type": kind})).collect();
    for (name, storage) in
        [("parquet", json!({"format": "parquet", "detail": {"columns": columns}})), ("json", json!({"format": "json"}))]
    {
        let rule = json!({"shipperName": format!("bench-{name}"), "targetConfiguration": {"ossBucket": "lake",
            "ossPrefix": name, "bufferSize": 256, "compressType": "snappy", "storage": storage}});
        shipper.create_rule("bench", "nginx", &rule).await.unwrap();
    }

    // Ingest (not timed): ~2 MB log groups, round robin over the shards.
    let started = Instant::now();
    let mut group = LogGroup { topic: Some("nginx".into()), source: Some("10.0.0.1".into()), ..Default::default() };
    let mut group_bytes = 0usize;
    let mut batches = 0u32;
    for row in rows {
        let time: u32 = row[0].parse().unwrap();
        let contents = COLUMNS[1..]
            .iter()
            .zip(&row[1..])
            .map(|((key, _, _), value)| Content { key: (*key).into(), value: value.clone() })
            .collect();
        group_bytes += row.iter().map(String::len).sum::<usize>() + 60;
        group.logs.push(Log { time, contents, time_ns: None });
        if group_bytes >= BATCH_RAW_BYTES {
            put(&engine, &mut group, batches % SHARDS).await;
            batches += 1;
            group_bytes = 0;
        }
    }
    if !group.logs.is_empty() {
        put(&engine, &mut group, batches % SHARDS).await;
    }
    println!("ingested in {:.1} s (not timed)", started.elapsed().as_secs_f64());

    let mut rates = Vec::new();
    for name in ["parquet", "json"] {
        let cpu = cpu_seconds();
        let started = Instant::now();
        let report = shipper.flush("bench", "nginx", &format!("bench-{name}")).await.unwrap();
        let (wall, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        if report.tasks_failed > 0 {
            let filter = logport_shipper::TaskFilter { from: 0, to: i64::MAX / 2, status: None, offset: 0, size: 100 };
            let page = shipper.tasks("bench", "nginx", &format!("bench-{name}"), filter).await.unwrap();
            for task in page.tasks.iter().filter(|t| !t.error_code.is_empty()) {
                eprintln!("task {} failed: {}: {}", task.id, task.error_code, task.error_message);
            }
        }
        assert_eq!(report.lines_shipped, rows.len() as u64, "{report:?}");
        assert_eq!(report.tasks_failed, 0);
        let bytes: u64 = walk(&buckets.join("lake").join(name));
        println!(
            "{name} + snappy: {} rows in {} tasks, {wall:.1} s wall, {cpu:.1} s CPU -> {:.0} rows/s per core; {} MB written",
            report.lines_shipped,
            report.tasks_run,
            report.lines_shipped as f64 / cpu,
            bytes >> 20
        );
        rates.push(report.lines_shipped as f64 / cpu);
    }
    (rates[0], rates[1])
}

async fn put(engine: &Engine, group: &mut LogGroup, shard: u32) {
    let batch = Batch::from_groups(std::slice::from_ref(group)).unwrap();
    engine.put_logs("bench", "nginx", ShardTarget::Shard(shard), batch, None).await.unwrap();
    group.logs.clear();
}

fn walk(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        total += if entry.path().is_dir() { walk(&entry.path()) } else { entry.metadata().unwrap().len() };
    }
    total
}

/// DuckDB's rows per CPU-second: (COPY from an in-memory table, COPY from the CSV file).
fn duckdb_peer(python: &Path, csv_path: &Path, work: &Path) -> (f64, f64) {
    let types: Vec<String> = COLUMNS.iter().map(|(name, _, kind)| format!("'{name}': '{kind}'")).collect();
    let script = format!(
        r#"
import duckdb, time, sys
csv_path, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
read = "read_csv('%s', header=true, columns={{{types}}})" % csv_path
con.execute("CREATE TABLE t AS SELECT * FROM " + read)
rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
def timed(sql):
    cpu, wall = time.process_time(), time.perf_counter()
    con.execute(sql)
    return rows / (time.process_time() - cpu), time.perf_counter() - wall
table_rate, table_wall = timed("COPY t TO '%s/duck-table.parquet' (FORMAT parquet, COMPRESSION snappy)" % out)
csv_rate, csv_wall = timed("COPY (SELECT * FROM " + read + ") TO '%s/duck-csv.parquet' (FORMAT parquet, COMPRESSION snappy)" % out)
threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
print("duckdb %s, %d threads: %d rows; from table %.1f s wall; from csv %.1f s wall" % (duckdb.__version__, threads, rows, table_wall, csv_wall), file=sys.stderr)
print(table_rate, csv_rate)
"#,
        types = types.join(", ")
    );
    let output = Command::new(python).args(["-c", &script]).arg(csv_path).arg(work).output().unwrap_or_else(|error| {
        panic!("running {} (run tests/sdk/run.sh once to create the venv): {error}", python.display())
    });
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the DuckDB peer failed");
    let text = String::from_utf8(output.stdout).unwrap();
    let last = text.lines().last().unwrap_or_default();
    let mut rates = last.split_whitespace().map(|value| value.parse::<f64>().unwrap());
    (rates.next().unwrap(), rates.next().unwrap())
}
