//! Query latency of a real `logport up` against ripgrep and DuckDB, in the same run.
//!
//! `cargo bench -p logport --bench query` (size with `LOGPORT_BENCH_SIZE`, default 1G; the peers
//! come from `infra/bench-tools.sh`, which the bench runs: ripgrep from Debian, DuckDB from PyPI
//! in the project venv): generates nginx access logs with `../shared/testdata/gen_logs.py`,
//! parses each line into fields (ip, method, url, status, length, ref_url, browser,
//! request_time; the log time from the line's place, as the generator writes it), ingests them
//! as 2 MB PutLogs batches, and writes the same rows as Parquet with DuckDB (not timed). Then,
//! best of five warm runs each:
//!
//! - (a) a rare keyword: `term12345 | select count(*)` vs `rg -c term12345` over the raw file;
//! - (b) `status:500 | select count(*)` vs `rg -c '" 500 '` over the raw file;
//! - (c) `* | select status, count(*) group by status` vs DuckDB over the Parquet file;
//! - (d) a per-minute histogram (`type=histogram`, interval 60) vs DuckDB's
//!   `group by __time__ - __time__ % 60` over the Parquet file.
//!
//! Every answer is checked against the peer's before it is timed. Times are wall clock of the
//! whole call (HTTP and JSON included for Logport; process start included for ripgrep; one
//! `execute + fetchall` inside one Python process for DuckDB, which uses both cores as the
//! server does).

mod common;

use common::{dir_size, generate, setup, start_server};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use logport_core::codec::Compression;
use logport_core::model::{Content, Log, LogGroup};
use prost::Message;
use serde_json::Value;

