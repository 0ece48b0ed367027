//! monthly-review: a month of usage summaries plus the KMS and CloudTrail configuration
//! -> report.json, report.md, report.html, an SNS summary and the updated baseline.
//! Wiring only; the handler is `keytrail::Reviewer`.

use keytrail::{
    AthenaQueries, AwsReviewSources, OrgReviewSources, S3Store, SnsNotifier, athena_client,
    cloudtrail_client, kms_client, load_sdk_config, s3_client, sns_client,
};
use keytrail::{ReviewConfig, Reviewer};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = ReviewConfig::from_env()?;
    let sdk = load_sdk_config().await;
    let reviewer = Reviewer::new(
        S3Store {
            client: s3_client(&sdk),
        },
        // The function's own account, and with KEYTRAIL_MEMBER_ROLE every member
        // account and Region of the month's logs.
        OrgReviewSources::new(
            AwsReviewSources {
                kms: kms_client(&sdk),
                cloudtrail: cloudtrail_client(&sdk),
                s3: s3_client(&sdk),
            },
            sdk.clone(),
            config.member_role.clone(),
            config.member_accounts.clone(),
            config.inventory_concurrency,
        ),
        SnsNotifier {
            client: sns_client(&sdk),
        },
        config,
    );
    // The Athena engine over the KMS usage table (the template's EnableUsageTable).
    let reviewer = match reviewer.config.athena_workgroup.clone() {
        Some(workgroup) if reviewer.config.usage_table.is_some() => {
            reviewer.with_athena(AthenaQueries {
                client: athena_client(&sdk),
                workgroup,
            })
        }
        _ => reviewer,
    };
    let reviewer = &reviewer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        reviewer.handle(&event.payload).await.map_err(Error::from)
    }))
    .await
}
