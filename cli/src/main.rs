//! `keytrail`: audit AWS KMS key usage in a local CloudTrail log tree. Needs no AWS account.

mod core;
mod enrich;
mod files;
mod generate;
mod review;
mod scan;
mod search;

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
    /// A record larger than this many MiB is counted as bad and stepped over without
    /// being held (1 to 1024).
    #[arg(long, global = true, value_name = "MIB", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    max_record_mib: u32,
    /// A configuration file (TOML): rule settings, suppressions, trusted accounts.
    /// See docs/tuning.md.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Read CloudTrail log files and report KMS activity, the metrics the log
    /// processor would emit, and the findings its alarms would raise.
    Scan {
        /// Log files or directories (walked recursively): .json.gz, .json, .jsonl.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print the machine-readable report (schema in docs/json.md) instead of
        /// tables: the same as `--format json`.
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// Output: `table`, `json` (the report, as --json), `asff` (a JSON array of
        /// Security Hub findings) or `ocsf` (OCSF 1.1.0 Detection Findings, one per
        /// line); docs/integrations.md.
        #[arg(long, value_enum, default_value = "table")]
        format: ScanFormat,
        /// Only events at or after this time: RFC 3339 (2026-10-04T03:00:00Z) or a
        /// date (2026-10-04, midnight UTC).
        #[arg(long, value_parser = parse_time)]
        since: Option<DateTime<Utc>>,
        /// Only events before this time: RFC 3339 or a date (midnight UTC, so
        /// `--until 2026-10-05` ends with October 4).
        #[arg(long, value_parser = parse_time)]
        until: Option<DateTime<Utc>>,
        /// Also count calls per key of each trail's own account (KMSApiCallsByKey).
        #[arg(long)]
        per_key_metrics: bool,
        /// Exit with status 3 when there is any finding.
        #[arg(long)]
        fail_on_findings: bool,
        /// The review's baseline (keytrail/state/baseline.json): enables unfamiliar_source_ip.
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Rows per table at most (table output only): a note under a longer table
        /// says how many rows were left out. `--json` output is always complete.
        #[arg(long, value_name = "N", default_value_t = DEFAULT_LIMIT, value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "json")]
        limit: u32,
        /// Worker threads (default: one per core).
        #[arg(long, value_name = "N", value_parser = parse_threads, allow_negative_numbers = true)]
        threads: Option<u16>,
    },
    /// Turn a CloudWatch alarm into an investigation from a local log tree: the
    /// alarm enricher's notification (or its investigation record with --json).
    Enrich {
        /// The alarm: an SNS Lambda event, an SNS message, or the bare alarm JSON.
        #[arg(long, value_name = "FILE")]
        alarm: PathBuf,
        /// Log files or directories (walked recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print the investigation record (JSON) instead of the notification text.
        #[arg(long)]
        json: bool,
        /// The metric namespace the alarms watch.
        #[arg(long, default_value = keytrail::DEFAULT_NAMESPACE)]
        namespace: String,
        /// Minutes CloudTrail may take to deliver (widens the window), 0 to 1440.
        #[arg(
            long,
            default_value_t = keytrail::DEFAULT_DELIVERY_LAG_MINUTES as i64,
            value_name = "MINUTES",
            allow_negative_numbers = true
        )]
        lag_minutes: i64,
        /// Table name for the prepared Athena query.
        #[arg(long, default_value = keytrail::DEFAULT_ATHENA_TABLE)]
        athena_table: String,
        /// The table's yyyy/MM/dd partition column, which limits the days the query
        /// reads (`none` for a table without one).
        #[arg(long, default_value = keytrail::DEFAULT_DATE_PARTITION, value_name = "COLUMN")]
        athena_date_partition: String,
        /// The review's baseline (keytrail/state/baseline.json): enables unfamiliar_source_ip.
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
    },
    /// The monthly compliance review from a local log tree: key x principal x operation
    /// inventory, unused keys, keys pending deletion, trends (and with --aws, the live
    /// key inventory and trail checks).
    Review {
        /// Log files or directories (walked recursively); none with `--engine athena`.
        #[arg(required_unless_present = "usage_table")]
        paths: Vec<PathBuf>,
        /// Where the month's usage comes from: `logs` (the files given) or `athena`
        /// (the KMS usage table the log processor fills, `--usage-table`, through
        /// Athena with the default credential chain; needs the `aws` feature).
        #[arg(long, value_enum, default_value = "logs")]
        engine: ReviewEngine,
        /// With `--engine athena`: the usage table, database.table (the stack's
        /// `UsageTable` output).
        #[arg(long, value_name = "DB.TABLE", required_if_eq("engine", "athena"))]
        usage_table: Option<String>,
        /// With `--engine athena`: the Athena workgroup to run the query in (the
        /// stack's `AthenaWorkGroupName` output).
        #[arg(long, value_name = "NAME", required_if_eq("engine", "athena"))]
        workgroup: Option<String>,
        /// The month to review, YYYY-MM.
        #[arg(long, value_parser = parse_month)]
        month: keytrail::Month,
        /// Output format.
        #[arg(long, value_enum, default_value = "md")]
        format: Format,
        /// Write to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The previous month's baseline (as written by --baseline-out, or the
        /// Lambda's keytrail/state/baseline.json): new principals and trends.
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Write the updated baseline, as the monthly-review Lambda saves it, to FILE
        /// (for `scan --baseline`, `enrich --baseline` and next month's review).
        #[arg(long, value_name = "FILE")]
        baseline_out: Option<PathBuf>,
        /// Add the live KMS inventory and CloudTrail checks (default credential chain).
        /// Needs a keytrail built with the `aws` feature
        /// (`cargo install --path cli --features aws`).
        #[arg(long)]
        aws: bool,
    },
    /// Find KMS events by exact encryption-context pairs, key, principal, IP or name.
    Search {
        /// Log files or directories (walked recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// An exact, case-sensitive encryption-context pair; repeat to require several.
        #[arg(long = "context", value_name = "K=V", value_parser = keytrail::parse_pair)]
        context: Vec<(String, String)>,
        /// A key ARN, key id, alias name (alias/x) or alias ARN.
        #[arg(long)]
        key: Option<String>,
        /// A principal: role ARN (matches all its sessions), user ARN, session ARN or account:<id>.
        #[arg(long)]
        principal: Option<String>,
        /// Exact source IP address (IPv4 or IPv6), or the AWS service a call came
        /// through as CloudTrail records it (kms.amazonaws.com, AWS Internal).
        #[arg(long, value_parser = parse_source_ip)]
        ip: Option<String>,
        /// Exact event name, e.g. Decrypt.
        #[arg(long)]
        event_name: Option<String>,
        /// Only events at or after this time: RFC 3339 (2026-10-04T03:00:00Z) or a
        /// date (2026-10-04, midnight UTC).
        #[arg(long, value_parser = parse_time)]
        since: Option<DateTime<Utc>>,
        /// Only events before this time: RFC 3339 or a date (midnight UTC, so
        /// `--until 2026-10-05` ends with October 4).
        #[arg(long, value_parser = parse_time)]
        until: Option<DateTime<Utc>>,
        /// Every KMS event, unfiltered (search otherwise needs at least one filter).
        #[arg(long, conflicts_with_all = ["context", "key", "principal", "ip", "event_name", "since", "until"])]
        all: bool,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        /// Rows per table at most (table output only): a note under a longer table
        /// says how many rows were left out. `--json` output is always complete.
        #[arg(long, value_name = "N", default_value_t = DEFAULT_LIMIT, value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "json")]
        limit: u32,
    },
    /// The log processor's core on one file, without the network: parse, catalog,
    /// metric datums and the gzipped summary; prints counts as JSON (benchmarks).
    #[command(hide = true)]
    Core {
        /// A CloudTrail log file (.json.gz or .json).
        file: PathBuf,
        /// Only decompress (the physical floor the core is measured against).
        #[arg(long, conflicts_with = "validate_only")]
        decompress_only: bool,
        /// Decompress into memory, then only check that it is JSON, with the
        /// fastest validating pass measured here (serde_json skipping every value):
        /// the floor of any reader that reports damage. Holds the whole file.
        #[arg(long)]
        validate_only: bool,
    },
    /// Check a configuration file, or show the effective settings (the catalog's
    /// defaults merged with `--config FILE`).
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Write a reference workload (benchmarks, equivalence tests) under DIR in the
    /// CloudTrail S3 layout; prints what was written as JSON. Deterministic per seed.
    #[command(hide = true)]
    Generate {
        #[arg(value_enum)]
        workload: Workload,
        /// Output directory (AWSLogs/... is created inside).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Records per delivery (W1 default 60000, W2 default 60).
        #[arg(long)]
        records: Option<usize>,
        /// W1 only: records until the JSON is at least this many MB (instead of
        /// --records).
        #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u32).range(1..))]
        size_mb: Option<u32>,
        /// W1 only: gzip as concatenated members, a new one every MB of JSON (the
        /// boundaries fall inside records).
        #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u32).range(1..))]
        gzip_member_mb: Option<u32>,
        /// Days of deliveries (W2 only).
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// `--limit`'s default: the rows a table shows before its note says how many more
/// there are. Tables are built in memory before they are printed (their columns are
/// as wide as their widest cell), so the cap also bounds the memory of table output.
const DEFAULT_LIMIT: u32 = 1000;

/// The reference workloads of `keytrail generate`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Workload {
    /// One delivery of --records records (default 60,000: about 70 MB of JSON).
    W1,
    /// A month of deliveries every 30 minutes (--records each, default 60), with digests.
    W2,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ScanFormat {
    Table,
    Json,
    Asff,
    Ocsf,
}

/// Where `review` reads the month's usage.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReviewEngine {
    Logs,
    Athena,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Json,
    Md,
    Html,
}