const BATCH_RAW_BYTES: usize = 2 << 20;
const RUNS: usize = 5;
const START: u32 = 1_700_000_000;
const RARE: &str = "term12345";
const FIELDS: [&str; 8] = ["ip", "method", "url", "status", "length", "ref_url", "browser", "request_time"];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tools = Command::new("bash").arg(root.join("infra/bench-tools.sh")).output().unwrap();
    assert!(tools.status.success(), "infra/bench-tools.sh: {}", String::from_utf8_lossy(&tools.stderr));
    let python = String::from_utf8(tools.stdout).unwrap().trim().to_owned();

    let size = std::env::var("LOGPORT_BENCH_SIZE").unwrap_or_else(|_| "1G".into());
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench");
    std::fs::create_dir_all(&work).unwrap();
    let log_path = work.join(format!("nginx-{size}.log"));
    if !log_path.exists() {
        generate(&log_path, &size);
    }
    let raw = std::fs::read(&log_path).unwrap();
    let text = std::str::from_utf8(&raw).unwrap();
    let rows: Vec<[&str; 8]> = text.lines().map(parse).collect();
    let last_time = START + (rows.len() as u32 - 1) / 1000;
    println!("input: {} MB of nginx logs, {} lines, parsed into {} fields", raw.len() >> 20, rows.len(), FIELDS.len());

    // The same rows for DuckDB, as Parquet (a TSV first; neither step is timed).
    let parquet = work.join(format!("nginx-{size}.parquet"));
    if !parquet.exists() {
        let tsv = work.join("rows.tsv");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tsv).unwrap());
        writeln!(out, "__time__\t{}", FIELDS.join("\t")).unwrap();
        for (index, row) in rows.iter().enumerate() {
            writeln!(out, "{}\t{}", START + index as u32 / 1000, row.join("\t")).unwrap();
        }
        out.flush().unwrap();
        drop(out);
        let columns = std::iter::once("'__time__': 'BIGINT'".to_owned())
            .chain(FIELDS.iter().map(|field| format!("'{field}': 'VARCHAR'")))
            .collect::<Vec<_>>()
            .join(", ");
        let script = format!(
            "import duckdb; duckdb.sql(\"COPY (SELECT * FROM read_csv('{}', delim='\\t', header=true, quote='', \
             escape='', columns={{{columns}}})) TO '{}' (FORMAT parquet)\")",
            tsv.display(),
            parquet.display()
        );
        let status = Command::new(&python).args(["-c", &script]).status().unwrap();
        assert!(status.success(), "DuckDB writes the Parquet file");
        std::fs::remove_file(&tsv).unwrap();
    }

    let data_dir = work.join("query-data");
    let _ = std::fs::remove_dir_all(&data_dir);
    let mut server = start_server(&data_dir);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let base = format!("http://{}", server.1);
    setup(&agent, &base);
    let started = Instant::now();
    ingest(&agent, &base, &rows);
    println!(
        "ingested in {:.1} s; stored: {} MB (raw log {} MB)",
        started.elapsed().as_secs_f64(),
        dir_size(&data_dir) >> 20,
        raw.len() >> 20
    );
    drop(rows);

    let (from, to) = (i64::from(START), i64::from(last_time) + 1);
    let count = |query: &str| -> u64 {
        let body = get_logs(&agent, &base, from, to, query);
        if std::env::var_os("LOGPORT_BENCH_VERBOSE").is_some() {
            println!("{query}: {}", body["meta"]);
        }
        body["data"][0]["c"].as_str().unwrap().parse().unwrap()
    };
    let rg = |pattern: &str| -> u64 {
        let output = Command::new("rg").args(["-c", "--", pattern]).arg(&log_path).output().unwrap();
        String::from_utf8(output.stdout).unwrap().trim().parse().unwrap()
    };
    let duck = |sql: &str| -> (Vec<(String, u64)>, f64) {
        let script = format!(
            "import duckdb, time, sys\n\
             con = duckdb.connect()\n\
             con.execute(\"CREATE VIEW log AS SELECT * FROM read_parquet('{}')\")\n\
             best = None\n\
             for _ in range({RUNS}):\n    \
                 t = time.perf_counter(); rows = con.execute(\"{sql}\").fetchall(); t = time.perf_counter() - t\n    \
                 best = t if best is None else min(best, t)\n\
             for k, v in rows: print(f'{{k}}\\t{{v}}')\n\
             print(f'BEST\\t{{best}}')\n",
            parquet.display()
        );
        let output = Command::new(&python).args(["-c", &script]).output().unwrap();
        assert!(output.status.success(), "duckdb: {}", String::from_utf8_lossy(&output.stderr));
        let text = String::from_utf8(output.stdout).unwrap();
        let mut rows = Vec::new();
        let mut best = 0.0;
        for line in text.lines() {
            let (key, value) = line.split_once('\t').unwrap();
            if key == "BEST" {
                best = value.parse().unwrap();
            } else {
                rows.push((key.to_owned(), value.parse().unwrap()));
            }
        }
        rows.sort();
        (rows, best)
    };

    let mut table = Vec::new();
    // (a) and (b): counts against ripgrep over the raw file.
    for (name, query, pattern) in [
        ("(a) rare keyword count", format!("{RARE} | select count(*) as c"), RARE.to_owned()),
        ("(b) status:500 count", "status:500 | select count(*) as c".to_owned(), "\" 500 ".to_owned()),
    ] {
        let ours = count(&query);
        let theirs = rg(&pattern);
        assert_eq!(ours, theirs, "{name}: logport and rg agree");
        let ours_secs = best_of(|| {
            count(&query);
        });
        let theirs_secs = best_of(|| {
            rg(&pattern);
        });
        table.push((name, ours, ours_secs, "rg -c", theirs_secs));
    }
    // (c): group by status against DuckDB.
    let query = "* | select status, count(*) as c group by status";
    let group_by = |body: &Value| -> Vec<(String, u64)> {
        let mut rows: Vec<(String, u64)> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| (row["status"].as_str().unwrap().to_owned(), row["c"].as_str().unwrap().parse().unwrap()))
            .collect();
        rows.sort();
        rows
    };
    let ours = group_by(&get_logs(&agent, &base, from, to, query));
    let (theirs, duck_secs) = duck("SELECT status, count(*) FROM log GROUP BY status");
    assert_eq!(ours, theirs, "(c): logport and DuckDB agree");
    let ours_secs = best_of(|| {
        get_logs(&agent, &base, from, to, query);
    });
    table.push(("(c) group by status", ours.len() as u64, ours_secs, "DuckDB", duck_secs));
    // (d): per-minute histogram against DuckDB.
    let histogram = || -> Vec<(String, u64)> {
        let mut response = agent
            .get(format!("{base}/logstores/bench?type=histogram&from={}&to={to}&query=*&interval=60", from - from % 60))
            .header("x-log-project", "bench")
            .call()
            .unwrap();
        let body: Value = serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
        let mut rows: Vec<(String, u64)> = body
            .as_array()
            .unwrap()
            .iter()
            .filter(|bucket| bucket["count"].as_u64().unwrap() > 0)
            .map(|bucket| (bucket["from"].as_i64().unwrap().to_string(), bucket["count"].as_u64().unwrap()))
            .collect();
        rows.sort();
        rows
    };
    let ours = histogram();
    let (theirs, duck_secs) = duck("SELECT __time__ - __time__ % 60 AS t, count(*) FROM log GROUP BY t");
    assert_eq!(ours, theirs, "(d): logport and DuckDB agree");
    let ours_secs = best_of(|| {
        histogram();
    });
    table.push(("(d) per-minute histogram", ours.len() as u64, ours_secs, "DuckDB", duck_secs));

    println!();
    println!("| query | answer | logport | peer | peer time | peer / logport |");
    println!("|---|---|---|---|---|---|");
    for (name, answer, ours, peer, theirs) in table {
        println!(
            "| {name} | {answer} | {:.0} ms | {peer} | {:.0} ms | **{:.2}** |",
            ours * 1e3,
            theirs * 1e3,
            theirs / ours
        );
    }
    println!("(peer / logport above 1: Logport is faster)");

    Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
    assert!(server.0.wait().unwrap().success());
    if std::env::var_os("LOGPORT_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
}

