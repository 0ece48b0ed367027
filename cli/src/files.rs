//! Walking a local log tree, shared by the subcommands.

use std::fs::File;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

/// One entry of a walked tree (symbolic links followed).
#[derive(Debug)]
pub enum Entry {
    /// A regular file: a candidate log.
    File(PathBuf),
    /// Not a regular file (a FIFO, a device, a socket), given as a path or found in a
    /// tree. Never opened (opening a FIFO blocks until something writes to it).
    NotRegular { path: PathBuf, reason: String },
    /// An entry that cannot be followed or listed: a dangling symlink, a symlink loop,
    /// a directory that cannot be read. Reported as a file that could not be opened;
    /// the rest of the tree is walked.
    Broken { path: PathBuf, reason: String },
}

/// Walks `paths`, sorted, so that output is deterministic. Only a path that does not
/// exist at all is an error (a mistyped argument); odd entries are returned as such.
pub fn walk(paths: &[PathBuf]) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for p in paths {
        match std::fs::symlink_metadata(p) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                bail!("{}: no such file or directory", p.display())
            }
            Err(e) => bail!("{}: cannot read: {e}", p.display()),
        }
        for entry in walkdir::WalkDir::new(p)
            .follow_links(true)
            .sort_by_file_name()
        {
            match entry {
                Ok(e) if e.file_type().is_file() => entries.push(Entry::File(e.into_path())),
                Ok(e) if e.file_type().is_dir() => {}
                Ok(e) => entries.push(Entry::NotRegular {
                    reason: not_regular(e.file_type()),
                    path: e.into_path(),
                }),
                Err(e) => {
                    let path = e.path().unwrap_or(p).to_path_buf();
                    entries.push(Entry::Broken {
                        reason: walk_error(&e, &path),
                        path,
                    });
                }
            }
        }
    }
    Ok(entries)
}

/// The regular files under `paths`, sorted; the other entries [`walk`] finds are
/// reported on stderr as warnings (for the commands that list no skipped files).
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in walk(paths)? {
        match entry {
            Entry::File(p) => files.push(p),
            Entry::NotRegular { path, reason } => {
                eprintln!("warning: {}: skipped: {reason}", display(&path))
            }
            Entry::Broken { path, reason } => eprintln!("warning: {}: {reason}", display(&path)),
        }
    }
    Ok(files)
}

/// Why a file [`walk`] listed could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// It is no longer a regular file (replaced by a FIFO, say): skip it.
    NotRegular(String),
    /// It could not be opened: the reason, without the path.
    Failed(String),
}

/// Opens a log file for reading. On Unix the file is opened with `O_NONBLOCK`, so that
/// a FIFO put in place of a file after the walk does not block the command (reads
/// of a regular file ignore the flag); anything but a regular file is refused.
pub fn open_log(path: &Path) -> std::result::Result<File, OpenError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts
        .open(path)
        .map_err(|e| OpenError::Failed(open_error(path, &e)))?;
    let meta = file
        .metadata()
        .map_err(|e| OpenError::Failed(format!("cannot open: {e}")))?;
    if !meta.is_file() {
        return Err(OpenError::NotRegular(not_regular(meta.file_type())));
    }
    Ok(file)
}

/// "not a regular file", with the kind of file where the platform says.
fn not_regular(t: std::fs::FileType) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = if t.is_fifo() {
            Some("named pipe")
        } else if t.is_char_device() {
            Some("character device")
        } else if t.is_block_device() {
            Some("block device")
        } else if t.is_socket() {
            Some("socket")
        } else {
            None
        };
        if let Some(kind) = kind {
            return format!("not a regular file ({kind})");
        }
    }
    let _ = t;
    "not a regular file".to_owned()
}

/// The reason for a walk error on `path`, without the path and with the OS error once.
fn walk_error(e: &walkdir::Error, path: &Path) -> String {
    if let Some(ancestor) = e.loop_ancestor() {
        return format!("symlink loop (leads back to {})", display(ancestor));
    }
    match e.io_error() {
        Some(io) if path.is_dir() => format!("cannot read directory: {}", io),
        Some(io) => open_error(path, io),
        None => e.to_string(),
    }
}

/// The reason `path` could not be opened or followed: a dangling symlink or a symlink
/// loop said as such, other errors as the OS says them.
/// A log file that cannot be opened: the message names it (as `display` shows it)
/// and gives the reason.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct CannotOpen {
    pub file: String,
    pub reason: String,
}

/// [`open_log`] for the commands that only report a file they could not open:
/// `shown` names it in the error.
pub fn open(path: &Path, shown: &str) -> std::result::Result<File, CannotOpen> {
    open_log(path).map_err(|e| CannotOpen {
        file: shown.to_owned(),
        reason: match e {
            OpenError::NotRegular(why) => format!("skipped: {why}"),
            OpenError::Failed(why) => why,
        },
    })
}

fn open_error(path: &Path, e: &io::Error) -> String {
    if is_loop(e) {
        return "symlink loop".to_owned();
    }
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link && e.kind() == io::ErrorKind::NotFound {
        return match std::fs::read_link(path) {
            Ok(target) => format!("dangling symlink (to {})", display(&target)),
            Err(_) => "dangling symlink".to_owned(),
        };
    }
    if is_link {
        return format!("cannot follow symlink: {e}");
    }
    format!("cannot open: {e}")
}

#[cfg(unix)]
fn is_loop(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_loop(_: &io::Error) -> bool {
    false
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

/// A count with thousands separators (12,345), for the notes under capped tables.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
