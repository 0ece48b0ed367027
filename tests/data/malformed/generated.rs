//! The big malformed-input cases, built at run time instead of being stored
//! (cases.json marks them `"generated": true`). Included by `shared/tests/malformed.rs`
//! and `cli/tests/malformed.rs` with `#[path]`.

use serde_json::{Value, json};

fn record(i: u32) -> Value {
    json!({
        "eventVersion": "1.08",
        "eventID": format!("00000000-0000-4000-8000-{i:012}"),
        "eventTime": "2026-10-04T03:00:00Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.0.0.1",
        "userAgent": "aws-sdk",
        "userIdentity": {"type": "AssumedRole", "accountId": "111122223333",
            "arn": "arn:aws:sts::111122223333:assumed-role/app/s"},
        "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/0f3c1a52-8b6e-4d1f-9a27-3e5b7c9d2a41",
            "type": "AWS::KMS::Key"}],
        "recipientAccountId": "111122223333"
    })
}

/// The bytes of a generated case, or `None` when `file` is not one.
pub fn bytes(file: &str) -> Option<Vec<u8>> {
    match file {
        // Two good records, then a record whose requestParameters nest 10,000 arrays.
        "deep_nesting.json" => {
            let mut s = format!(
                r#"{{"Records":[{},{},{{"eventSource":"kms.amazonaws.com","requestParameters":{{"a":"#,
                record(200),
                record(201)
            );
            s.push_str(&"[".repeat(10_000));
            s.push_str(&"]".repeat(10_000));
            s.push_str("}}]}");
            Some(s.into_bytes())
        }
        // A 10 MB userAgent, then a normal record.
        "huge_user_agent.json" => {
            let mut big = record(202);
            big["userAgent"] = Value::String("A".repeat(10 * 1024 * 1024));
            Some(serde_json::to_vec(&json!({"Records": [big, record(203)]})).ok()?)
        }
        // 100,000 re-deliveries of one event.
        "duplicates_100k.json" => {
            let one = serde_json::to_string(&record(204)).ok()?;
            let mut s = String::with_capacity(one.len() * 100_001 + 16);
            s.push_str(r#"{"Records":["#);
            for i in 0..100_000 {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(&one);
            }
            s.push_str("]}");
            Some(s.into_bytes())
        }
        _ => None,
    }
}
