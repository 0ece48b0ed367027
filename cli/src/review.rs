//! `keytrail review`: the monthly review over a local log tree.

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::Result;
use chrono::Utc;
use keytrail::Summary;
use keytrail::{AnalysisOptions, analyse};
use keytrail::{
    Baseline, Coverage, KeyInfo, Month, Report, ReviewInput, ReviewSettings, Scope, TrailInfo,
    build_report, delivery_coverage, updated_baseline,
};
use keytrail::{non_log_reason, parse_log_key};
use rayon::prelude::*;

use crate::files::{CannotOpen, collect_files, display, open, progress, warn_no_logs};

/// Where the month's usage comes from.
pub enum Source {
    /// Log files and directories.
    Logs(Vec<PathBuf>),
    /// The KMS usage table, through Athena (`--engine athena`).
    UsageTable { table: String, workgroup: String },
}

pub struct ReviewArgs {
    pub source: Source,
    pub month: Month,
    pub aws: bool,
    pub progress: bool,
    /// The previous baseline (new principals, trends), as the Lambda loads it.
    pub baseline: Option<std::sync::Arc<Baseline>>,
    /// Whether the baseline after this month is saved (`--baseline-out`).
    pub save_baseline: bool,
    pub limits: keytrail::ReadLimits,
    pub tuning: std::sync::Arc<keytrail::Tuning>,
}

/// Reads the month's log files (by the date in their CloudTrail names; files outside
/// the layout are read and filtered by event time) and builds the report, with the
/// baseline after this month (what the monthly-review Lambda saves).
pub fn run(args: &ReviewArgs) -> Result<(Report, Baseline)> {
    if args.aws || matches!(args.source, Source::UsageTable { .. }) {
        // Before reading any log: the month's files can take a while.
        check_aws_support()?;
    }
    let month = args.month;
    let (usage, coverage, scope) = match &args.source {
        Source::Logs(paths) => from_logs(paths, args)?,
        Source::UsageTable { table, workgroup } => from_usage_table(table, workgroup, month)?,
    };
    let (keys, trails) = if args.aws {
        live_sources()?
    } else {
        (None, None)
    };
    let baseline = args.baseline.as_deref();
    let report = build_report(&ReviewInput {
        month,
        usage: &usage,
        coverage,
        keys,
        trails,
        baseline,
        settings: &ReviewSettings {
            tuning: args.tuning.clone(),
            ..ReviewSettings::default()
        },
        generated_at: Utc::now(),
        scope,
        baseline_saved: args.save_baseline,
    });
    let next = updated_baseline(baseline, month, &usage, &report);
    Ok((report, next))
}

