//! Athena through the SDK: the monthly review's query over the KMS usage table,
//! started in the template's workgroup (which holds the results location, its
//! encryption and the bytes-scanned limit), polled, and read page by page.

use std::time::Duration;

use aws_sdk_athena::types::QueryExecutionState;
use tracing::info;

use crate::aws::ports::AwsError;

/// How long the review waits for a query (the Lambda has 15 minutes).
const QUERY_TIMEOUT: Duration = Duration::from_secs(600);

/// Athena in the review's workgroup.
#[derive(Clone, Debug)]
pub struct AthenaQueries {
    pub client: aws_sdk_athena::Client,
    /// `KEYTRAIL_ATHENA_WORKGROUP`.
    pub workgroup: String,
}

/// What a finished query cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryStats {
    pub bytes_scanned: u64,
    pub rows: u64,
    pub elapsed_ms: u64,
}

/// What a query's result hands its reader: first the column names, then each row.
pub enum ResultItem<'a> {
    Columns(&'a [String]),
    /// Column values as Athena gives them, `None` for null.
    Row(&'a [Option<String>]),
}

impl AthenaQueries {
    /// Runs `sql` and hands its result to `read`: the column names, then every row.
    /// Rows are read a page at a time, never all held. `read`'s own error stops the
    /// reading and comes back inside the `Ok`.
    pub async fn run<E>(
        &self,
        sql: &str,
        mut read: impl FnMut(ResultItem<'_>) -> Result<(), E>,
    ) -> Result<Result<QueryStats, E>, AwsError> {
        let started = self
            .client
            .start_query_execution()
            .query_string(sql)
            .work_group(&self.workgroup)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("StartQueryExecution", self.workgroup.clone(), e))?;
        let id = started
            .query_execution_id()
            .ok_or_else(|| self.error("StartQueryExecution", "no query execution id".into()))?
            .to_owned();
        info!(query = %id, workgroup = %self.workgroup, "usage-table query started");
        let deadline = tokio::time::Instant::now() + QUERY_TIMEOUT;
        let mut wait = Duration::from_millis(250);
        let mut stats = QueryStats::default();
        loop {
            let out = self
                .client
                .get_query_execution()
                .query_execution_id(&id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("GetQueryExecution", id.clone(), e))?;
            let exec = out.query_execution();
            let status = exec.and_then(|e| e.status());
            match status.and_then(|s| s.state()) {
                Some(QueryExecutionState::Succeeded) => {
                    if let Some(s) = exec.and_then(|e| e.statistics()) {
                        stats.bytes_scanned = s.data_scanned_in_bytes().unwrap_or(0).max(0) as u64;
                        stats.elapsed_ms =
                            s.engine_execution_time_in_millis().unwrap_or(0).max(0) as u64;
                    }
                    break;
                }
                Some(QueryExecutionState::Failed | QueryExecutionState::Cancelled) => {
                    let why = status
                        .and_then(|s| s.state_change_reason())
                        .unwrap_or("no reason given");
                    return Err(self.error(
                        "GetQueryExecution",
                        format!("query {id} did not succeed: {why}"),
                    ));
                }
                _ => {}
            }
            if tokio::time::Instant::now() + wait > deadline {
                // Do not leave it running (and scanning) after we give up.
                let _ = self
                    .client
                    .stop_query_execution()
                    .query_execution_id(&id)
                    .send()
                    .await;
                return Err(self.error(
                    "GetQueryExecution",
                    format!(
                        "query {id} still running after {} s; stopped",
                        QUERY_TIMEOUT.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
        let mut pages = self
            .client
            .get_query_results()
            .query_execution_id(&id)
            .max_results(1000)
            .into_paginator()
            .send();
        let mut names: Option<Vec<String>> = None;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("GetQueryResults", id.clone(), e))?;
            let Some(set) = page.result_set() else {
                continue;
            };
            let mut rows = set.rows().iter();
            if names.is_none() {
                let n: Vec<String> = set
                    .result_set_metadata()
                    .map(|m| {
                        m.column_info()
                            .iter()
                            .map(|c| c.name().to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                if let Err(e) = read(ResultItem::Columns(&n)) {
                    return Ok(Err(e));
                }
                // A SELECT's first row is its header.
                if let Some(first) = set.rows().first() {
                    let header: Vec<Option<&str>> =
                        first.data().iter().map(|d| d.var_char_value()).collect();
                    if header.iter().zip(&n).all(|(h, c)| *h == Some(c.as_str())) {
                        rows.next();
                    }
                }
                names = Some(n);
            }
            for r in rows {
                let cells: Vec<Option<String>> = r
                    .data()
                    .iter()
                    .map(|d| d.var_char_value().map(str::to_owned))
                    .collect();
                stats.rows += 1;
                if let Err(e) = read(ResultItem::Row(&cells)) {
                    return Ok(Err(e));
                }
            }
        }
        info!(query = %id, rows = stats.rows, bytes_scanned = stats.bytes_scanned, "usage-table query read");
        Ok(Ok(stats))
    }

    fn error(&self, operation: &'static str, message: String) -> AwsError {
        AwsError {
            operation,
            target: self.workgroup.clone(),
            message,
            code: None,
        }
    }
}

/// Why the month could not be read from the usage table.
#[derive(Debug, thiserror::Error)]
pub enum UsageQueryError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("the usage-table query's result: {0}")]
    Result(#[from] crate::review::usage_table::UsageTableError),
    #[error("the usage-table query returned no result set")]
    NoResult,
}

/// A month read from the usage table.
pub struct TableMonth {
    pub usage: crate::review::usage_table::MonthUsage,
    /// The delivery coverage, from the files the table holds.
    pub coverage: crate::review::month::Coverage,
    pub stats: QueryStats,
}

/// The Athena engine of the review (the Lambda's and `keytrail review --engine
/// athena`): the month aggregated by one query over the usage table `table`.
pub async fn read_month(
    athena: &AthenaQueries,
    table: &str,
    month: crate::review::month::Month,
) -> Result<TableMonth, UsageQueryError> {
    use crate::review::usage_table::{MonthUsageBuilder, UsageTableError, month_query};
    let sql = month_query(table, month)?;
    let mut builder: Option<MonthUsageBuilder> = None;
    let stats = athena
        .run(&sql, |item| match (item, builder.as_mut()) {
            (ResultItem::Columns(columns), _) => {
                builder = Some(MonthUsageBuilder::new(columns)?);
                Ok(())
            }
            (ResultItem::Row(row), Some(b)) => b.add(row),
            (ResultItem::Row(_), None) => Err(UsageTableError::MissingColumn("section")),
        })
        .await??;
    let usage = builder.ok_or(UsageQueryError::NoResult)?.finish();
    let mut coverage = crate::review::month::delivery_coverage_counted(month, usage.deliveries());
    coverage.engine = "athena".into();
    coverage.summaries = usage.summary.files;
    coverage.days_from_summaries = usage
        .delivered_hours
        .keys()
        .filter_map(|h| h.get(..10))
        .filter(|d| d.starts_with(&month.to_string()))
        .map(str::to_owned)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    info!(
        month = %month, files = usage.summary.files, rows = stats.rows,
        bytes_scanned = stats.bytes_scanned, "month read from the usage table"
    );
    Ok(TableMonth {
        usage,
        coverage,
        stats,
    })
}

/// Builds an Athena client.
pub fn athena_client(sdk: &aws_config::SdkConfig) -> aws_sdk_athena::Client {
    aws_sdk_athena::Client::new(sdk)
}
