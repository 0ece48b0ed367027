//! log-processor: CloudTrail log file in S3 -> CloudWatch metrics + per-file summary.
//! Wiring only; the handler is `keytrail::Processor`.

use keytrail::{CloudWatchSink, S3Store, cloudwatch_client, load_sdk_config, s3_client};
use keytrail::{Processor, ProcessorConfig};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = ProcessorConfig::from_env()?;
    let sdk = load_sdk_config().await;
    let processor = Processor::new(
        S3Store {
            client: s3_client(&sdk),
        },
        CloudWatchSink {
            client: cloudwatch_client(&sdk),
        },
        config,
    );
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
