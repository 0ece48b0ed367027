//! The Lambda functions' log subscriber: structured JSON lines through `tracing`.
//!
//! It reads the variables `lambda_runtime`'s default subscriber reads:
//! `AWS_LAMBDA_LOG_FORMAT=JSON` for JSON lines (the template sets it), the level from
//! `AWS_LAMBDA_LOG_LEVEL` (the template's `ApplicationLogLevel`), else INFO, and
//! `RUST_LOG`'s directives over it (`warn,keytrail=debug,aws_smithy_runtime=info`), so
//! a deployed function can still be told to log one crate in detail. The difference
//! is the filter: [`Targets`] instead of `EnvFilter`, whose span and field directives
//! need the `regex` engines (about 280 KB of each arm64 binary, against issue 14's
//! 8 MB budget). One more: a target `RUST_LOG` does not name logs at the default level
//! here, where `EnvFilter` would silence it.

use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter for `AWS_LAMBDA_LOG_LEVEL` and `RUST_LOG`. A level that does not parse
/// is ignored, as `lambda_runtime` ignores it (the default stays INFO); Lambda's
/// `FATAL` is tracing's ERROR. `RUST_LOG`'s bare level replaces the default and its
/// `target=level` directives add to it; directives that do not parse are ignored.
pub fn log_filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let level = |s: &str| {
        let s = s.trim();
        if s.eq_ignore_ascii_case("fatal") {
            Some(LevelFilter::ERROR)
        } else {
            LevelFilter::from_str(s).ok()
        }
    };
    let mut default = lambda_level.and_then(level).unwrap_or(LevelFilter::INFO);
    let mut targets = Vec::new();
    // An empty directive is skipped: tracing parses "" as OFF.
    let directives = rust_log.unwrap_or_default().split(',');
    for directive in directives.filter(|d| !d.trim().is_empty()) {
        match directive.split_once('=') {
            None => {
                if let Some(l) = level(directive) {
                    default = l;
                }
            }
            Some((target, l)) => {
                if let Some(l) = level(l) {
                    targets.push((target.trim().to_owned(), l));
                }
            }
        }
    }
    Targets::new().with_default(default).with_targets(targets)
}

/// Installs the subscriber, once, at a cold start.
pub fn init_lambda_logging() {
    let var = |name: &str| std::env::var(name).ok();
    let filter = log_filter(
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        var("RUST_LOG").as_deref(),
    );
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_ansi(false);
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry.with(fmt.json()).init();
    } else {
        registry.with(fmt).init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn enabled(f: &Targets, target: &str, level: Level) -> bool {
        f.would_enable(target, &level)
    }

    #[test]
    fn info_unless_told_otherwise() {
        let f = log_filter(None, None);
        assert!(enabled(&f, "keytrail::aws", Level::INFO));
        assert!(!enabled(&f, "keytrail::aws", Level::DEBUG));
        let f = log_filter(Some("LOUD"), Some("?!"));
        assert!(enabled(&f, "keytrail", Level::INFO));
        assert!(!enabled(&f, "keytrail", Level::DEBUG));
    }

    #[test]
    fn the_lambda_level_unless_rust_log_says_otherwise() {
        let f = log_filter(Some("DEBUG"), None);
        assert!(enabled(&f, "aws_smithy_runtime", Level::DEBUG));
        assert!(!enabled(&f, "aws_smithy_runtime", Level::TRACE));
        let f = log_filter(Some("FATAL"), None);
        assert!(enabled(&f, "keytrail", Level::ERROR));
        assert!(!enabled(&f, "keytrail", Level::WARN));
        // RUST_LOG's directives over the template's ApplicationLogLevel, as with
        // lambda_runtime's EnvFilter.
        let f = log_filter(Some("DEBUG"), Some("error"));
        assert!(enabled(&f, "keytrail", Level::ERROR));
        assert!(!enabled(&f, "keytrail", Level::WARN));
        let f = log_filter(Some("INFO"), Some("aws_smithy_runtime=trace"));
        assert!(enabled(&f, "aws_smithy_runtime::client", Level::TRACE));
        assert!(enabled(&f, "keytrail", Level::INFO));
        assert!(!enabled(&f, "keytrail", Level::DEBUG));
    }

    #[test]
    fn rust_log_names_targets() {
        let f = log_filter(
            None,
            Some("warn, keytrail=debug,aws_smithy_runtime=nonsense"),
        );
        assert!(enabled(&f, "keytrail::aws::s3", Level::DEBUG));
        assert!(!enabled(&f, "hyper_util", Level::INFO));
        assert!(enabled(&f, "hyper_util", Level::WARN));
        assert!(!enabled(&f, "aws_smithy_runtime", Level::INFO));
    }
}
