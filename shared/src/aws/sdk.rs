//! The SDK configuration, loaded once per cold start.

/// Loads the shared SDK configuration once per cold start. The SDK honours
/// `AWS_ENDPOINT_URL`, which is how tests reach moto.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