/// `search --ip`: what CloudTrail writes in `sourceIPAddress`, an address or a service.
fn parse_source_ip(s: &str) -> Result<String, String> {
    let v = s.trim();
    if v.parse::<std::net::IpAddr>().is_ok() || keytrail::is_service_source(v) {
        Ok(v.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a valid IP address (IPv4 such as 203.0.113.7 or IPv6 such as 2001:db8::1; no CIDR ranges), nor an AWS service source such as kms.amazonaws.com"
        ))
    }
}

/// `scan --threads`: negative numbers reach here (not clap's "unexpected argument").
fn parse_threads(s: &str) -> Result<u16, String> {
    match s.parse::<i64>() {
        Ok(n) if (1..=i64::from(u16::MAX)).contains(&n) => Ok(n as u16),
        Ok(n) => Err(format!("must be between 1 and {}, got {n}", u16::MAX)),
        Err(_) => Err(format!("{s:?} is not a number of threads")),
    }
}

fn parse_month(s: &str) -> Result<keytrail::Month, String> {
    keytrail::Month::parse(s).ok_or_else(|| format!("{s:?} is not a month such as 2026-10"))
}

/// Reads a baseline written by the monthly review.
fn load_baseline(
    path: Option<&std::path::Path>,
) -> Result<Option<std::sync::Arc<keytrail::Baseline>>> {
    let Some(path) = path else { return Ok(None) };
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let b = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a keytrail baseline: {e}", path.display()))?;
    Ok(Some(std::sync::Arc::new(b)))
}