/// The month's usage from log files (by the date in their CloudTrail names; files
/// outside the layout are read and filtered by event time).
fn from_logs(paths: &[PathBuf], args: &ReviewArgs) -> Result<(Summary, Coverage, Scope)> {
    let month = args.month;
    let logs: Vec<PathBuf> = collect_files(paths)?
        .into_iter()
        .filter(|p| non_log_reason(&display(p)).is_none())
        .collect();
    let any_logs = !logs.is_empty();
    let files: Vec<PathBuf> = logs
        .into_iter()
        .filter(|p| {
            parse_log_key(&display(p)).is_none_or(|k| {
                let d = k.date;
                d >= month.first_day() && d < month.next().first_day()
            })
        })
        .collect();
    if !any_logs {
        warn_no_logs(paths, "");
    } else if files.is_empty() {
        warn_no_logs(paths, &format!(" for {month}"));
    }
    let log_keys: Vec<_> = files
        .iter()
        .filter_map(|p| parse_log_key(&display(p)))
        .collect();
    let deliveries: Vec<_> = log_keys.iter().map(|k| k.delivered).collect();
    let scope = Scope::from_pairs(
        log_keys
            .iter()
            .map(|k| (k.account.as_str(), k.region.as_str())),
    );
    let bar = progress(files.len(), args.progress);
    let opts = AnalysisOptions {
        since: Some(month.start()),
        until: Some(month.end()),
        limits: args.limits,
        tuning: args.tuning.clone(),
        ..AnalysisOptions::default()
    };
    let summaries: Vec<Result<Summary, CannotOpen>> = files
        .par_iter()
        .map(|p| {
            let shown = display(p);
            let r = open(p, &shown).map(|f| {
                let a = analyse(&shown, BufReader::new(f), &opts);
                if let Some(e) = &a.error {
                    eprintln!("warning: {e}");
                }
                a.summary
            });
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let mut usage = Summary::default();
    for s in summaries {
        match s {
            Ok(s) => usage.merge(&s),
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    // Each cross-account call once, as the caller's copy (the review's rule, the
    // same as the monthly-review Lambda's).
    usage.count_shared_events_once();
    let mut coverage = delivery_coverage(month, deliveries);
    coverage.engine = "logs".into();
    coverage.days_backfilled = usage.days.keys().cloned().collect();
    Ok((usage, coverage, scope))
}

/// The month's usage from the KMS usage table, through Athena.
#[cfg(feature = "aws")]
fn from_usage_table(
    table: &str,
    workgroup: &str,
    month: Month,
) -> Result<(Summary, Coverage, Scope)> {
    use anyhow::Context;
    use keytrail::{AthenaQueries, athena_client, keep_month, load_sdk_config, read_month};
    keytrail::check_table(table)?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let m = rt.block_on(async {
        let sdk = load_sdk_config().await;
        let athena = AthenaQueries {
            client: athena_client(&sdk),
            workgroup: workgroup.to_owned(),
        };
        read_month(&athena, table, month)
            .await
            .with_context(|| format!("the usage table {table} (workgroup {workgroup})"))
    })?;
    eprintln!(
        "usage table {table}: {} log files, {} result rows, {} bytes scanned",
        m.usage.summary.files, m.stats.rows, m.stats.bytes_scanned
    );
    let scope = Scope::from_pairs(
        m.usage
            .scope
            .iter()
            .map(|(a, r, _)| (a.as_str(), r.as_str())),
    );
    let mut usage = m.usage.summary;
    keep_month(&mut usage, month);
    Ok((usage, m.coverage, scope))
}

#[cfg(not(feature = "aws"))]
fn from_usage_table(_: &str, _: &str, _: Month) -> Result<(Summary, Coverage, Scope)> {
    anyhow::bail!("{NO_AWS_SUPPORT}")
}

type Sources = (Option<Vec<KeyInfo>>, Option<Vec<TrailInfo>>);

/// The message of `review --aws` in a binary built without the `aws` feature.
const NO_AWS_SUPPORT: &str = "--aws: this keytrail was built without AWS support \
(the keytrail-cli feature `aws`, off by default). Rebuild with it: \
`cargo install --path cli --features aws`, or run from the repository with \
`cargo run --release -p keytrail-cli --features aws -- review ... --aws` \
(`--engine athena` needs it too)";

fn check_aws_support() -> Result<()> {
    if cfg!(feature = "aws") {
        Ok(())
    } else {
        anyhow::bail!("{NO_AWS_SUPPORT}")
    }
}

#[cfg(not(feature = "aws"))]
fn live_sources() -> Result<Sources> {
    anyhow::bail!("{NO_AWS_SUPPORT}")
}

/// KMS and CloudTrail through the default credential chain.
#[cfg(feature = "aws")]
fn live_sources() -> Result<Sources> {
    use anyhow::Context;
    use keytrail::{
        AwsReviewSources, ReviewSources, cloudtrail_client, kms_client, load_sdk_config,
    };
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let sdk = load_sdk_config().await;
        let sources = AwsReviewSources {
            kms: kms_client(&sdk),
            cloudtrail: cloudtrail_client(&sdk),
            s3: keytrail::s3_client(&sdk),
        };
        let keys = sources.keys().await.context("KMS key inventory")?;
        let trails = sources.trails().await.context("CloudTrail configuration")?;
        Ok((Some(keys), Some(trails)))
    })
}
