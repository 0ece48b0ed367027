//! monthly-review: a month of usage summaries plus the KMS and CloudTrail configuration
//! -> report.json, report.md, report.html, an SNS summary and the updated baseline.
//! Wiring only; the handler is `keytrail::Reviewer`.

use keytrail::{
    AwsReviewSources, S3Store, SnsNotifier, cloudtrail_client, kms_client, load_sdk_config,
    s3_client, sns_client,
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
        AwsReviewSources {
            kms: kms_client(&sdk),
            cloudtrail: cloudtrail_client(&sdk),
            s3: s3_client(&sdk),
        },
        SnsNotifier {
            client: sns_client(&sdk),
        },
        config,
    );
    let reviewer = &reviewer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        reviewer.handle(&event.payload).await.map_err(Error::from)
    }))
    .await
}