/// A time argument: RFC 3339, or a date (YYYY-MM-DD) meaning midnight UTC.
fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(format!(
        "{s:?} is neither an RFC 3339 time such as 2026-10-04T03:00:00Z nor a date such as 2026-10-04 (midnight UTC)"
    ))
}

/// Writes to standard output. A reader that went away (`keytrail scan ... | head`)
/// ends the output quietly, as it does for other Unix tools, instead of a panic.
fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Validate FILE; exit 0 when it can be used, 2 with the file, line and field
    /// when not.
    Check { file: PathBuf },
    /// Print the effective settings as JSON: every rule's enabled, threshold, period
    /// and severity, the trusted accounts and the suppressions.
    Show,
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
    let limits = keytrail::ReadLimits {
        max_record_bytes: (cli.max_record_mib as usize) << 20,
    };
    let tuning = std::sync::Arc::new(match &cli.config {
        Some(path) => keytrail::Tuning::load(path)?,
        None => keytrail::Tuning::default(),
    });
    match cli.command {
        Command::Scan {
            paths,
            json,
            format,
            since,
            until,
            per_key_metrics,
            fail_on_findings,
            baseline,
            threads,
            limit,
        } => {
            if let Some(n) = threads {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(usize::from(n))
                    .build_global()?;
            }
            if let (Some(s), Some(u)) = (since, until)
                && s >= u
            {
                anyhow::bail!("--since ({s}) must be before --until ({u})");
            }
            let format = if json { ScanFormat::Json } else { format };
            let report = scan::run(&scan::ScanArgs {
                paths,
                since,
                until,
                per_key_metrics,
                progress: format == ScanFormat::Table,
                baseline: load_baseline(baseline.as_deref())?,
                limits,
                tuning: tuning.clone(),
            })?;
            match format {
                ScanFormat::Json => emit(&(serde_json::to_string_pretty(&report)? + "\n"))?,
                ScanFormat::Table => emit(&scan::render(&report, limit as usize))?,
                ScanFormat::Asff => emit(&scan::asff(&report, Utc::now())?)?,
                ScanFormat::Ocsf => emit(&scan::ocsf(&report, Utc::now())?)?,
            }
            Ok(if fail_on_findings && !report.findings.is_empty() {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Enrich {
            alarm,
            paths,
            json,
            namespace,
            lag_minutes,
            athena_table,
            athena_date_partition,
            baseline,
        } => {
            if !(0..=24 * 60).contains(&lag_minutes) {
                anyhow::bail!(
                    "--lag-minutes must be between 0 and 1440 minutes, got {lag_minutes}"
                );
            }
            let inv = enrich::run(&enrich::EnrichArgs {
                alarm,
                paths,
                namespace,
                lag: chrono::Duration::minutes(lag_minutes),
                athena_table,
                athena_date_partition: keytrail::date_partition(Some(athena_date_partition))
                    .map_err(|e| anyhow::anyhow!("--athena-date-partition: {e}"))?,
                progress: !json,
                baseline: load_baseline(baseline.as_deref())?,
                limits,
                tuning: tuning.clone(),
            })?;
            if json {
                emit(&(serde_json::to_string_pretty(&inv)? + "\n"))?;
            } else {
                emit(&format!(
                    "Subject: {}\n\n{}",
                    keytrail::notification_subject(&inv),
                    keytrail::notification_body(&inv)
                ))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Review {
            paths,
            engine,
            usage_table,
            workgroup,
            month,
            format,
            out,
            baseline,
            baseline_out,
            aws,
        } => {
            let source = match (engine, usage_table, workgroup) {
                (ReviewEngine::Athena, Some(table), Some(workgroup)) => {
                    review::Source::UsageTable { table, workgroup }
                }
                (ReviewEngine::Athena, ..) => {
                    anyhow::bail!("--engine athena needs --usage-table and --workgroup")
                }
                (ReviewEngine::Logs, Some(_), _) | (ReviewEngine::Logs, _, Some(_)) => {
                    anyhow::bail!("--usage-table and --workgroup go with --engine athena")
                }
                (ReviewEngine::Logs, None, None) => review::Source::Logs(paths),
            };
            let (report, next) = review::run(&review::ReviewArgs {
                source,
                month,
                aws,
                progress: true,
                baseline: load_baseline(baseline.as_deref())?,
                save_baseline: baseline_out.is_some(),
                limits,
                tuning: tuning.clone(),
            })?;
            if let Some(path) = &baseline_out {
                let state = serde_json::to_vec_pretty(&next)?;
                std::fs::write(path, state)
                    .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?;
            }
            let text = match format {
                Format::Json => serde_json::to_string_pretty(&report)?,
                Format::Md => keytrail::render_markdown(&report),
                Format::Html => keytrail::render_html(&report),
            };
            match out {
                Some(path) => std::fs::write(&path, text)
                    .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?,
                None => emit(&text)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Search {
            paths,
            context,
            key,
            principal,
            ip,
            event_name,
            since,
            until,
            all,
            json,
            limit,
        } => {
            let filter = keytrail::SearchFilter {
                context,
                key,
                principal,
                ip,
                event_name,
                since,
                until,
            };
            if filter.is_empty() && !all {
                anyhow::bail!(
                    "search needs at least one filter: --context K=V, --key, --principal, --ip, --event-name, --since or --until (or --all for every KMS event)"
                );
            }
            if let (Some(s), Some(u)) = (filter.since, filter.until)
                && s >= u
            {
                anyhow::bail!("--since ({s}) must be before --until ({u})");
            }
            // The JSON lines hold every match; a table only the first `limit`.
            let keep = (!json).then_some(limit as usize);
            let out = search::run(&paths, &filter, !json, keep, limits)?;
            for p in &out.problems {
                eprintln!("warning: {p}");
            }
            if json {
                use std::io::Write;
                let mut stdout = std::io::stdout().lock();
                for m in &out.matches {
                    match writeln!(stdout, "{}", serde_json::to_string(m)?) {
                        // The reader went away (`| head`): stop quietly.
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
                        other => other?,
                    }
                }
            } else {
                emit(&search::render(&out))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Core {
            file,
            decompress_only,
            validate_only,
        } => {
            let mode = if decompress_only {
                core::Mode::DecompressOnly
            } else if validate_only {
                core::Mode::ValidateOnly
            } else {
                core::Mode::Core
            };
            emit(&(serde_json::to_string(&core::run(&file, mode, limits)?)? + "\n"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { action } => {
            match action {
                ConfigAction::Check { file } => {
                    let t = keytrail::Tuning::load(&file)?;
                    emit(&format!(
                        "{}: ok: {} rule(s) changed, {} suppression(s), {} trusted account(s)\n",
                        file.display(),
                        t.changed_rules(),
                        t.suppressions.len(),
                        t.trusted_accounts.len()
                    ))?;
                }
                ConfigAction::Show => {
                    emit(&(serde_json::to_string_pretty(&tuning.show())? + "\n"))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate {
            workload,
            out,
            records,
            size_mb,
            gzip_member_mb,
            days,
            seed,
        } => {
            let written = match workload {
                Workload::W1 => generate::single(
                    &out,
                    records,
                    size_mb.map(|n| n as usize),
                    gzip_member_mb.map(|n| n as usize),
                    seed,
                )?,
                Workload::W2 => {
                    if size_mb.is_some() || gzip_member_mb.is_some() {
                        anyhow::bail!("--size-mb and --gzip-member-mb are for W1 only");
                    }
                    generate::month(&out, days, records.unwrap_or(60), seed)?
                }
            };
            emit(&(serde_json::to_string(&written)? + "\n"))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
