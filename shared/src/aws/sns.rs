//! SNS through the SDK: notifications published to a topic.

use crate::aws::ports::{AwsError, Notifier};

/// SNS through the SDK.
#[derive(Clone, Debug)]
pub struct SnsNotifier {
    pub client: aws_sdk_sns::Client,
}

impl Notifier for SnsNotifier {
    async fn publish(
        &self,
        topic_arn: &str,
        subject: &str,
        body: &str,
        attributes: &[(&str, &str)],
    ) -> Result<(), AwsError> {
        let mut req = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .subject(subject)
            .message(body);
        for (name, value) in attributes {
            let attr = aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(*value)
                .build()
                .map_err(|e| AwsError {
                    operation: "Publish",
                    target: topic_arn.to_owned(),
                    message: e.to_string(),
                    code: None,
                })?;
            req = req.message_attributes(*name, attr);
        }
        req.send()
            .await
            .map_err(|e| AwsError::from_sdk("Publish", topic_arn.to_owned(), e))?;
        Ok(())
    }
}

/// Builds an SNS client.
pub fn sns_client(sdk: &aws_config::SdkConfig) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(sdk)
}
