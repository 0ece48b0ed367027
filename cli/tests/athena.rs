//! `keytrail review --engine athena`: the month from the KMS usage table through
//! Athena (here moto's, with the default credential chain pointed at it), against
//! `keytrail review` over the same files. The table's rows are the sample tree's
//! per-file summaries; DuckDB runs the review's query over them and moto's Athena
//! hands its result to the CLI (`scripts/usage-sql.py`). Needs the `aws` feature,
//! moto_server and python3 with duckdb and sqlglot (`scripts/install-test-deps.sh`).
#![cfg(feature = "aws")]

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::root;
use keytrail::{
    AnalysisOptions, FileIdentity, MAX_RECORD_BYTES, Month, analyse, delivery_id, month_query,
    parse_log_key, usage_records,
};

struct Moto(Child, String);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto() -> Moto {
    let bin = std::env::var("KEYTRAIL_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e} (scripts/install-test-deps.sh installs moto)"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "moto did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Moto(child, format!("http://127.0.0.1:{port}"))
}

/// The sample tree's files as usage-table rows under `dir` (yyyy/MM/dd/HH/).
fn rows_of_sample_tree(dir: &Path) {
    let mut stack = vec![root().join("events/logs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let shown = p.to_string_lossy().into_owned();
            let Some(at) = shown.find("AWSLogs/") else {
                continue;
            };
            let Some(lk) = parse_log_key(&shown[at..]) else {
                continue;
            };
            let bytes = std::fs::read(&p).expect("log");
            let summary = analyse(&shown, &bytes[..], &AnalysisOptions::default()).summary;
            let delivery = delivery_id(lk.delivered);
            let records = usage_records(
                &summary,
                &FileIdentity {
                    file: &shown[at..],
                    delivery: &delivery,
                    account: &lk.account,
                    region: &lk.region,
                    file_date: lk.date,
                    delivered: lk.delivered,
                },
                MAX_RECORD_BYTES,
            );
            let out = dir.join(lk.delivered.format("%Y/%m/%d/%H").to_string());
            std::fs::create_dir_all(&out).expect("mkdir");
            std::fs::write(out.join(format!("{}.json", lk.stem)), records.concat()).expect("rows");
        }
    }
}

fn review_json(args: &[&str], endpoint: &str) -> serde_json::Value {
    review_json_with(args, endpoint, &[])
}

/// `keytrail ARGS` against `endpoint` with test credentials and `env` on top, proxy
/// variables from the caller's environment removed; the report, its time cleared.
fn review_json_with(args: &[&str], endpoint: &str, env: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keytrail"));
    cmd.args(args)
        .current_dir(root())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE");
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("keytrail");
    assert!(
        out.status.success(),
        "keytrail {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report");
    v["generated_at"] = serde_json::Value::Null;
    v
}

/// DuckDB runs the review's query for 2026-10 over the sample tree's rows; moto's Athena
/// is given its result for the next query (`scripts/usage-sql.py`).
fn queue_sample_month(moto: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    rows_of_sample_tree(dir.path());
    let month = Month::parse("2026-10").expect("month");
    let sql = month_query("keytrail.kms_usage", month).expect("query");
    let python = std::env::var("KEYTRAIL_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .arg(root().join("scripts/usage-sql.py"))
        .arg(dir.path())
        .args(["--table", "keytrail.kms_usage", "--moto", moto])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), sql.as_bytes())
        .expect("query");
    let out = child.wait_with_output().expect("usage-sql.py");
    assert!(
        out.status.success(),
        "usage-sql.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const ATHENA_MONTH: [&str; 11] = [
    "review",
    "--engine",
    "athena",
    "--usage-table",
    "keytrail.kms_usage",
    "--workgroup",
    "primary",
    "--month",
    "2026-10",
    "--format",
    "json",
];

/// A forward HTTP proxy on loopback that sends every request to `upstream`, whatever
/// host it names, and records each request line and `X-Amz-Target`. One request per
/// connection (`Connection: close` upstream), as a minimal proxy may serve them.
struct ForwardProxy {
    url: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn forward_proxy(upstream: &str) -> ForwardProxy {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let upstream = upstream.trim_start_matches("http://").to_owned();
    let seen: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { continue };
            let (upstream, log) = (upstream.clone(), log.clone());
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16384];
                let head_end = loop {
                    match client.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let header = |name: &str| {
                    head.lines().find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.trim()
                            .eq_ignore_ascii_case(name)
                            .then(|| v.trim().to_owned())
                    })
                };
                let length: usize = header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    match client.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let line = head.lines().next().unwrap_or_default().to_owned();
                let target = header("x-amz-target").unwrap_or_default();
                log.lock().expect("seen").push(format!("{line} {target}"));
                // The origin-form request, the connection closed after the answer.
                let mut lines = head.lines();
                let mut parts = lines.next().unwrap_or_default().splitn(3, ' ');
                let (method, uri, version) = (
                    parts.next().unwrap_or_default(),
                    parts.next().unwrap_or_default(),
                    parts.next().unwrap_or_default(),
                );
                let path = uri
                    .split_once("://")
                    .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                    .unwrap_or(uri);
                let mut out = format!("{method} {path} {version}\r\n");
                for l in lines.filter(|l| !l.is_empty()) {
                    let name = l.split(':').next().unwrap_or_default().trim();
                    if !name.eq_ignore_ascii_case("connection")
                        && !name.eq_ignore_ascii_case("proxy-connection")
                    {
                        out.push_str(l);
                        out.push_str("\r\n");
                    }
                }
                out.push_str("Connection: close\r\n\r\n");
                let Ok(mut up) = std::net::TcpStream::connect(&upstream) else {
                    return;
                };
                let _ = up.write_all(out.as_bytes());
                let _ = up.write_all(&buf[head_end..]);
                let _ = std::io::copy(&mut up, &mut client);
            });
        }
    });
    ForwardProxy { url, seen }
}

