//! The monthly review's key inventory across an organisation, against moto: three
//! member accounts created through Organizations, keys in two Regions of each
//! (through AssumeRole, as moto keeps resources per account), logs from some of
//! them. The review assumes the member role in every account and Region; one
//! account refuses (the recording proxy fails its AssumeRole), and the report names
//! it while the others' keys are all in the inventory.

use std::collections::BTreeSet;

use chrono::Utc;
use keytrail::{MemberAccounts, ReviewConfig, Reviewer, kms_client, s3_client};
use keytrail_tests::{FaultProxy, MOTO_DEFAULT_ACCOUNT, Moto, as_account, decrypt_record, gz_log};
use serde_json::json;

const BUCKET: &str = "keytrail-org-trail";
const ORG: &str = "o-exampleorg1";
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const ROLE: &str = "keytrail-inventory-read";

async fn key_in(conf: &aws_config::SdkConfig, alias: &str) -> String {
    let kms = kms_client(conf);
    let arn = kms
        .create_key()
        .send()
        .await
        .expect("key")
        .key_metadata()
        .and_then(|m| m.arn())
        .expect("arn")
        .to_owned();
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(&arn)
        .send()
        .await
        .expect("alias");
    arn
}

/// A delivery of `account` in `region` (the organisation trail's layout).
fn org_delivery_key(account: &str, region: &str, t: chrono::DateTime<Utc>) -> String {
    format!(
        "AWSLogs/{ORG}/{account}/CloudTrail/{region}/{}/{account}_CloudTrail_{region}_{}_org.json.gz",
        t.format("%Y/%m/%d"),
        t.format("%Y%m%dT%H%MZ")
    )
}

#[tokio::test]
async fn the_inventory_spans_every_account_and_region_and_names_refusals() {
    let moto = Moto::start_multi_account();
    let direct = moto.sdk_config().await;
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let through = proxy.sdk_config().await;

    let org = aws_sdk_organizations::Client::new(&direct);
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("organization");
    let mut members = Vec::new();
    for name in ["prod", "data", "sandbox"] {
        let out = org
            .create_account()
            .account_name(name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .expect("account");
        members.push(
            out.create_account_status()
                .and_then(|s| s.account_id())
                .expect("account id")
                .to_owned(),
        );
    }
    let refusing = members[2].clone();

    // Keys: one in this account's us-east-1, one per Region in each member account.
    let mut expected = BTreeSet::new();
    expected.insert(key_in(&direct, "alias/home").await);
    for (i, account) in members.iter().enumerate() {
        for region in REGIONS {
            let conf = as_account(&direct, account, region, ROLE).await;
            let arn = key_in(&conf, &format!("alias/m{i}-{region}")).await;
            if *account != refusing {
                expected.insert(arn);
            }
        }
    }

    // Logs of this account (us-east-1) and the first member (eu-west-1): the scope.
    let s3 = s3_client(&direct);
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    let month = keytrail::Month::previous_of(Utc::now());
    let at: chrono::DateTime<Utc> = format!("{month}-12T09:05:00Z").parse().expect("t");
    for (account, region) in [
        (MOTO_DEFAULT_ACCOUNT, "us-east-1"),
        (members[0].as_str(), "eu-west-1"),
    ] {
        let key_arn = format!("arn:aws:kms:{region}:{account}:key/logged");
        let records = vec![decrypt_record(
            at,
            &format!("{account}-{region}"),
            "app",
            "10.0.0.9",
            &key_arn,
            None,
        )];
        s3.put_object()
            .bucket(BUCKET)
            .key(org_delivery_key(account, region, at))
            .body(gz_log(&records).into())
            .send()
            .await
            .expect("log");
    }

    // The third member account refuses the review's role (the form-encoded RoleArn
    // of its AssumeRole: the report, which names the account, must still be written).
    proxy.inject(keytrail_tests::Fault {
        marker: format!("RoleArn=arn%3Aaws%3Aiam%3A%3A{refusing}"),
        times: u32::MAX,
        status: 403,
        body: "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform sts:AssumeRole</Message></Error></ErrorResponse>".into(),
    });

    let config = ReviewConfig::from_lookup(|k| match k {
        "KEYTRAIL_LOG_BUCKET" => Some(BUCKET.into()),
        "KEYTRAIL_MEMBER_ROLE" => Some(ROLE.into()),
        "KEYTRAIL_MEMBER_ACCOUNTS" => Some("organization".into()),
        "KEYTRAIL_INVENTORY_CONCURRENCY" => Some("3".into()),
        _ => None,
    })
    .expect("config");
    // As the Lambda builds it.
    let reviewer = Reviewer::from_sdk(&through, config);
    assert_eq!(reviewer.sources.accounts, MemberAccounts::Organization);
    reviewer
        .handle(&json!({"detail-type": "Scheduled Event", "detail": {"month": month.to_string()}}))
        .await
        .expect("review");
    let body = s3
        .get_object()
        .bucket(BUCKET)
        .key(format!("keytrail/reviews/{month}/report.json"))
        .send()
        .await
        .expect("report")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    let report: keytrail::Report = serde_json::from_slice(&body).expect("report parses");

    let listed: BTreeSet<String> = report
        .keys
        .iter()
        .chain(&report.aws_managed_keys)
        .map(|k| k.key.clone())
        .filter(|k| !k.ends_with("/logged"))
        .collect();
    assert_eq!(
        listed, expected,
        "every readable account and Region, no other"
    );
    assert_eq!(report.inventory_source, "kms");
    // The refusing account is named for each Region, with AssumeRole's answer.
    let refused: Vec<(String, Option<String>)> = report
        .inventory_refusals
        .iter()
        .map(|r| (r.account.clone(), r.region.clone()))
        .collect();
    assert_eq!(
        refused,
        REGIONS
            .iter()
            .rev()
            .map(|r| (refusing.clone(), Some((*r).to_owned())))
            .collect::<Vec<_>>()
    );
    assert!(
        report
            .inventory_refusals
            .iter()
            .all(|r| r.reason.contains("AssumeRole") && r.reason.contains("AccessDenied")),
        "{:?}",
        report.inventory_refusals
    );
    let md = s3
        .get_object()
        .bucket(BUCKET)
        .key(format!("keytrail/reviews/{month}/report.md"))
        .send()
        .await
        .expect("md")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    let md = String::from_utf8(md.to_vec()).expect("utf8");
    assert!(
        md.contains("Inventory incomplete") && md.contains(&refusing),
        "{md}"
    );
}
