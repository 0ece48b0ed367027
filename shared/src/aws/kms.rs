//! KMS through the SDK: what the enricher asks about a key (read-only).

use crate::aws::ports::{AwsError, KeyDirectory, KeyMeta};

/// KMS through the SDK.
#[derive(Clone, Debug)]
pub struct KmsDirectory {
    pub client: aws_sdk_kms::Client,
}

impl KeyDirectory for KmsDirectory {
    async fn describe(&self, key: &str) -> Result<KeyMeta, AwsError> {
        let out = self
            .client
            .describe_key()
            .key_id(key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeKey", key.to_owned(), e))?;
        let m = out.key_metadata();
        Ok(KeyMeta {
            arn: m.and_then(|m| m.arn()).map(str::to_owned),
            state: m.and_then(|m| m.key_state()).map(|s| s.as_str().to_owned()),
            deletion_date: m.and_then(|m| m.deletion_date()).map(|d| {
                d.fmt(aws_sdk_kms::primitives::DateTimeFormat::DateTime)
                    .unwrap_or_default()
            }),
            description: m
                .and_then(|m| m.description())
                .filter(|d| !d.is_empty())
                .map(str::to_owned),
            manager: m
                .and_then(|m| m.key_manager())
                .map(|s| s.as_str().to_owned()),
        })
    }

    async fn aliases(&self, key: &str) -> Result<Vec<String>, AwsError> {
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_aliases()
            .key_id(key)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListAliases", key.to_owned(), e))?;
            names.extend(
                page.aliases()
                    .iter()
                    .filter_map(|a| a.alias_name().map(str::to_owned)),
            );
        }
        Ok(names)
    }

    async fn tags(&self, key: &str) -> Result<Vec<(String, String)>, AwsError> {
        let out = self
            .client
            .list_resource_tags()
            .key_id(key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListResourceTags", key.to_owned(), e))?;
        Ok(out
            .tags()
            .iter()
            .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
            .collect())
    }
}

/// Builds a KMS client.
pub fn kms_client(sdk: &aws_config::SdkConfig) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(sdk)
}
