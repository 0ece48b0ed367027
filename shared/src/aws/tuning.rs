//! The configuration file (see [`Tuning`]) in Lambda: named by `KEYTRAIL_CONFIG`
//! (`s3://bucket/key`), read from S3 and kept per container for
//! `KEYTRAIL_CONFIG_TTL_SECONDS` (default 300), so an edit reaches every warm
//! container within that time. A file that is missing or does not parse fails the
//! invocation, with the file, the line and the field in the error: the functions
//! never run on the defaults while a configuration is meant to apply.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::aws::config::{ConfigError, Env};
use crate::aws::ports::{AwsError, ObjectStore};
use crate::detect::tuning::{Tuning, TuningError};

/// Where the configuration file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigLocation {
    pub bucket: String,
    pub key: String,
}

impl std::fmt::Display for ConfigLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Why the configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TuningLoadError {
    #[error("{0}: the configuration file does not exist (KEYTRAIL_CONFIG names it)")]
    Missing(String),
    #[error("{0}: cannot read the configuration file: {1}")]
    Read(String, AwsError),
    #[error("{0}: the configuration file is not UTF-8 text")]
    NotText(String),
    #[error(transparent)]
    Invalid(#[from] TuningError),
}

/// The configuration file's settings, cached per container.
#[derive(Debug)]
pub struct TuningSource {
    location: Option<ConfigLocation>,
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<Tuning>)>>,
}

impl Default for TuningSource {
    fn default() -> Self {
        TuningSource::new(None, Duration::from_secs(300))
    }
}

impl TuningSource {
    /// The environment variables it reads.
    pub const ENV_VARS: &'static [&'static str] =
        &["KEYTRAIL_CONFIG", "KEYTRAIL_CONFIG_TTL_SECONDS"];

    pub fn new(location: Option<ConfigLocation>, ttl: Duration) -> Self {
        TuningSource {
            location,
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// Reads `KEYTRAIL_CONFIG` and `KEYTRAIL_CONFIG_TTL_SECONDS`.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let ttl = env.number("KEYTRAIL_CONFIG_TTL_SECONDS", 300, 0..=86_400)?;
        let location = match env.get("KEYTRAIL_CONFIG") {
            None => None,
            Some(v) => Some(parse_location(&v).ok_or_else(|| {
                ConfigError(format!(
                    "KEYTRAIL_CONFIG={v:?} is not an S3 location (s3://bucket/key)"
                ))
            })?),
        };
        Ok(TuningSource::new(location, Duration::from_secs(ttl)))
    }

    pub fn location(&self) -> Option<&ConfigLocation> {
        self.location.as_ref()
    }

    /// The settings: the catalog's defaults when no file is configured, else the
    /// file's, read again once the cached copy is older than the TTL.
    pub async fn get<S: ObjectStore>(&self, store: &S) -> Result<Arc<Tuning>, TuningLoadError> {
        let Some(loc) = &self.location else {
            return Ok(Arc::default());
        };
        if let Ok(cache) = self.cached.lock()
            && let Some((at, t)) = cache.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(t.clone());
        }
        let name = loc.to_string();
        let bytes = match store.get_small(&loc.bucket, &loc.key).await {
            Ok(Some(b)) => b,
            Ok(None) => return Err(TuningLoadError::Missing(name)),
            Err(e) => return Err(TuningLoadError::Read(name, e)),
        };
        let text = String::from_utf8(bytes).map_err(|_| TuningLoadError::NotText(name.clone()))?;
        let tuning = Arc::new(Tuning::parse(&name, &text)?);
        if let Ok(mut cache) = self.cached.lock() {
            *cache = Some((Instant::now(), tuning.clone()));
        }
        Ok(tuning)
    }
}

fn parse_location(v: &str) -> Option<ConfigLocation> {
    let rest = v.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then(|| ConfigLocation {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            parse_location("s3://b/keytrail/config.toml"),
            Some(ConfigLocation {
                bucket: "b".into(),
                key: "keytrail/config.toml".into()
            })
        );
        for bad in ["b/k", "s3://b", "s3:///k", "s3://b/", "ssm:/x"] {
            assert_eq!(parse_location(bad), None, "{bad}");
        }
        let env = Env::new(|k: &str| (k == "KEYTRAIL_CONFIG").then(|| "nope".to_owned()));
        assert!(TuningSource::from_env(&env).is_err());
    }
}
