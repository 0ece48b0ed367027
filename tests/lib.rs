//! Test harness: a real AWS-API server (moto_server) on a free loopback port.
//!
//! The server is found through `KEYTRAIL_MOTO_SERVER` or `moto_server` on PATH.
//! When it is missing the tests fail, naming `scripts/test.sh`, which installs it.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

/// The account of the sample logs and of every resource the tests create.
pub const ACCOUNT: &str = "111122223333";
/// moto's own default account, the caller's in [`Moto::start_multi_account`].
pub const MOTO_DEFAULT_ACCOUNT: &str = "123456789012";

/// A running moto server, stopped on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto_server on a free 127.0.0.1 port and waits until it accepts connections.
    pub fn start() -> Moto {
        Moto::start_in(Some(ACCOUNT))
    }

    /// The same, with moto's own accounts: the caller is moto's default account
    /// ([`MOTO_DEFAULT_ACCOUNT`]), and credentials from `AssumeRole` into another
    /// account's role land in that account (with `MOTO_ACCOUNT_ID` set, every call
    /// lands in the one account).
    pub fn start_multi_account() -> Moto {
        Moto::start_in(None)
    }

    fn start_in(account: Option<&str>) -> Moto {
        let bin = std::env::var("KEYTRAIL_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free loopback port");
        let mut command = Command::new(&bin);
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        match account {
            // Resources (KMS keys, topics) live in the sample logs' account.
            Some(a) => command.env("MOTO_ACCOUNT_ID", a),
            None => command.env_remove("MOTO_ACCOUNT_ID"),
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {bin:?} ({e}). The integration tests need moto_server \
                     (pip install 'moto[server]'): run scripts/test.sh, which installs it, \
                     or set KEYTRAIL_MOTO_SERVER to its path."
                )
            });
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!(
                    "{bin} exited with {status} before listening; run scripts/test.sh to install moto"
                );
            }
            assert!(
                Instant::now() < deadline,
                "{bin} did not listen on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// SDK configuration pointing at this server, with test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.endpoint).await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository root.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Uploads every file of `events/logs/` to `bucket` under its relative path.
pub async fn upload_sample_tree(s3: &aws_sdk_s3::Client, bucket: &str) -> usize {
    let root = repo_root().join("events/logs");
    let mut n = 0;
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let key = path
                .strip_prefix(&root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            s3.put_object()
                .bucket(bucket)
                .key(&key)
                .body(std::fs::read(&path).expect("read").into())
                .send()
                .await
                .expect("upload");
            n += 1;
        }
    }
    n
}

/// Sum of a metric of `namespace` with exactly `dims` over [start - 1 h, end + 1 h],
/// per minute, through GetMetricData.
pub async fn metric_sum(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    name: &str,
    dims: &[(&str, &str)],
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> f64 {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
    let metric = Metric::builder()
        .namespace(namespace)
        .metric_name(name)
        .set_dimensions(Some(
            dims.iter()
                .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
                .collect(),
        ))
        .build();
    let query = MetricDataQuery::builder()
        .id("q")
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(60)
                .stat("Sum")
                .build(),
        )
        .build();
    let out = cw
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
            start.timestamp() - 3600,
        ))
        .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
            end.timestamp() + 3600,
        ))
        .send()
        .await
        .expect("GetMetricData");
    out.metric_data_results()
        .iter()
        .flat_map(|r| r.values().iter().copied())
        .sum()
}

/// A gzipped CloudTrail log file holding `records`.
pub fn gz_log(records: &[serde_json::Value]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(
        serde_json::json!({ "Records": records })
            .to_string()
            .as_bytes(),
    )
    .expect("gzip");
    enc.finish().expect("gzip")
}

/// The S3 key of a delivery to account 111122223333, us-east-1, at `t`.
pub fn delivery_key(t: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{}/{ACCOUNT}_CloudTrail_us-east-1_{}_{id}.json.gz",
        t.format("%Y/%m/%d"),
        t.format("%Y%m%dT%H%MZ")
    )
}

/// A KMS record as CloudTrail writes it for a symmetric Decrypt (key only in resources[]).
pub fn decrypt_record(
    t: chrono::DateTime<chrono::Utc>,
    id: &str,
    role: &str,
    ip: &str,
    key_arn: &str,
    error: Option<(&str, &str)>,
) -> serde_json::Value {
    let mut v = serde_json::json!({
        "eventVersion": "1.10",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:worker-1", "accountId": ACCOUNT,
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/worker-1"),
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"), "accountId": ACCOUNT, "userName": role}}},
        "eventTime": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "awsRegion": "us-east-1",
        "sourceIPAddress": ip, "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"dataset": "payroll-2026"}},
        "responseElements": null,
        "requestID": format!("req-{id}"), "eventID": id, "readOnly": true,
        "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn}],
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": ACCOUNT, "eventCategory": "Management"
    });
    if let Some((code, message)) = error {
        v["errorCode"] = serde_json::json!(code);
        v["errorMessage"] = serde_json::json!(message);
    }
    v
}

