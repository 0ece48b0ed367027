//! alarm-enricher: CloudWatch alarm over SNS -> investigation from CloudTrail ->
//! enriched notification and investigation record. Wiring only; the handler is
//! `keytrail::Enricher`.

use keytrail::{Enricher, EnricherConfig, load_sdk_config};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    keytrail::init_lambda_logging();
    let config = EnricherConfig::from_env()?;
    let enricher = Enricher::from_sdk(&load_sdk_config().await, config);
    let enricher = &enricher;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        enricher.handle(&event.payload).await.map_err(Error::from)
    }))
    .await
}
