//! `keytrail search`: find KMS events by encryption context, key, principal, IP or name.

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::Result;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use keytrail::for_each_kms_event;
use keytrail::non_log_reason;
use keytrail::{SearchFilter, SearchMatch};
use rayon::prelude::*;

use crate::files::{Entry, OpenError, cells, display, open_log, progress, walk, warn_no_logs};

pub struct SearchOutput {
    pub matches: Vec<SearchMatch>,
    /// Files that could not be read completely, with the reason.
    pub problems: Vec<String>,
    pub files_read: usize,
}

pub fn run(paths: &[PathBuf], filter: &SearchFilter, show_progress: bool) -> Result<SearchOutput> {
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
    let per_file: Vec<(Vec<SearchMatch>, Option<String>)> = files
        .par_iter()
        .map(|p| {
            let shown = display(p);
            let out = match open_log(p) {
                Ok(f) => {
                    let mut found = Vec::new();
                    let read = for_each_kms_event(&shown, BufReader::new(f), |e| {
                        if filter.matches(e) {
                            found.push(SearchMatch::of(e, &shown));
                        }
                    });
                    (found, read.error.map(|e| e.to_string()))
                }
                Err(OpenError::NotRegular(reason)) => {
                    (Vec::new(), Some(format!("{shown}: skipped: {reason}")))
                }
                Err(OpenError::Failed(reason)) => (Vec::new(), Some(format!("{shown}: {reason}"))),
            };
            bar.inc(1);
            out
        })
        .collect();
    bar.finish_and_clear();
    let mut matches = Vec::new();
    for (m, p) in per_file {
        matches.extend(m);
        problems.extend(p);
    }
    matches.sort_by(|a, b| a.time.cmp(&b.time).then(a.event_id.cmp(&b.event_id)));
    Ok(SearchOutput {
        matches,
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
    format!(
        "{t}\n{} matching events in {} files\n",
        out.matches.len(),
        out.files_read
    )
}
