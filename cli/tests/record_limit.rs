//! Issue 17: the record limit through the built binary. A record larger than
//! `--max-record-mib` is one bad record, stepped over; the records around it are
//! read, in every subcommand that reads logs.

use std::io::Write;

use serde_json::{Value, json};

mod common;
use common::{keytrail, ok_json, stderr};

fn rec(i: u32, agent: &str) -> Value {
    json!({
        "eventVersion": "1.08", "eventTime": format!("2026-10-04T03:00:0{i}Z"),
        "eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "awsRegion": "us-east-1",
        "eventID": format!("00000000-0000-4000-8000-00000000000{i}"), "userAgent": agent,
        "userIdentity": {"type": "IAMUser", "accountId": "111122223333",
            "arn": "arn:aws:iam::111122223333:user/ops"},
        "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k1", "type": "AWS::KMS::Key"}]
    })
}

/// A gzip log whose second of three records holds a 2 MiB userAgent.
fn write_log(dir: &std::path::Path) -> String {
    let huge = "x".repeat(2 << 20);
    let text = json!({"Records": [rec(1, "a"), rec(2, &huge), rec(3, "b")]}).to_string();
    let path = dir.join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/04/big.json.gz");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(text.as_bytes()).expect("gzip");
    std::fs::write(&path, enc.finish().expect("gzip")).expect("write");
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn a_record_over_the_limit_is_one_bad_record_in_scan_search_and_core() {
    let tmp = tempfile::tempdir().expect("tmp");
    let log = write_log(tmp.path());

    let r = ok_json(&["scan", "--json", "--max-record-mib", "1", &log]);
    assert_eq!(
        (&r["records"], &r["kms_records"], &r["bad_records"]),
        (&json!(3), &json!(2), &json!(1)),
        "{r}"
    );
    assert_eq!(r["files"]["failed"], json!([]), "not a damaged file");
    // Under the default limit (4 MiB) the same record is read.
    let r = ok_json(&["scan", "--json", &log]);
    assert_eq!(
        (&r["kms_records"], &r["bad_records"]),
        (&json!(3), &json!(0))
    );

    let matches = |extra: &[&str]| {
        let mut args = vec!["search", "--all", "--json"];
        args.extend_from_slice(extra);
        args.push(&log);
        let out = keytrail(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    assert_eq!(matches(&["--max-record-mib", "1"]), 2);
    assert_eq!(matches(&[]), 3);

    let out = keytrail(&["core", "--max-record-mib", "1", &log]);
    assert!(out.status.success(), "{}", stderr(&out));
    let core: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(core["kms_records"], 2, "{core}");

    let out = keytrail(&["scan", "--max-record-mib", "0", &log]);
    assert_eq!(out.status.code(), Some(2), "0 MiB is refused");
}
