//! Amazon Data Firehose through the SDK: the log processor's usage-table rows
//! (`detect::usage_rows`) sent to the delivery stream, which converts them to
//! Parquet under `keytrail/usage/`.

use std::time::Duration;

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;

use crate::aws::ports::AwsError;

/// PutRecordBatch's limits: 500 records and 4 MiB a call.
const MAX_RECORDS_PER_CALL: usize = 500;
const MAX_BYTES_PER_CALL: usize = 4 * 1024 * 1024;
/// Attempts for the records a call did not take (throttling, a service error).
const ATTEMPTS: u32 = 4;

/// The delivery stream the processor sends its rows to.
#[derive(Clone, Debug)]
pub struct UsageStream {
    pub client: aws_sdk_firehose::Client,
    /// `KEYTRAIL_USAGE_STREAM`.
    pub name: String,
}

impl UsageStream {
    /// Sends `records`; the ones a call refuses are sent again, up to [`ATTEMPTS`]
    /// times, before it fails. A failure fails the file, whose retry sends a new
    /// delivery: the review counts one complete delivery per file, so records that
    /// did land are not counted twice.
    pub async fn send(&self, records: Vec<Vec<u8>>) -> Result<(), AwsError> {
        let mut pending: Vec<Vec<u8>> = records;
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let mut refused = Vec::new();
            for batch in batches(&pending) {
                let out = self
                    .client
                    .put_record_batch()
                    .delivery_stream_name(&self.name)
                    .set_records(Some(
                        batch
                            .iter()
                            .map(|r| Record::builder().data(Blob::new((*r).clone())).build())
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| self.error(e.to_string()))?,
                    ))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("PutRecordBatch", self.name.clone(), e))?;
                if out.failed_put_count() > 0 {
                    let mut last = None;
                    for (r, answer) in batch.iter().zip(out.request_responses()) {
                        if answer.error_code().is_some() {
                            last = answer.error_code().map(str::to_owned);
                            refused.push((*r).clone());
                        }
                    }
                    if attempt >= ATTEMPTS {
                        return Err(AwsError {
                            operation: "PutRecordBatch",
                            target: self.name.clone(),
                            message: format!(
                                "{} of {} records refused after {ATTEMPTS} attempts ({})",
                                refused.len(),
                                pending.len(),
                                last.as_deref().unwrap_or("no error code")
                            ),
                            code: last,
                        });
                    }
                }
            }
            pending = refused;
            if !pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
        }
        Ok(())
    }

    fn error(&self, message: String) -> AwsError {
        AwsError {
            operation: "PutRecordBatch",
            target: self.name.clone(),
            message,
            code: None,
        }
    }
}

/// The records in calls within PutRecordBatch's limits.
fn batches(records: &[Vec<u8>]) -> Vec<Vec<&Vec<u8>>> {
    let mut out: Vec<Vec<&Vec<u8>>> = Vec::new();
    let mut current: Vec<&Vec<u8>> = Vec::new();
    let mut size = 0;
    for r in records {
        if !current.is_empty()
            && (current.len() == MAX_RECORDS_PER_CALL || size + r.len() > MAX_BYTES_PER_CALL)
        {
            out.push(std::mem::take(&mut current));
            size = 0;
        }
        size += r.len();
        current.push(r);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Builds a Firehose client.
pub fn firehose_client(sdk: &aws_config::SdkConfig) -> aws_sdk_firehose::Client {
    aws_sdk_firehose::Client::new(sdk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_to_the_call_limits() {
        let small = vec![vec![b'x'; 10]; 1_201];
        let b = batches(&small);
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![500, 500, 201]
        );
        let big = vec![vec![b'x'; 1_000 * 1024]; 9];
        let b = batches(&big);
        assert!(
            b.iter()
                .all(|c| c.iter().map(|r| r.len()).sum::<usize>() <= MAX_BYTES_PER_CALL)
        );
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 9);
        assert!(batches(&[]).is_empty());
    }
}
