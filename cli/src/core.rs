//! `keytrail core` (hidden): what the log-processor Lambda does with one file once it
//! has the bytes (parse, catalog, metric datums, gzipped summary), with no network,
//! so that benchmarks can time it against plain decompression.

use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{Context, Result, bail};
use flate2::bufread::MultiGzDecoder;
use keytrail::parse_log_key;
use keytrail::{AnalysisOptions, analyse};
use keytrail::{MAX_DATUMS_PER_CALL, MetricOptions};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct CoreOutput {
    pub file: String,
    pub decompressed_bytes: u64,
    pub records: u64,
    pub kms_records: u64,
    pub datums: usize,
    pub put_metric_data_calls: usize,
    pub summary_gzip_bytes: usize,
    /// `--validate-only`: seconds of the validating pass alone (after decompression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validate_seconds: Option<f64>,
}

/// What `keytrail core` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The processor's core: parse, catalog, datums, summary.
    Core,
    /// Decompression alone, streamed: the physical floor.
    DecompressOnly,
    /// Decompression into memory, then serde_json's validating skip of the whole
    /// document (`IgnoredAny`): the floor of any reader that must find damage.
    ValidateOnly,
}

pub fn run(path: &Path, mode: Mode, limits: keytrail::ReadLimits) -> Result<CoreOutput> {
    let shown = crate::files::display(path);
    let file = crate::files::open_log(path).map_err(|e| match e {
        crate::files::OpenError::NotRegular(why) | crate::files::OpenError::Failed(why) => {
            anyhow::anyhow!("{shown}: {why}")
        }
    })?;
    let mut out = CoreOutput {
        file: shown.clone(),
        decompressed_bytes: 0,
        records: 0,
        kms_records: 0,
        datums: 0,
        put_metric_data_calls: 0,
        summary_gzip_bytes: 0,
        validate_seconds: None,
    };
    if mode == Mode::ValidateOnly {
        // gzip's trailer holds the (last member's) size mod 2^32: a capacity hint,
        // so that the floor is not charged for growing the buffer.
        let mut file = file;
        let mut trailer = [0u8; 4];
        let hint = match file
            .seek(SeekFrom::End(-4))
            .and_then(|_| file.read_exact(&mut trailer))
        {
            Ok(()) => u32::from_le_bytes(trailer),
            Err(_) => 0,
        };
        file.seek(SeekFrom::Start(0))
            .with_context(|| format!("{shown}: cannot read"))?;
        let mut json = Vec::with_capacity(hint as usize);
        MultiGzDecoder::new(BufReader::with_capacity(64 * 1024, file))
            .read_to_end(&mut json)
            .with_context(|| format!("{shown}: cannot decompress"))?;
        out.decompressed_bytes = json.len() as u64;
        let started = std::time::Instant::now();
        serde_json::from_slice::<serde::de::IgnoredAny>(&json)
            .with_context(|| format!("{shown}: not JSON"))?;
        out.validate_seconds = Some(started.elapsed().as_secs_f64());
        return Ok(out);
    }
    if mode == Mode::DecompressOnly {
        let mut gz = MultiGzDecoder::new(BufReader::with_capacity(64 * 1024, file));
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match gz.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.decompressed_bytes += n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => bail!("{shown}: {e}"),
            }
        }
        return Ok(out);
    }
    let opts = AnalysisOptions {
        metrics: MetricOptions {
            per_key: false,
            own_account: parse_log_key(&shown).map(|k| k.account),
        },
        limits,
        ..AnalysisOptions::default()
    };
    let a = analyse(&shown, file, &opts);
    if let Some(e) = &a.error {
        bail!("{e}");
    }
    let datums = a.metrics.datums();
    out.records = a.records;
    out.kms_records = a.kms_records;
    out.datums = datums.len();
    out.put_metric_data_calls = datums.chunks(MAX_DATUMS_PER_CALL).count();
    out.summary_gzip_bytes = a.summary.to_gzip_json().len();
    out.decompressed_bytes = a.decompressed_bytes;
    Ok(out)
}
