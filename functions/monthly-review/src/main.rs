//! monthly-review: a month of usage (summaries, or the KMS usage table through Athena)
//! plus the KMS and CloudTrail configuration -> report.json, report.md, report.html,
//! an SNS summary and the updated baseline. Wiring only; the handler is
//! `keytrail::Reviewer`.

use keytrail::{ReviewConfig, Reviewer, load_sdk_config};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    keytrail::init_lambda_logging();
    let config = ReviewConfig::from_env()?;
    let reviewer = Reviewer::from_sdk(&load_sdk_config().await, config);
    let reviewer = &reviewer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        reviewer.handle(&event.payload).await.map_err(Error::from)
    }))
    .await
}