fn best_of(mut run: impl FnMut()) -> f64 {
    (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

/// Splits a combined-format line into the bench's fields.
fn parse(line: &str) -> [&str; 8] {
    let (ip, rest) = line.split_once(" - - [").unwrap();
    let (_, rest) = rest.split_once("] \"").unwrap();
    let (method, rest) = rest.split_once(' ').unwrap();
    let (url, rest) = rest.split_once(" HTTP/1.1\" ").unwrap();
    let (status, rest) = rest.split_once(' ').unwrap();
    let (length, rest) = rest.split_once(" \"").unwrap();
    let (ref_url, rest) = rest.split_once("\" \"").unwrap();
    let (browser, request_time) = rest.rsplit_once("\" ").unwrap();
    [ip, method, url, status, length, ref_url, browser, request_time]
}

fn ingest(agent: &ureq::Agent, base: &str, rows: &[[&str; 8]]) {
    let mut group = LogGroup { topic: Some("nginx".into()), source: Some("10.0.0.1".into()), ..Default::default() };
    let mut size = 0;
    let send = |group: &LogGroup| {
        let raw = group.encode_to_vec();
        let body = Compression::Lz4.compress(&raw);
        let response = agent
            .post(format!("{base}/logstores/bench/shards/lb"))
            .header("x-log-project", "bench")
            .header("content-type", "application/x-protobuf")
            .header("x-log-compresstype", "lz4")
            .header("x-log-bodyrawsize", raw.len().to_string())
            .send(&body[..])
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    };
    for (index, row) in rows.iter().enumerate() {
        let contents: Vec<Content> =
            FIELDS.iter().zip(row).map(|(key, value)| Content { key: (*key).into(), value: (*value).into() }).collect();
        size += row.iter().map(|value| value.len() + 12).sum::<usize>();
        group.logs.push(Log { time: START + index as u32 / 1000, contents, time_ns: None });
        if size >= BATCH_RAW_BYTES {
            send(&group);
            group.logs.clear();
            size = 0;
        }
    }
    if !group.logs.is_empty() {
        send(&group);
    }
}

fn get_logs(agent: &ureq::Agent, base: &str, from: i64, to: i64, query: &str) -> Value {
    let body = serde_json::json!({ "from": from, "to": to, "query": query, "line": 100 });
    let mut response = agent
        .post(format!("{base}/logstores/bench/logs"))
        .header("x-log-project", "bench")
        .header("content-type", "application/json")
        .send(body.to_string())
        .unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    assert_eq!(status, 200, "{query}: {text}");
    serde_json::from_str(&text).unwrap()
}
