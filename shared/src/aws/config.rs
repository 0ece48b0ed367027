//! The handlers' configuration comes from the environment, read once at cold start
//! through [`Env`]: one reading of a variable (trimmed; empty is unset), one way to
//! report a bad value.

use std::ops::RangeInclusive;

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

/// Environment variables, from `std::env` or, in tests, any lookup.
pub struct Env<F> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn new(lookup: F) -> Self {
        Env { lookup }
    }

    /// The trimmed value; `None` when unset or blank.
    pub fn get(&self, k: &str) -> Option<String> {
        (self.lookup)(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, k: &str) -> Result<String, ConfigError> {
        self.get(k)
            .ok_or_else(|| ConfigError(format!("{k} is required")))
    }

    /// A comma-separated list (blank items dropped); `None` when unset.
    pub fn list(&self, k: &str) -> Option<Vec<String>> {
        self.get(k).map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
    }

    /// A whole number in `range`; `default` when unset.
    pub fn number(
        &self,
        k: &str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(ConfigError(format!(
                    "{k}={v:?} is not a whole number from {} to {}",
                    range.start(),
                    range.end()
                ))),
            },
        }
    }

    /// `true`/`1`/`yes` or `false`/`0`/`no` (any case); `default` when unset.
    pub fn flag(&self, k: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(k).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if ["true", "1", "yes"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["false", "0", "no"].contains(&v.as_str()) => Ok(false),
            Some(v) => Err(ConfigError(format!("{k}={v:?} is not true or false"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::new(move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn values_are_trimmed_and_blank_is_unset() {
        let e = env(&[("A", "  x "), ("B", "  "), ("L", "a, ,b,")]);
        assert_eq!(e.get("A").as_deref(), Some("x"));
        assert_eq!(e.get("B"), None);
        assert!(e.required("B").is_err());
        assert_eq!(e.list("L"), Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(e.list("B"), None);
    }

    #[test]
    fn numbers_and_flags_are_checked() {
        let e = env(&[
            ("N", "12"),
            ("BIG", "99"),
            ("NEG", "-1"),
            ("F", "Yes"),
            ("G", "maybe"),
        ]);
        assert_eq!(e.number("N", 1, 0..=20).ok(), Some(12));
        assert_eq!(e.number("UNSET", 7, 0..=20).ok(), Some(7));
        let err = e
            .number("BIG", 1, 1..=20)
            .expect_err("out of range")
            .to_string();
        assert!(
            err.contains("BIG=\"99\"") && err.contains("1 to 20"),
            "{err}"
        );
        assert!(e.number("NEG", 1, 0..=20).is_err());
        assert_eq!(e.flag("F", false).ok(), Some(true));
        assert_eq!(e.flag("UNSET", true).ok(), Some(true));
        assert!(e.flag("G", false).is_err());
    }
}
