//! Test harness: a real AWS-API server (moto_server) on a free loopback port.
//!
//! The server is found through `KEYTRAIL_MOTO_SERVER` or `moto_server` on PATH.
//! When it is missing the tests fail, naming `scripts/test.sh`, which installs it.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

/// The account of the sample logs and of every resource the tests create.
pub const ACCOUNT: &str = "111122223333";

/// A running moto server, stopped on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto_server on a free 127.0.0.1 port and waits until it accepts connections.
    pub fn start() -> Moto {
        let bin = std::env::var("KEYTRAIL_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free loopback port");
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // Resources (KMS keys, topics) live in the sample logs' account.
            .env("MOTO_ACCOUNT_ID", ACCOUNT)
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
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
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
