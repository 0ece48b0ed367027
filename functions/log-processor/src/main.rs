//! log-processor: CloudTrail log file in S3 -> CloudWatch metrics + per-file summary.
//! Wiring only; the handler is `keytrail::Processor`.

use keytrail::{
    CloudWatchSink, S3Store, UsageStream, cloudwatch_client, firehose_client, load_sdk_config,
    s3_client,
};
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
    // The KMS usage table's delivery stream (the template's EnableUsageTable).
    let processor = match processor.config.usage_stream.clone() {
        Some(name) => processor.with_usage_stream(UsageStream {
            client: firehose_client(&sdk),
            name,
        }),
        None => processor,
    };
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
