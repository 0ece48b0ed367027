//! log-processor: CloudTrail log file in S3 -> CloudWatch metrics + per-file summary
//! (+ the KMS usage table's rows, with the template's EnableUsageTable). Wiring only;
//! the handler is `keytrail::Processor`.

use keytrail::{Processor, ProcessorConfig, load_sdk_config};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    keytrail::init_lambda_logging();
    let config = ProcessorConfig::from_env()?;
    let processor = Processor::from_sdk(&load_sdk_config().await, config);
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = chrono::DateTime::from_timestamp_millis(event.context.deadline as i64);
        processor
            .handle(&event.payload, deadline)
            .await
            .map_err(Error::from)
    }))
    .await
}
