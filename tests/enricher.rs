//! The alarm enricher against moto_server: S3 logs, KMS key metadata, SNS -> SQS.

use chrono::{DateTime, Duration, Utc};
use keytrail::Investigation;
use keytrail::{Enricher, EnricherConfig};
use keytrail::{
    KmsDirectory, S3Store, SecurityHubImporter, SnsNotifier, kms_client, s3_client,
    securityhub_client, sns_client,
};
use keytrail_tests::{Moto, decrypt_record, delivery_key, gz_log, repo_root, upload_sample_tree};
use serde_json::{Value, json};

const BUCKET: &str = "keytrail-test-trail";

pub(crate) struct Env {
    _moto: Moto,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    /// The queue subscribed to the Chatbot topic, when the option is on.
    chatbot_queue_url: Option<String>,
    key_arn: String,
    /// Security Hub, straight to moto (not through the proxy).
    hub: aws_sdk_securityhub::Client,
    pub(crate) enricher: Enricher<S3Store, KmsDirectory, SnsNotifier, SecurityHubImporter>,
    pub(crate) proxy: Option<keytrail_tests::FaultProxy>,
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

/// A day of deliveries: the sample tree, a delivery every 5 minutes of background
/// Decrypts, a planted burst of failures on a real (moto) key, and one corrupt file.
async fn env() -> Env {
    env_opts(false, false).await
}

/// With `through_proxy`, the enricher's AWS calls go through a fault-injecting proxy
/// (the setup itself still talks to moto directly); with `security_hub`, the
/// enricher runs with KEYTRAIL_SECURITY_HUB=true.
async fn env_opts(through_proxy: bool, security_hub: bool) -> Env {
    env_full(through_proxy, false, security_hub).await
}

/// With `chatbot`, the enricher also publishes to a Chatbot topic (an SQS queue
/// subscribed to it stands in for AWS Chatbot).
pub(crate) async fn env_full(through_proxy: bool, chatbot: bool, security_hub: bool) -> Env {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let proxy = match through_proxy {
        true => Some(keytrail_tests::FaultProxy::start(&moto.endpoint).await),
        false => None,
    };
    let s3 = s3_client(&sdk);
    let kms = kms_client(&sdk);
    let sns = sns_client(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");

    let key = kms
        .create_key()
        .description("payroll exports")
        .send()
        .await
        .expect("key");
    let key_arn = key
        .key_metadata()
        .and_then(|m| m.arn())
        .expect("arn")
        .to_owned();
    kms.create_alias()
        .alias_name("alias/payroll")
        .target_key_id(&key_arn)
        .send()
        .await
        .expect("alias");
    kms.tag_resource()
        .key_id(&key_arn)
        .tags(
            aws_sdk_kms::types::Tag::builder()
                .tag_key("owner")
                .tag_value("finance")
                .build()
                .expect("tag"),
        )
        .send()
        .await
        .expect("tags");

    upload_sample_tree(&s3, BUCKET).await;
    let day = t("2026-10-04T00:00:00Z");
    for i in 0..288 {
        let at = day + Duration::minutes(5 * i);
        let records: Vec<Value> = (0..3)
            .map(|j| {
                decrypt_record(
                    at - Duration::minutes(4) + Duration::seconds(j * 7),
                    &format!("bg-{i}-{j}"),
                    "app-server",
                    "10.0.7.118",
                    &key_arn,
                    None,
                )
            })
            .collect();
        s3.put_object()
            .bucket(BUCKET)
            .key(delivery_key(at, &format!("bg{i:04}")))
            .body(gz_log(&records).into())
            .send()
            .await
            .expect("upload");
    }
    // The planted burst: 20 failures in three minutes, delivered at 02:45.
    let burst: Vec<Value> = (0..20)
        .map(|i| {
            decrypt_record(
                t("2026-10-04T02:40:10Z") + Duration::seconds(i * 9),
                &format!("burst-{i}"),
                "batch-reader",
                "198.51.100.23",
                &key_arn,
                Some(("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")),
            )
        })
        .collect();
    s3.put_object()
        .bucket(BUCKET)
        .key(delivery_key(t("2026-10-04T02:45:00Z"), "planted"))
        .body(gz_log(&burst).into())
        .send()
        .await
        .expect("upload");
    // A corrupt delivery inside the window: the gather is partial, and says so.
    let cut = gz_log(&burst);
    s3.put_object()
        .bucket(BUCKET)
        .key(delivery_key(t("2026-10-04T02:46:00Z"), "corrupt"))
        .body(cut[..cut.len() / 3].to_vec().into())
        .send()
        .await
        .expect("upload");

    let (topic_arn, queue_url) =
        keytrail_tests::topic_with_queue(&sns, &sqs, "keytrail-security", "security-inbox").await;

    let chatbot = match chatbot {
        true => Some(
            keytrail_tests::topic_with_queue(&sns, &sqs, "keytrail-chatbot", "chat-channel").await,
        ),
        false => None,
    };
    let config = EnricherConfig::from_lookup(|k| match k {
        "KEYTRAIL_CHATBOT_TOPIC_ARN" => chatbot.as_ref().map(|(arn, _)| arn.clone()),
        "KEYTRAIL_LOG_BUCKET" => Some(BUCKET.into()),
        "KEYTRAIL_ALERT_TOPIC_ARN" => Some(topic_arn.clone()),
        "KEYTRAIL_SECURITY_HUB" => Some(security_hub.to_string()),
        _ => None,
    })
    .expect("config");
    let hub = securityhub_client(&sdk);
    let (s3e, kmse, snse, hube) = match &proxy {
        Some(p) => {
            let psdk = p.sdk_config().await;
            (
                s3_client(&psdk),
                kms_client(&psdk),
                sns_client(&psdk),
                securityhub_client(&psdk),
            )
        }
        None => (s3.clone(), kms.clone(), sns.clone(), hub.clone()),
    };
    let enricher = Enricher::new(
        S3Store { client: s3e },
        KmsDirectory { client: kmse },
        SnsNotifier { client: snse },
        SecurityHubImporter { client: hube },
        config,
    );
    Env {
        _moto: moto,
        s3,
        sqs,
        queue_url,
        chatbot_queue_url: chatbot.map(|(_, url)| url),
        key_arn,
        hub,
        enricher,
        proxy,
    }
}

pub(crate) fn alarm_event(name: &str) -> Value {
    let path = repo_root().join("events/alarms").join(name);
    serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("json")
}

/// The one notification on the queue: (subject, body, attributes).
async fn notification(env: &Env) -> (String, String, Value) {
    receive_one(env, &env.queue_url).await
}

/// The one SNS message on `queue_url`: (subject, message, attributes).
async fn receive_one(env: &Env, queue_url: &str) -> (String, String, Value) {
    let out = env
        .sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("receive");
    let msgs = out.messages();
    assert_eq!(msgs.len(), 1, "exactly one notification");
    let envelope: Value =
        serde_json::from_str(msgs[0].body().expect("body")).expect("SNS envelope");
    env.sqs
        .delete_message()
        .queue_url(queue_url)
        .receipt_handle(msgs[0].receipt_handle().expect("handle"))
        .send()
        .await
        .expect("delete");
    (
        envelope["Subject"].as_str().expect("subject").to_owned(),
        envelope["Message"].as_str().expect("message").to_owned(),
        envelope["MessageAttributes"].clone(),
    )
}

async fn record(env: &Env, report: &Value) -> Investigation {
    let loc = report["record"].as_str().expect("record location");
    let key = loc
        .strip_prefix(&format!("s3://{BUCKET}/"))
        .expect("in the bucket");
    assert!(
        key.starts_with("keytrail/investigations/2026/10/04/"),
        "{key}"
    );
    let obj = env
        .s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .expect("record exists");
    let bytes = obj.body.collect().await.expect("body").into_bytes();
    serde_json::from_slice(&bytes).expect("record parses")
}

#[tokio::test]
async fn decrypt_failure_alarm_becomes_an_actionable_notification() {
    let env = env().await;
    let report = env
        .enricher
        .handle(&alarm_event("sns-decrypt-failures.json"))
        .await
        .expect("handler");
    let (subject, body, attrs) = notification(&env).await;

    assert!(subject.len() <= 100, "{subject}");
    assert!(
        subject.contains("decrypt_failures")
            && subject.contains("alias/payroll")
            && subject.contains("role/batch-reader"),
        "{subject}"
    );
    for needle in [
        "arn:aws:iam::111122223333:role/batch-reader",
        "198.51.100.23",
        "alias/payroll",
        "state Enabled",
        "owner=finance",
        "37 matching events",
        "IncorrectKeyException",
        "dataset=payroll-2026",
        "PARTIAL: 1 log files could not be read",
        "PLAYBOOK",
        "ATHENA QUERY",
    ] {
        assert!(body.contains(needle), "missing {needle:?} in\n{body}");
    }
    assert_eq!(attrs["severity"]["Value"], "medium");
    assert_eq!(attrs["rule"]["Value"], "decrypt_failures");

    let inv = record(&env, &report).await;
    assert_eq!(inv.count, 37, "20 planted + 17 in the sample logs");
    assert_eq!(
        inv.principals[0].principal,
        "arn:aws:iam::111122223333:role/batch-reader"
    );
    let key = inv
        .keys
        .iter()
        .find(|k| k.key == env.key_arn)
        .expect("planted key");
    assert_eq!(key.aliases, ["alias/payroll"]);
    assert_eq!(key.tags.get("owner").map(String::as_str), Some("finance"));
    // Only the files that can hold the window's events were read: 02:30 to 03:05.
    assert!(
        inv.gather.files_selected < 20,
        "{} selected",
        inv.gather.files_selected
    );
    assert!(inv.gather.files_listed >= 288);
    assert_eq!(inv.gather.files_failed.len(), 1);
    assert!(inv.gather.files_failed[0].key.contains("corrupt"));
    // Keys the account does not hold (sample logs) degrade to "not available".
    assert!(
        inv.keys
            .iter()
            .any(|k| k.unavailable.iter().any(|u| u.starts_with("DescribeKey")))
    );
}

#[tokio::test]
async fn pending_deletion_and_metric_math_alarms() {
    let env = env().await;
    let report = env
        .enricher
        .handle(&alarm_event("sns-pending-deletion.json"))
        .await
        .expect("handler");
    let (subject, body, attrs) = notification(&env).await;
    assert!(
        subject.starts_with("[CRITICAL] pending_deletion_use: 5 events"),
        "{subject}"
    );
    assert!(
        body.contains("arn:aws:iam::111122223333:role/legacy-importer"),
        "{body}"
    );
    assert!(
        body.contains("not available: DescribeKey"),
        "a key KMS does not know degrades gracefully"
    );
    assert_eq!(attrs["severity"]["Value"], "critical");
    assert_eq!(record(&env, &report).await.count, 5);

    let report = env
        .enricher
        .handle(&alarm_event("sns-metric-math.json"))
        .await
        .expect("handler");
    let (_, body, attrs) = notification(&env).await;
    assert_eq!(report["events"], 15, "{report}");
    assert!(
        body.contains("KMSFailures {ErrorClass=AccessDenied}"),
        "{body}"
    );
    assert_eq!(attrs["rule"]["Value"], "none");
}

#[tokio::test]
async fn non_alarms_and_unowned_metrics() {
    let env = env().await;
    for f in [
        "sns-subscription-confirmation.json",
        "sns-malformed.json",
        "sns-ok.json",
    ] {
        let r = env
            .enricher
            .handle(&alarm_event(f))
            .await
            .expect("acknowledged, never retried");
        assert!(r.get("ignored").is_some(), "{f}: {r}");
    }
    let r = env
        .enricher
        .handle(&alarm_event("sns-composite.json"))
        .await
        .expect("handler");
    assert_eq!(r["enriched"], false);
    let (subject, body, _) = notification(&env).await;
    assert!(subject.contains("(not enriched)"), "{subject}");
    assert!(body.contains("NOT ENRICHED: composite alarm"), "{body}");
    let r = env
        .enricher
        .handle(&alarm_event("sns-unowned-metric.json"))
        .await
        .expect("handler");
    assert_eq!(r["enriched"], false);
    let (_, body, _) = notification(&env).await;
    assert!(
        body.contains("no keytrail rule owns metric AWS/KMS/XksProxyCertificateDaysToExpire"),
        "{body}"
    );
}

/// Seed 003: an alarm on AWS/KMS SecondsUntilKeyMaterialExpiration names a key; the
/// investigation is that key's (described by KMS) with its import calls of the week
/// before the alarm as evidence.
#[tokio::test]
async fn key_material_expiry_alarm_investigates_its_key() {
    let env = env().await;
    let key_id = env
        .key_arn
        .rsplit_once("key/")
        .expect("key id")
        .1
        .to_owned();
    let import = |at: &str, id: &str, name: &str, key: &str| {
        // Shaped on the AWS KMS Developer Guide's ImportKeyMaterial example.
        serde_json::json!({"eventVersion": "1.05",
            "userIdentity": {"type": "IAMUser", "principalId": "EX_PRINCIPAL_ID",
                "arn": "arn:aws:iam::111122223333:user/Alice", "accountId": "111122223333", "userName": "Alice"},
            "eventTime": at, "eventSource": "kms.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
            "sourceIPAddress": "192.0.2.0", "userAgent": "AWS Internal",
            "requestParameters": {"keyId": key, "validTo": "Nov 1, 2026, 12:00:00 AM", "expirationModel": "KEY_MATERIAL_EXPIRES"},
            "responseElements": null, "requestID": format!("req-{id}"), "eventID": id, "readOnly": false,
            "resources": [{"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": key}],
            "eventType": "AwsApiCall", "recipientAccountId": "111122223333"})
    };
    let other = "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
    let records = vec![
        import(
            "2026-10-01T09:58:23Z",
            "gpi-1",
            "GetParametersForImport",
            &env.key_arn,
        ),
        import(
            "2026-10-01T10:08:00Z",
            "ikm-1",
            "ImportKeyMaterial",
            &env.key_arn,
        ),
        import("2026-10-01T10:09:00Z", "ikm-2", "ImportKeyMaterial", other),
    ];
    env.s3
        .put_object()
        .bucket(BUCKET)
        .key(delivery_key(t("2026-10-01T10:10:00Z"), "import"))
        .body(gz_log(&records).into())
        .send()
        .await
        .expect("upload");
    // Before the week the investigation reads: not evidence.
    env.s3
        .put_object()
        .bucket(BUCKET)
        .key(delivery_key(t("2026-09-20T10:10:00Z"), "old-import"))
        .body(
            gz_log(&[import(
                "2026-09-20T10:08:00Z",
                "ikm-0",
                "ImportKeyMaterial",
                &env.key_arn,
            )])
            .into(),
        )
        .send()
        .await
        .expect("upload");
    let mut event = alarm_event("sns-key-material-expiring.json");
    let message = event["Records"][0]["Sns"]["Message"]
        .as_str()
        .expect("message")
        .replace("e5d7f9a1-3b4c-4d6e-8f0a-1b2c3d4e5f60", &key_id);
    event["Records"][0]["Sns"]["Message"] = Value::String(message);
    let report = env.enricher.handle(&event).await.expect("handler");
    assert_eq!(report["enriched"], true, "{report}");
    let (subject, body, attrs) = notification(&env).await;
    assert_eq!(attrs["rule"]["Value"], "key_material_expiring");
    assert_eq!(attrs["severity"]["Value"], "high");
    assert!(subject.contains("key_material_expiring"), "{subject}");
    assert!(
        body.contains("state Enabled") && body.contains("alias/payroll"),
        "{body}"
    );
    let inv = record(&env, &report).await;
    assert_eq!(
        inv.count, 2,
        "the key's GetParametersForImport and ImportKeyMaterial"
    );
    assert_eq!(inv.keys.len(), 1);
    assert_eq!(inv.keys[0].key, env.key_arn);
    assert_eq!(inv.keys[0].state.as_deref(), Some("Enabled"));
    assert_eq!(
        inv.principals[0].principal,
        "arn:aws:iam::111122223333:user/Alice"
    );
}

#[tokio::test]
async fn unreadable_objects_and_a_flaky_topic() {
    let env = env_opts(true, false).await;
    let proxy = env.proxy.as_ref().expect("proxy");
    // The planted delivery cannot be fetched at all; SNS throttles the first publish.
    proxy.inject(keytrail_tests::Fault {
        marker: "GET /keytrail-test-trail/AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/04/111122223333_CloudTrail_us-east-1_20261004T0245Z_planted.json.gz".into(),
        times: u32::MAX,
        status: 403,
        body: "<Error><Code>AccessDenied</Code><Message>injected</Message></Error>".into(),
    });
    proxy.inject(keytrail_tests::Fault {
        marker: "Action=Publish".into(),
        times: 1,
        status: 400,
        body: "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>".into(),
    });
    let report = env
        .enricher
        .handle(&alarm_event("sns-decrypt-failures.json"))
        .await
        .expect("partial, not failed");
    let (_, body, _) = notification(&env).await;
    assert!(
        body.contains("PARTIAL: 2 log files could not be read"),
        "{body}"
    );
    assert!(
        body.contains("_planted.json.gz") && body.contains("AccessDenied"),
        "{body}"
    );
    assert!(
        body.contains("17 matching events"),
        "what could be read is still reported:\n{body}"
    );
    assert_eq!(record(&env, &report).await.gather.files_failed.len(), 2);
}

/// Every finding moto's Security Hub holds.
async fn hub_findings(env: &Env) -> Vec<aws_sdk_securityhub::types::AwsSecurityFinding> {
    env.hub
        .get_findings()
        .send()
        .await
        .expect("GetFindings")
        .findings()
        .to_vec()
}

#[tokio::test]
async fn security_hub_holds_one_finding_per_alarm_episode() {
    let env = env_opts(false, true).await;
    let alarm = alarm_event("sns-decrypt-failures.json");
    let first = env.enricher.handle(&alarm).await.expect("handler");
    notification(&env).await;
    let id = first["security_hub"]["imported"]
        .as_str()
        .unwrap_or_else(|| panic!("imported: {first:#}"))
        .to_owned();
    let inv = record(&env, &first).await;
    let found = hub_findings(&env).await;
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f.id(), Some(id.as_str()));
    assert!(
        id.starts_with("keytrail/decrypt_failures/2026-10-04T"),
        "{id}"
    );
    assert_eq!(f.schema_version(), Some("2018-10-08"));
    assert_eq!(f.generator_id(), Some("keytrail/decrypt_failures"));
    assert_eq!(
        f.product_arn(),
        Some("arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default")
    );
    assert_eq!(f.aws_account_id(), Some("111122223333"));
    assert_eq!(
        f.types(),
        [keytrail::rule("decrypt_failures")
            .expect("rule")
            .finding_type]
    );
    assert_eq!(
        f.severity().and_then(|s| s.label()).map(|l| l.as_str()),
        Some("MEDIUM")
    );
    let first_seen = inv.first_seen.expect("events found");
    assert_eq!(f.created_at(), Some(keytrail::rfc3339(first_seen).as_str()));
    let resources: Vec<(&str, &str)> = f
        .resources()
        .iter()
        .map(|r| (r.r#type().unwrap_or(""), r.id().unwrap_or("")))
        .collect();
    assert!(
        resources.contains(&("AwsKmsKey", env.key_arn.as_str())),
        "{resources:?}"
    );
    assert!(
        resources.contains(&("AwsIamRole", "arn:aws:iam::111122223333:role/batch-reader")),
        "{resources:?}"
    );
    let text = f
        .remediation()
        .and_then(|r| r.recommendation())
        .and_then(|r| r.text())
        .expect("recommendation");
    assert!(text.starts_with("1. Group the failures"), "{text}");
    let created = f.created_at().expect("created").to_owned();
    let updated = f.updated_at().expect("updated").to_owned();

    // SNS delivers the alarm again: the same finding, updated.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let again = env.enricher.handle(&alarm).await.expect("handler");
    notification(&env).await;
    assert_eq!(again["security_hub"]["imported"], id.as_str());
    let found = hub_findings(&env).await;
    assert_eq!(found.len(), 1, "re-delivery updates, not adds: {found:#?}");
    assert_eq!(found[0].id(), Some(id.as_str()));
    assert_eq!(
        found[0].created_at(),
        Some(created.as_str()),
        "CreatedAt stays"
    );
    let moved = found[0].updated_at().expect("updated");
    assert!(
        moved > updated.as_str(),
        "UpdatedAt moves: {updated} -> {moved}"
    );
}

#[tokio::test]
async fn security_hub_off_by_default_and_its_failure_spares_the_notification() {
    let off = env().await;
    let report = off
        .enricher
        .handle(&alarm_event("sns-decrypt-failures.json"))
        .await
        .expect("handler");
    assert!(report.get("security_hub").is_none(), "{report:#}");
    assert!(hub_findings(&off).await.is_empty());
    drop(off);

    let env = env_opts(true, true).await;
    let proxy = env.proxy.as_ref().expect("proxy");
    proxy.inject(keytrail_tests::Fault {
        marker: "POST /findings/import".into(),
        times: u32::MAX,
        status: 403,
        body: r#"{"__type":"AccessDeniedException","Message":"injected"}"#.into(),
    });
    let report = env
        .enricher
        .handle(&alarm_event("sns-decrypt-failures.json"))
        .await
        .expect("a Security Hub failure does not fail the invocation");
    let (subject, _, _) = notification(&env).await;
    assert!(subject.contains("decrypt_failures"), "{subject}");
    let error = report["security_hub"]["error"]
        .as_str()
        .expect("error reported");
    assert!(
        error.contains("BatchImportFindings") && error.contains("AccessDenied"),
        "{error}"
    );
    assert!(report["security_hub"]["id"].is_string(), "{report:#}");
    assert!(proxy.count("POST /findings/import") >= 1);
    assert!(hub_findings(&env).await.is_empty());
}

/// Issue 16: a suppression in the configuration file (from S3) takes the silenced
/// principal's events out of the investigation, and the notification says how many
/// it silenced and by which suppression.
#[tokio::test]
async fn a_suppressed_principal_leaves_the_notification_and_is_counted() {
    let mut env = env().await;
    env.s3
        .put_object()
        .bucket(BUCKET)
        .key("keytrail/config.toml")
        .body(
            b"[rules.decrypt_failures]\nseverity = \"high\"\n\n[[suppressions]]\nid = \"batch-reader-retries\"\nreason = \"the batch reader retries with a stale key id (ticket OPS-77)\"\nrules = [\"decrypt_failures\"]\nprincipal = \"arn:aws:iam::111122223333:role/batch-reader\"\n"
                .to_vec()
                .into(),
        )
        .send()
        .await
        .expect("config");
    env.enricher.config.tuning = std::sync::Arc::new(keytrail::TuningSource::new(
        Some(keytrail::ConfigLocation {
            bucket: BUCKET.into(),
            key: "keytrail/config.toml".into(),
        }),
        std::time::Duration::from_secs(300),
    ));
    let report = env
        .enricher
        .handle(&alarm_event("sns-decrypt-failures.json"))
        .await
        .expect("handler");
    let (_, body, _) = notification(&env).await;
    let inv = record(&env, &report).await;
    assert_eq!(
        inv.count, 17,
        "the 20 planted failures are silenced: {body}"
    );
    assert_eq!(inv.suppressed.get("batch-reader-retries"), Some(&20));
    assert_eq!(
        inv.rule.as_ref().map(|r| r.severity),
        Some(keytrail::Severity::High),
        "the file's severity reaches the investigation"
    );
    assert!(
        !inv.principals
            .iter()
            .any(|p| p.principal.ends_with("role/batch-reader")),
        "{:?}",
        inv.principals
    );
    assert!(
        body.contains("SUPPRESSED: matching events silenced by the configuration file (not counted above): 20 by batch-reader-retries."),
        "{body}"
    );
}

#[tokio::test]
async fn chatbot_option_publishes_a_custom_notification_beside_the_email_text() {
    let env = env_full(false, true, false).await;
    env.enricher
        .handle(&alarm_event("sns-decrypt-failures.json"))
        .await
        .expect("handler");
    // The e-mail subscribers still get the plain text on the alerts topic.
    let (subject, body, _) = notification(&env).await;
    assert!(body.contains("PLAYBOOK"), "{body}");

    let chat_queue = env.chatbot_queue_url.as_deref().expect("chatbot queue");
    let (chat_subject, message, attrs) = receive_one(&env, chat_queue).await;
    assert_eq!(chat_subject, subject);
    assert_eq!(attrs["rule"]["Value"], "decrypt_failures");
    let n: Value = serde_json::from_str(&message).expect("the message is Chatbot's JSON");
    assert_eq!(n["version"], "1.0");
    assert_eq!(n["source"], "custom");
    let content = &n["content"];
    assert_eq!(content["textType"], "client-markdown");
    assert_eq!(content["title"], subject.as_str());
    let d = content["description"].as_str().expect("description");
    for needle in [
        "*Who*",
        "`arn:aws:iam::111122223333:role/batch-reader` × 20",
        "*From*",
        "`198.51.100.23` (public) × 20",
        "*Keys*",
        "`alias/payroll` state `Enabled`",
        "37 matching events",
        "*Partial*: 1 log files could not be read",
        "Investigation record: `s3://keytrail-test-trail/keytrail/investigations/2026/10/04/",
    ] {
        assert!(d.contains(needle), "missing {needle:?} in\n{d}");
    }
    let playbook = keytrail::RULES
        .iter()
        .find(|r| r.id == "decrypt_failures")
        .expect("rule")
        .playbook;
    assert_eq!(content["nextSteps"], serde_json::json!([playbook[0]]));
    assert_eq!(
        content["keywords"],
        serde_json::json!(["keytrail", "medium", "decrypt_failures", "111122223333"])
    );
    let meta = &n["metadata"];
    assert_eq!(meta["eventType"], "keytrail-investigation");
    assert_eq!(meta["summary"], subject.as_str());
    assert!(meta["threadId"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(
        meta["relatedResources"]
            .as_array()
            .expect("resources")
            .contains(&Value::String(env.key_arn.clone())),
        "{meta}"
    );
    assert_eq!(meta["additionalContext"]["events"], "37");
}

/// An SNS alarm notification for one of the catalog's metrics, made from the
/// pending-deletion fixture with the alarm's name, metric and time replaced.
fn alarm_for(metric: &str, alarm_name: &str, state_change: &str) -> Value {
    let mut event = alarm_event("sns-pending-deletion.json");
    let sns = &mut event["Records"][0]["Sns"];
    let mut message: Value =
        serde_json::from_str(sns["Message"].as_str().expect("message")).expect("alarm JSON");
    message["AlarmName"] = json!(alarm_name);
    message["AlarmDescription"] = json!(format!("keytrail alarm on KMSAudit/{metric}"));
    message["AlarmArn"] = json!(format!(
        "arn:aws:cloudwatch:us-east-1:111122223333:alarm:{alarm_name}"
    ));
    message["StateChangeTime"] = json!(state_change);
    message["Trigger"]["MetricName"] = json!(metric);
    sns["Subject"] = json!(format!("ALARM: \"{alarm_name}\" in US East (N. Virginia)"));
    sns["Message"] = json!(message.to_string());
    event
}

#[tokio::test]
async fn key_made_public_alarm_is_enriched_with_its_playbook_and_the_public_statement() {
    let env = env().await;
    // The sample tree's case 8: deploy-bot's PutKeyPolicy at 03:53:02 with
    // {"AWS": "*"} and no condition.
    let report = env
        .enricher
        .handle(&alarm_for(
            "KMSKeyMadePublic",
            "keytrail-key_made_public",
            "2026-10-04T04:00:00.000+0000",
        ))
        .await
        .expect("handler");
    let (subject, body, attrs) = notification(&env).await;
    assert!(
        subject.starts_with("[CRITICAL] key_made_public: 1 event"),
        "{subject}"
    );
    for needle in [
        "user/deploy-bot",
        "203.0.113.77",
        "PutKeyPolicy",
        "PLAYBOOK",
        "Restore a private policy now",
        "Find the statement that lets",
    ] {
        assert!(body.contains(needle), "missing {needle:?} in\n{body}");
    }
    assert_eq!(attrs["severity"]["Value"], "critical");
    assert_eq!(attrs["rule"]["Value"], "key_made_public");
    assert_eq!(
        record(&env, &report).await.count,
        1,
        "case 9 is confined by aws:PrincipalOrgID"
    );
}
