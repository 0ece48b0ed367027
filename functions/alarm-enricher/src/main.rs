//! alarm-enricher: CloudWatch alarm over SNS -> investigation from CloudTrail ->
//! enriched notification and investigation record. Wiring only; the handler is
//! `keytrail::Enricher`.

use keytrail::{Enricher, EnricherConfig};
use keytrail::{
    KmsDirectory, S3Store, SecurityHubImporter, SnsNotifier, kms_client, load_sdk_config,
    s3_client, securityhub_client, sns_client,
};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = EnricherConfig::from_env()?;
    let sdk = load_sdk_config().await;
    let enricher = Enricher::new(
        S3Store {
            client: s3_client(&sdk),
        },
        KmsDirectory {
            client: kms_client(&sdk),
        },
        SnsNotifier {
            client: sns_client(&sdk),
        },
        // Used only with KEYTRAIL_SECURITY_HUB=true; building it makes no call.
        SecurityHubImporter {
            client: securityhub_client(&sdk),
        },
        config,
    );
    let enricher = &enricher;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        enricher.handle(&event.payload).await.map_err(Error::from)
    }))
    .await
}
