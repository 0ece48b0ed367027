//! The SDK configuration, loaded once per cold start, and the one HTTPS client every
//! SDK client in keytrail uses.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};

/// The HTTPS client of every SDK client: hyper with rustls on ring, the platform's root
/// certificates, and the proxy from `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`.
///
/// It is the SDK's own default client in all but the crypto provider: the SDK crates'
/// `default-https-client` puts rustls on aws-lc, whose C library would take the Lambda
/// binaries past their 8 MB budget. Like the default, it keeps one connection pool per
/// connector setting (timeouts), honours the client's sleep implementation, and reads
/// the proxy variables as the SDK does from behaviour version 2025-08-07 on, so a
/// responder's CLI behind a corporate proxy still reaches AWS.
pub fn https_client() -> aws_sdk_s3::config::SharedHttpClient {
    // `build_with_connector_fn` is how the SDK builds its default client (aws-smithy-
    // runtime's `default_https_client`); the public `build_https` sets no proxy.
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The SDK's default configuration loader with keytrail's HTTPS client: the region,
/// credentials and endpoint chains as the SDK reads them. Tests add their endpoint and
/// credentials to it.
pub fn sdk_defaults() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client())
}

/// Loads the shared SDK configuration once per cold start. The SDK honours
/// `AWS_ENDPOINT_URL`, which is how tests reach moto.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    sdk_defaults().load().await
}