/// A fault-injecting HTTP proxy between the SDK and moto: requests whose request line,
/// headers or body contain a rule's marker (`PutMetricData`, `PutObject`, ...) get an
/// error response instead of reaching moto, as many times as the rule says. It also
/// records every request it sees (see [`FaultProxy::seen`]). Gzip request bodies (the
/// SDK compresses large PutMetricData calls) are matched and recorded decompressed,
/// and forwarded as they came.
pub struct FaultProxy {
    pub endpoint: String,
    rules: std::sync::Arc<std::sync::Mutex<Vec<Fault>>>,
    injected: std::sync::Arc<std::sync::atomic::AtomicU64>,
    seen: Seen,
}

type Seen = std::sync::Arc<std::sync::Mutex<Vec<SeenRequest>>>;

/// A request the proxy received (failed by a fault or forwarded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    /// The operation: `Action` of a query-protocol body (`PutMetricData`, `Publish`),
    /// else the `X-Amz-Target` header (`TrentService.DescribeKey`), else the method and
    /// path (`PUT /bucket/key`, REST protocols such as S3).
    pub operation: String,
    /// For a query-protocol `PutMetricData`: how many datums it carries (the highest
    /// `MetricData.member.N`); 0 otherwise.
    pub metric_datums: usize,
    /// The request line's query string (`list-type=2`, `versioning`), empty if none.
    pub query: String,
    /// The body of a JSON-protocol request (one with `X-Amz-Target`: Athena,
    /// Firehose, KMS ...), parsed; `Null` for the others.
    pub json: serde_json::Value,
}

#[derive(Clone, Debug)]
pub struct Fault {
    /// Substring that selects the request (e.g. "Action=PutMetricData").
    pub marker: String,
    /// How many matching requests fail; `u32::MAX` for a persistent fault.
    pub times: u32,
    pub status: u16,
    pub body: String,
}

impl FaultProxy {
    /// Starts the proxy in front of `upstream` (`http://127.0.0.1:PORT`).
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let rules: std::sync::Arc<std::sync::Mutex<Vec<Fault>>> = Default::default();
        let injected: std::sync::Arc<std::sync::atomic::AtomicU64> = Default::default();
        let seen: Seen = Default::default();
        let (r, n, s) = (rules.clone(), injected.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(
                    conn,
                    upstream.clone(),
                    r.clone(),
                    n.clone(),
                    s.clone(),
                ));
            }
        });
        FaultProxy {
            endpoint,
            rules,
            injected,
            seen,
        }
    }

    /// Every request received so far, in arrival order.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().expect("seen").clone()
    }

    /// How many requests for `operation` (see [`SeenRequest::operation`]) were received.
    pub fn count(&self, operation: &str) -> usize {
        self.seen
            .lock()
            .expect("seen")
            .iter()
            .filter(|r| r.operation == operation)
            .count()
    }

    pub fn inject(&self, fault: Fault) {
        self.rules.lock().expect("rules").push(fault);
    }

    pub fn clear(&self) {
        self.rules.lock().expect("rules").clear();
    }

    /// Error responses sent so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// SDK configuration that goes through the proxy.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.endpoint).await
    }
}

/// One request per connection: read it, fail it or forward it with `Connection: close`
/// and relay the answer.
async fn serve(
    mut client: tokio::net::TcpStream,
    upstream: String,
    rules: std::sync::Arc<std::sync::Mutex<Vec<Fault>>>,
    injected: std::sync::Arc<std::sync::atomic::AtomicU64>,
    seen: Seen,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let body = &buf[head_end..];
    let body = match header("content-encoding") {
        Some(e) if e.eq_ignore_ascii_case("gzip") => {
            let mut out = Vec::new();
            match std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(body), &mut out)
            {
                Ok(_) => out,
                Err(_) => body.to_vec(),
            }
        }
        _ => body.to_vec(),
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    seen.lock()
        .expect("seen")
        .push(seen_request(&head, header("x-amz-target"), &body));
    let text = format!("{head}{body}");
    let fault = {
        let mut rules = rules.lock().expect("rules");
        rules
            .iter_mut()
            .find(|f| f.times > 0 && text.contains(&f.marker))
            .map(|f| {
                if f.times != u32::MAX {
                    f.times -= 1;
                }
                f.clone()
            })
    };
    if let Some(f) = fault {
        injected.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let reply = format!(
            "HTTP/1.1 {} Injected\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            f.status,
            f.body.len(),
            f.body
        );
        let _ = client.write_all(reply.as_bytes()).await;
        return;
    }
    let mut request: Vec<u8> = Vec::with_capacity(buf.len() + 20);
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        if line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        request.extend_from_slice(line.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"Connection: close\r\n\r\n");
    request.extend_from_slice(&buf[head_end..]);
    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
        return;
    };
    if server.write_all(&request).await.is_err() {
        return;
    }
    let mut response = Vec::new();
    let _ = server.read_to_end(&mut response).await;
    let _ = client.write_all(&response).await;
    let _ = client.shutdown().await;
}

