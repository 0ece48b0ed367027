//! Walking a local log tree, shared by the subcommands.

use std::fs::File;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

/// Lists the files under `paths`, sorted, so that output is deterministic.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if !p.exists() {
            bail!("{}: no such file or directory", p.display());
        }
        for entry in walkdir::WalkDir::new(p)
            .follow_links(true)
            .sort_by_file_name()
        {
            let entry = entry.with_context(|| format!("walking {}", p.display()))?;
            if entry.file_type().is_file() {
                files.push(entry.into_path());
            }
        }
    }
    Ok(files)
}

/// A log file that cannot be opened: the message names it (as `display` shows it)
/// and gives the reason.
#[derive(Debug, thiserror::Error)]
#[error("{file}: cannot open: {source}")]
pub struct OpenError {
    pub file: String,
    #[source]
    pub source: std::io::Error,
}

/// Opens `path`, shown as `shown` in the error.
pub fn open(path: &Path, shown: &str) -> Result<File, OpenError> {
    File::open(path).map_err(|source| OpenError {
        file: shown.to_owned(),
        source,
    })
}

/// Warns on stderr that `paths` hold no CloudTrail log file (`why` ends the sentence:
/// "" or, say, " for 2026-10"). The command still runs: an empty tree is an empty
/// report, and exits 0, so that scripts over trees that may be empty keep working.
pub fn warn_no_logs(paths: &[PathBuf], why: &str) {
    let shown: Vec<String> = paths.iter().map(|p| display(p)).collect();
    eprintln!(
        "warning: no CloudTrail log files (.json, .jsonl, .json.gz, .jsonl.gz){why} under {}",
        shown.join(", ")
    );
}

/// A path as shown in reports (forward slashes, so the S3 layout parser reads it).
pub fn display(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// A progress bar on stderr when it is a terminal and `wanted`; hidden otherwise.
pub fn progress(len: usize, wanted: bool) -> ProgressBar {
    if !(wanted && std::io::stderr().is_terminal()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos}/{len} files {wide_bar} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Table cells for values that come from logs: ANSI escapes and control characters
/// removed line by line (the tables' own line breaks are kept), length capped.
pub fn cells(row: Vec<String>) -> Vec<String> {
    row.into_iter()
        .map(|c| {
            c.split('\n')
                .map(|line| keytrail::clean(line, 512))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}
