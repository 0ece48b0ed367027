//! `keytrail`: audit AWS KMS key usage in a local CloudTrail log tree. Needs no AWS account.

mod scan;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "keytrail",
    version,
    about = "Audit AWS KMS key usage from CloudTrail logs, offline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read CloudTrail log files and report KMS activity, the metrics the log
    /// processor would emit, and the findings its alarms would raise.
    Scan {
        /// Log files or directories (walked recursively): .json.gz, .json, .jsonl.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print the machine-readable report (schema in the README) instead of tables.
        #[arg(long)]
        json: bool,
        /// Only events at or after this RFC 3339 time.
        #[arg(long, value_parser = parse_time)]
        since: Option<DateTime<Utc>>,
        /// Only events before this RFC 3339 time.
        #[arg(long, value_parser = parse_time)]
        until: Option<DateTime<Utc>>,
        /// Also count calls per key of each trail's own account (KMSApiCallsByKey).
        #[arg(long)]
        per_key_metrics: bool,
        /// Exit with status 3 when there is any finding.
        #[arg(long)]
        fail_on_findings: bool,
    },
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time such as 2026-10-04T03:00:00Z: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("keytrail: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Scan {
            paths,
            json,
            since,
            until,
            per_key_metrics,
            fail_on_findings,
        } => {
            if let (Some(s), Some(u)) = (since, until)
                && s >= u
            {
                anyhow::bail!("--since ({s}) must be before --until ({u})");
            }
            let report = scan::run(&scan::ScanArgs {
                paths,
                since,
                until,
                per_key_metrics,
                progress: !json,
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", scan::render(&report));
            }
            Ok(if fail_on_findings && !report.findings.is_empty() {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
