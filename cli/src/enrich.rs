//! `keytrail enrich`: the alarm enricher's investigation, offline, over a local log tree.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use chrono::{Duration, Utc};
use keytrail::{
    Evidence, FailedObject, GatherInfo, Investigation, InvestigationInputs, Plan,
    build_investigation, gather_file, plan_for,
};
use keytrail::{Payload, parse_payload};
use keytrail::{non_log_reason, parse_log_key};
use rayon::prelude::*;

use crate::files::{CannotOpen, collect_files, display, open, progress, warn_no_logs};

pub struct EnrichArgs {
    pub alarm: PathBuf,
    pub paths: Vec<PathBuf>,
    pub namespace: String,
    pub lag: Duration,
    pub athena_table: String,
    pub athena_date_partition: Option<String>,
    pub progress: bool,
    pub baseline: Option<std::sync::Arc<keytrail::Baseline>>,
    pub limits: keytrail::ReadLimits,
    pub tuning: std::sync::Arc<keytrail::Tuning>,
}

/// Builds the investigation for the alarm in `args.alarm` from the logs under `args.paths`.
pub fn run(args: &EnrichArgs) -> Result<Investigation> {
    let text = std::fs::read(&args.alarm)
        .with_context(|| format!("{}: cannot read", args.alarm.display()))?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("{}: not valid JSON", args.alarm.display()))?;
    let alarm = match parse_payload(&value) {
        Payload::Alarm(a) => a,
        Payload::NotAnAlarm(why) => {
            bail!("{}: not a CloudWatch alarm: {why}", args.alarm.display())
        }
        Payload::Malformed(why) => bail!("{}: unreadable alarm: {why}", args.alarm.display()),
    };
    let mut plan = plan_for(&alarm, &args.namespace, args.lag);
    if let Ok(p) = &mut plan {
        p.baseline = args.baseline.clone();
        p.tuning = args.tuning.clone();
    }
    let mut gather = GatherInfo {
        source: format!(
            "local logs under {}",
            args.paths
                .iter()
                .map(|p| display(p))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ..GatherInfo::default()
    };
    let mut evidence = Evidence::default();
    if let Ok(plan) = &plan {
        let files: Vec<PathBuf> = collect_files(&args.paths)?
            .into_iter()
            .filter(|p| non_log_reason(&display(p)).is_none())
            .collect();
        if files.is_empty() {
            warn_no_logs(&args.paths, "");
        }
        gather.files_listed = files.len() as u64;
        // Files named in the CloudTrail layout are chosen by delivery time; others are read.
        let selected: Vec<&PathBuf> = files
            .iter()
            .filter(|p| {
                parse_log_key(&display(p)).is_none_or(|k| plan.window.wants_delivery(k.delivered))
            })
            .collect();
        gather.files_selected = selected.len() as u64;
        let bar = progress(selected.len(), args.progress);
        let results: Vec<(String, Result<keytrail::FileEvidence, CannotOpen>)> = selected
            .par_iter()
            .map(|p| {
                let r = read(p, plan, args.limits);
                bar.inc(1);
                (display(p), r)
            })
            .collect();
        bar.finish_and_clear();
        for (path, r) in results {
            match r {
                Ok(fe) => {
                    gather.files_read += 1;
                    gather.records_scanned += fe.records;
                    if let Some(error) = fe.error {
                        gather.files_failed.push(FailedObject { key: path, error });
                    }
                    evidence.merge(fe.evidence);
                }
                Err(error) => gather.files_failed.push(FailedObject {
                    key: path,
                    error: error.to_string(),
                }),
            }
        }
    }
    let mut inv = build_investigation(
        InvestigationInputs {
            alarm: &alarm,
            plan: plan.as_ref(),
            gather,
            athena_table: &args.athena_table,
            athena_date_partition: args.athena_date_partition.as_deref(),
            now: Utc::now(),
        },
        evidence,
    );
    for k in inv.keys.iter_mut().filter(|k| k.key != "-") {
        k.unavailable.push(
            "key state, aliases and tags: not looked up offline (the Lambda asks KMS)".into(),
        );
    }
    Ok(inv)
}

fn read(
    path: &Path,
    plan: &Plan,
    limits: keytrail::ReadLimits,
) -> Result<keytrail::FileEvidence, CannotOpen> {
    let shown = display(path);
    let file = open(path, &shown)?;
    Ok(gather_file(&shown, BufReader::new(file), plan, limits))
}
