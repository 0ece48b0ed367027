//! CloudWatch through the SDK: metric datums published with PutMetricData.

use aws_sdk_cloudwatch::primitives::DateTime as CwDateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

use crate::aws::ports::{AwsError, MetricSink};
use crate::detect::metrics::Datum;

/// CloudWatch through the SDK.
#[derive(Clone, Debug)]
pub struct CloudWatchSink {
    pub client: aws_sdk_cloudwatch::Client,
}

impl MetricSink for CloudWatchSink {
    async fn put_metric_data(&self, namespace: &str, datums: &[Datum]) -> Result<(), AwsError> {
        let data: Vec<MetricDatum> = datums.iter().map(to_datum).collect();
        self.client
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutMetricData", namespace.to_owned(), e))?;
        Ok(())
    }
}

/// A datum with `Values=[1]`, `Counts=[n]`: n observations of 1, so `Sum` is the
/// call count and `SampleCount` stays meaningful.
fn to_datum(d: &Datum) -> MetricDatum {
    let dims: Vec<Dimension> = d
        .metric
        .dimensions
        .iter()
        .map(|(k, v)| Dimension::builder().name(k).value(v).build())
        .collect();
    MetricDatum::builder()
        .metric_name(&d.metric.name)
        .set_dimensions((!dims.is_empty()).then_some(dims))
        .timestamp(CwDateTime::from_secs(d.minute.timestamp()))
        .values(1.0)
        .counts(d.count as f64)
        .unit(StandardUnit::Count)
        .build()
}

/// Builds a CloudWatch client.
pub fn cloudwatch_client(sdk: &aws_config::SdkConfig) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(sdk)
}