/// What [`FaultProxy::seen`] records about one request.
fn seen_request(head: &str, target: Option<String>, body: &str) -> SeenRequest {
    let target_is_json = target.is_some();
    let params = || body.split('&').filter_map(|p| p.split_once('='));
    let action = params()
        .find(|(k, _)| *k == "Action")
        .map(|(_, v)| v.to_owned());
    let operation = action.or(target).unwrap_or_else(|| {
        let line = head.lines().next().unwrap_or("");
        let mut parts = line.split(' ');
        let method = parts.next().unwrap_or("");
        let path = parts.next().unwrap_or("").split('?').next().unwrap_or("");
        format!("{method} {path}")
    });
    let metric_datums = match operation.as_str() {
        "PutMetricData" => params()
            .filter_map(|(k, _)| {
                k.strip_prefix("MetricData.member.")?
                    .split('.')
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .max()
            .unwrap_or(0),
        _ => 0,
    };
    let query = head
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|target| target.split_once('?'))
        .map(|(_, q)| q.to_owned())
        .unwrap_or_default();
    let json = if target_is_json {
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
    } else {
        serde_json::Value::Null
    };
    SeenRequest {
        operation,
        metric_datums,
        query,
        json,
    }
}

/// An SNS topic with an SQS queue subscribed to it: (topic ARN, queue URL).
pub async fn topic_with_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    topic: &str,
    queue: &str,
) -> (String, String) {
    let topic_arn = sns
        .create_topic()
        .name(topic)
        .send()
        .await
        .expect("topic")
        .topic_arn()
        .expect("arn")
        .to_owned();
    let queue_url = sqs
        .create_queue()
        .queue_name(queue)
        .send()
        .await
        .expect("queue")
        .queue_url()
        .expect("url")
        .to_owned();
    let arn_attr = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(arn_attr.clone())
        .send()
        .await
        .expect("attrs");
    let queue_arn = attrs
        .attributes()
        .and_then(|a| a.get(&arn_attr))
        .expect("queue arn")
        .clone();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .expect("subscribe");
    (topic_arn, queue_url)
}

/// SDK configuration for an endpoint on loopback, with test credentials.
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    keytrail::sdk_defaults()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "keytrail-tests",
        ))
        .load()
        .await
}

/// A Firehose delivery stream in moto writing to `bucket` under `keytrail/usage/`,
/// as the template's usage stream does (moto writes each record batch at once, under
/// `keytrail/usage/YYYY/MM/DD/HH/`).
pub async fn usage_stream(conf: &SdkConfig, bucket: &str, name: &str) {
    aws_sdk_firehose::Client::new(conf)
        .create_delivery_stream()
        .delivery_stream_name(name)
        .delivery_stream_type(aws_sdk_firehose::types::DeliveryStreamType::DirectPut)
        .extended_s3_destination_configuration(
            aws_sdk_firehose::types::ExtendedS3DestinationConfiguration::builder()
                .bucket_arn(format!("arn:aws:s3:::{bucket}"))
                .role_arn(format!("arn:aws:iam::{MOTO_DEFAULT_ACCOUNT}:role/firehose"))
                .prefix("keytrail/usage/")
                .build()
                .expect("destination"),
        )
        .send()
        .await
        .expect("delivery stream");
}

/// Runs `sql` with DuckDB over the usage-table rows under `dir` (as Firehose wrote
/// them, `YYYY/MM/DD/HH/` folders), the table named `table`, and queues the result
/// in moto's Athena (default account, us-east-1), where the next query started
/// returns it (`scripts/usage-sql.py`). Returns the number of result rows.
pub fn duckdb_into_moto(dir: &std::path::Path, sql: &str, table: &str, moto: &str) -> u64 {
    use std::io::Write;
    let python = std::env::var("KEYTRAIL_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .arg(repo_root().join("scripts/usage-sql.py"))
        .arg(dir)
        .args([
            "--table",
            table,
            "--moto",
            moto,
            "--account",
            MOTO_DEFAULT_ACCOUNT,
        ])
        .args(["--region", "us-east-1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(sql.as_bytes())
        .expect("query");
    let out = child.wait_with_output().expect("usage-sql.py");
    assert!(
        out.status.success(),
        "usage-sql.py (python3 with duckdb and sqlglot: scripts/install-test-deps.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("result");
    v["rows"].as_array().map_or(0, |r| r.len() as u64)
}

/// The SDK configuration of `account` in `region` through AssumeRole of `role` there
/// (moto keeps resources per account: run it with `Moto::start_multi_account`).
pub async fn as_account(base: &SdkConfig, account: &str, region: &str, role: &str) -> SdkConfig {
    let out = aws_sdk_sts::Client::new(base)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/{role}"))
        .role_session_name("setup")
        .send()
        .await
        .expect("assume role");
    let c = out.credentials().expect("credentials");
    let creds = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "moto",
    );
    base.to_builder()
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(creds))
        .region(Region::new(region.to_owned()))
        .build()
}
