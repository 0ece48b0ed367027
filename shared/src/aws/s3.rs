//! S3 through the SDK: objects streamed, listed (with the SDK's paginator) and put,
//! conditionally when asked.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;

use crate::aws::ports::{AwsError, BodyReader, Listing, ObjectStore, PutOutcome};

/// S3 through the SDK.
#[derive(Clone, Debug)]
pub struct S3Store {
    pub client: aws_sdk_s3::Client,
}

impl S3Store {
    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, AwsError> {
        self.client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetObject", format!("s3://{bucket}/{key}"), e))
    }
}

impl ObjectStore for S3Store {
    async fn get(&self, bucket: &str, key: &str) -> Result<(BodyReader, Option<String>), AwsError> {
        let out = self.get_object(bucket, key).await?;
        let etag = out.e_tag().map(str::to_owned);
        Ok((Box::pin(out.body.into_async_read()), etag))
    }

    async fn get_small(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
        let out = match self.get_object(bucket, key).await {
            Ok(out) => out,
            Err(e) if e.code.as_deref() == Some("NoSuchKey") => return Ok(None),
            Err(e) => return Err(e),
        };
        let bytes = out.body.collect().await.map_err(|e| AwsError {
            operation: "GetObject",
            target: format!("s3://{bucket}/{key}"),
            message: e.to_string(),
            code: None,
        })?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> Result<Listing, AwsError> {
        let mut out = Listing::default();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_delimiter(delimiter.map(str::to_owned))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                AwsError::from_sdk("ListObjectsV2", format!("s3://{bucket}/{prefix}"), e)
            })?;
            out.keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            out.prefixes.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned)),
            );
        }
        Ok(out)
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        if_absent: bool,
    ) -> Result<PutOutcome, AwsError> {
        let mut req = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body));
        if if_absent {
            req = req.if_none_match("*");
        }
        match req.send().await {
            Ok(_) => Ok(PutOutcome::Written),
            Err(e)
                if if_absent
                    && matches!(
                        e.code(),
                        Some("PreconditionFailed" | "ConditionalRequestConflict")
                    ) =>
            {
                Ok(PutOutcome::AlreadyExists)
            }
            Err(e) if if_absent && e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => {
                Ok(PutOutcome::AlreadyExists)
            }
            Err(e) => Err(AwsError::from_sdk(
                "PutObject",
                format!("s3://{bucket}/{key}"),
                e,
            )),
        }
    }
}

/// Builds an S3 client; path-style addressing when a custom endpoint is set
/// (emulators do not serve virtual-hosted buckets).
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
