//! `keytrail search`: find KMS events by encryption context, key, principal, IP or name.

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::Result;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use keytrail::for_each_kms_event_with;
use keytrail::non_log_reason;
use keytrail::{SearchFilter, SearchMatch};
use rayon::prelude::*;

use crate::files::{
    Entry, OpenError, cells, display, open_log, progress, thousands, walk, warn_no_logs,
};

pub struct SearchOutput {
    /// The matches in time order: all of them, or the first `keep` given to [`run`].
    pub matches: Vec<SearchMatch>,
    /// How many events matched (more than `matches` holds when they were capped).
    pub total: u64,
    /// Files that could not be read completely, with the reason.
    pub problems: Vec<String>,
    pub files_read: usize,
}

/// The order of the output: by time, then event id; ties in file order (stable sorts).
fn by_time(a: &SearchMatch, b: &SearchMatch) -> std::cmp::Ordering {
    a.time.cmp(&b.time).then(a.event_id.cmp(&b.event_id))
}

/// The matches of the files folded so far, on one worker thread. With a cap, only the
/// first `keep` in output order are kept (trimmed when twice that many have piled up),
/// so memory is bounded by the cap, not by the number of matches. Partial results are
/// combined in file order and sorted stably, so what is kept is exactly the head of
/// the full sorted list.
#[derive(Default)]
struct Found {
    matches: Vec<SearchMatch>,
    total: u64,
    problems: Vec<String>,
}

impl Found {
    fn trim(&mut self, keep: Option<usize>) {
        if let Some(k) = keep
            && self.matches.len() > k.saturating_mul(2)
        {
            self.matches.sort_by(by_time);
            self.matches.truncate(k);
        }
    }

    fn combine(mut self, o: Found, keep: Option<usize>) -> Found {
        self.matches.extend(o.matches);
        self.total += o.total;
        self.problems.extend(o.problems);
        self.trim(keep);
        self
    }
}

/// Searches `paths`. `keep`: how many of the first matches (in output order) to return;
/// `None` returns them all.
pub fn run(
    paths: &[PathBuf],
    filter: &SearchFilter,
    show_progress: bool,
    keep: Option<usize>,
    limits: keytrail::ReadLimits,
) -> Result<SearchOutput> {
    // Odd entries (not regular files, dangling symlinks, loops) are reported on stderr
    // with the files that could not be read; the rest of the tree is searched.
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for entry in walk(paths)? {
        match entry {
            Entry::File(p) if non_log_reason(&display(&p)).is_none() => files.push(p),
            Entry::File(_) => {}
            Entry::NotRegular { path, reason } => {
                problems.push(format!("{}: skipped: {reason}", display(&path)))
            }
            Entry::Broken { path, reason } => {
                problems.push(format!("{}: {reason}", display(&path)))
            }
        }
    }
    if files.is_empty() {
        warn_no_logs(paths, "");
    }
    let bar = progress(files.len(), show_progress);
    let found = files
        .par_iter()
        .map(|p| {
            let shown = display(p);
            let mut found = Found::default();
            match open_log(p) {
                Ok(f) => {
                    let read = for_each_kms_event_with(&shown, BufReader::new(f), limits, |e| {
                        if filter.matches(e) {
                            found.total += 1;
                            found.matches.push(SearchMatch::of(e, &shown));
                            found.trim(keep);
                        }
                    });
                    found.problems.extend(read.error.map(|e| e.to_string()));
                }
                Err(OpenError::NotRegular(reason)) => {
                    found.problems.push(format!("{shown}: skipped: {reason}"))
                }
                Err(OpenError::Failed(reason)) => found.problems.push(format!("{shown}: {reason}")),
            }
            bar.inc(1);
            found
        })
        .fold(Found::default, |a, b| a.combine(b, keep))
        .reduce(Found::default, |a, b| a.combine(b, keep));
    bar.finish_and_clear();
    let Found {
        mut matches,
        total,
        problems: read_problems,
    } = found;
    problems.extend(read_problems);
    matches.sort_by(by_time);
    if let Some(k) = keep {
        matches.truncate(k);
    }
    Ok(SearchOutput {
        matches,
        total,
        problems,
        files_read: files.len(),
    })
}

pub fn render(out: &SearchOutput) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "time",
            "event",
            "principal",
            "IP",
            "key",
            "encryption context",
            "error",
        ]);
    for m in &out.matches {
        let principal = match &m.session {
            Some(s) => format!("{}\n(session {s})", m.principal),
            None => m.principal.clone(),
        };
        t.add_row(cells(vec![
            m.time.clone(),
            m.event_name.clone(),
            principal,
            m.source_ip.clone().unwrap_or_default(),
            m.keys.join("\n"),
            m.encryption_context.join("\n"),
            m.error_code.clone().unwrap_or_default(),
        ]));
    }
    let mut text = format!(
        "{t}\n{} matching events in {} files\n",
        out.total, out.files_read
    );
    let shown = out.matches.len() as u64;
    if out.total > shown {
        text.push_str(&format!(
            "... {} more matching events not shown (the table holds the first {} by time); use --limit N to show more, or --json for all of them\n",
            thousands(out.total - shown),
            thousands(shown)
        ));
    }
    text
}
