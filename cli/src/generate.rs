//! `keytrail generate` (hidden): the project's reference workloads, written as
//! CloudTrail writes them, for benchmarks and the before/after equivalence test.
//! The records and trees come from the workspace's one generator, `keytrail-testkit`
//! (also used by the criterion benches and the enricher bench).
//!
//! * **W1**: one delivery of 60,000 records (about 84 MB of JSON, 9 MB gzipped), the
//!   file of a busy account; or `--size-mb N` of records, optionally gzipped as
//!   several members (`--gzip-member-mb M`: the big-log benchmark).
//! * **W2**: a month of deliveries, 1,440 files of 60 records (every 30 minutes for
//!   30 days), with an hourly digest file, as CloudTrail lays them out in S3.

use std::path::Path;

use anyhow::{Result, bail};
use keytrail_testkit::Written;
use keytrail_testkit::{Size, month as month_tree, single_with};

const MB: usize = 1_000_000;

/// W1: one delivery of `records` records (default 60,000) or of at least `size_mb`
/// MB of JSON, gzipped as one member or one every `member_mb` MB of JSON.
pub fn single(
    out: &Path,
    records: Option<usize>,
    size_mb: Option<usize>,
    member_mb: Option<usize>,
    seed: u64,
) -> Result<Written> {
    let size = match (records, size_mb) {
        (Some(_), Some(_)) => bail!("give --records or --size-mb, not both"),
        (_, Some(mb)) => Size::Bytes(mb.saturating_mul(MB)),
        (n, None) => Size::Records(n.unwrap_or(60_000)),
    };
    Ok(single_with(out, size, member_mb.map(|m| m.saturating_mul(MB)), seed)?.0)
}

/// W2: `days` days of deliveries every 30 minutes, `records` records each.
pub fn month(out: &Path, days: u32, records: usize, seed: u64) -> Result<Written> {
    Ok(month_tree(out, days, records, seed)?)
}