#[test]
fn review_from_the_usage_table_is_the_review_of_the_files() {
    let moto = moto();
    queue_sample_month(&moto.1);

    let athena = review_json(&ATHENA_MONTH, &moto.1);
    let logs = review_json(
        &[
            "review",
            "events/logs",
            "--month",
            "2026-10",
            "--format",
            "json",
        ],
        &moto.1,
    );
    assert_eq!(athena["coverage"]["engine"], "athena");
    assert_eq!(logs["coverage"]["engine"], "logs");
    assert_eq!(
        athena["coverage"]["log_files"],
        logs["coverage"]["log_files"]
    );
    for section in [
        "summary",
        "keys",
        "access_inventory",
        "unused_keys",
        "keys_pending_deletion",
        "cross_account_principals",
        "findings_per_week",
        "top_failing_principals",
        "key_lifecycle",
        "charts",
        "scope",
        "trend",
    ] {
        assert_eq!(athena[section], logs[section], "{section}");
    }
    assert!(athena["summary"]["kms_calls"].as_u64().expect("calls") > 300);
}

#[test]
fn the_athena_engine_needs_its_table_and_workgroup() {
    let out = common::keytrail(&["review", "--engine", "athena", "--month", "2026-10"]);
    assert!(!out.status.success());
    let e = common::stderr(&out);
    assert!(e.contains("--usage-table"), "{e}");
    let out = common::keytrail(&[
        "review",
        "--engine",
        "athena",
        "--usage-table",
        "db.t; DROP",
        "--workgroup",
        "w",
        "--month",
        "2026-10",
    ]);
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("is not a table name"),
        "{}",
        common::stderr(&out)
    );
}

/// The CLI's HTTPS client (`keytrail::https_client`, rustls on ring) honours the proxy
/// variables as the SDK's default client does: with the endpoint on a host that does
/// not resolve, the review can only reach moto through `HTTP_PROXY`.
#[test]
fn the_cli_reaches_aws_through_the_proxy_in_http_proxy() {
    let moto = moto();
    queue_sample_month(&moto.1);
    let proxy = forward_proxy(&moto.1);
    let port = moto.1.rsplit(':').next().expect("port");
    let report = review_json_with(
        &ATHENA_MONTH,
        &format!("http://athena.keytrail-test.invalid:{port}"),
        &[("HTTP_PROXY", &proxy.url)],
    );
    assert_eq!(report["coverage"]["engine"], "athena");
    assert!(report["summary"]["kms_calls"].as_u64().expect("calls") > 300);
    let seen = proxy.seen.lock().expect("seen").clone();
    assert!(
        seen.iter().any(
            |r| r.starts_with("POST http://athena.keytrail-test.invalid:")
                && r.ends_with("AmazonAthena.StartQueryExecution")
        ),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|r| r.ends_with("AmazonAthena.GetQueryResults")),
        "{seen:#?}"
    );
}
