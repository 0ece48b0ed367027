//! Findings for other tools: a scan's [`Finding`] or the alarm enricher's
//! [`Investigation`], as one view ([`Exported`]) that the ASFF (Security Hub) and OCSF
//! writers read.
//!
//! The finding's identity is stable: the rule, the threshold group and the alarm
//! episode's first period (the rule's period, aligned to the epoch as CloudWatch aligns
//! it, that holds the episode's first event). Reading the same logs again, or the
//! same alarm delivered twice, gives the same id, so a re-import updates the finding
//! instead of adding one.
//!
//! Account and region: a finding is reported in the account and region of the first
//! key ARN it names; without one, in the account of the first principal ARN, with the
//! region of the log layout; without either, in the log layout's account and region
//! (the caller's [`Origin`]). An investigation is reported where its alarm is (the
//! alarm ARN), which is where the enricher runs.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::detect::catalog::{Rule, rule};
use crate::detect::findings::Finding;
use crate::detect::keys::partition_for_region;
use crate::investigate::record::Investigation;

/// Where the docs of the catalog are: the remediation's link.
pub const CATALOG_URL: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/catalog.md");

/// The account and region to report a finding in when its keys and principals do
/// not say (e.g. the one account and region of the scanned log tree).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub account: Option<String>,
    pub region: Option<String>,
}

/// Why a finding cannot be exported.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExportError {
    #[error(
        "finding {rule} (first seen {first_seen}): no AWS account and region in its keys, principals or the log layout"
    )]
    NoAccount { rule: String, first_seen: String },
    #[error("the investigation names no rule ({0}): there is no finding to export")]
    NotEnriched(String),
    #[error("unknown rule id {0:?}")]
    UnknownRule(String),
}

/// One finding, ready to be written as ASFF or OCSF.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    pub rule: &'static Rule,
    /// The stable id ([`finding_id`]).
    pub id: String,
    pub account: String,
    pub region: String,
    pub group: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// When this export was made: it moves on every re-export.
    pub updated_at: DateTime<Utc>,
    pub count: u64,
    pub keys: Vec<String>,
    pub principals: Vec<String>,
    pub source_ips: Vec<String>,
    pub event_ids: Vec<String>,
    pub notes: Vec<String>,
    /// The alarm behind an investigation.
    pub alarm: Option<String>,
    /// Where the investigation record is stored.
    pub record_location: Option<String>,
}

/// The finding's stable id: `keytrail/<rule>/<first period>` and, for per-source
/// rules, a digest of the group (principal and IP).
pub fn finding_id(rule: &Rule, group: Option<&str>, first_seen: DateTime<Utc>) -> String {
    let period = i64::from(rule.period_secs.max(60));
    let start = first_seen.timestamp().div_euclid(period) * period;
    let start = DateTime::from_timestamp(start, 0).unwrap_or(first_seen);
    let mut id = format!("keytrail/{}/{}", rule.id, start.format("%Y-%m-%dT%H:%MZ"));
    if let Some(g) = group.filter(|g| !g.is_empty()) {
        let digest = Sha256::digest(g.as_bytes());
        id.push('/');
        for b in &digest[..8] {
            id.push_str(&format!("{b:02x}"));
        }
    }
    id
}

/// `(partition, service, region, account)` of an ARN.
pub(crate) fn arn_parts(arn: &str) -> Option<(&str, &str, &str, &str)> {
    let mut p = arn.splitn(6, ':');
    (p.next()? == "arn").then_some(())?;
    let (partition, service, region, account) = (p.next()?, p.next()?, p.next()?, p.next()?);
    p.next()?;
    Some((partition, service, region, account))
}

/// The partition of an ARN, else of the region.
pub fn partition_of(arn: &str, region: &str) -> String {
    arn_parts(arn)
        .map(|(p, ..)| p)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| partition_for_region(region))
        .to_owned()
}

fn twelve_digits(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Account and region as the module's doc says.
fn place<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    principals: impl IntoIterator<Item = &'a str>,
    origin: &Origin,
) -> Option<(String, String)> {
    let from_key = keys.into_iter().find_map(|k| {
        arn_parts(k)
            .filter(|(_, svc, region, account)| {
                *svc == "kms" && !region.is_empty() && twelve_digits(account)
            })
            .map(|(_, _, r, a)| (a.to_owned(), r.to_owned()))
    });
    if from_key.is_some() {
        return from_key;
    }
    let region = origin.region.clone()?;
    let account = principals
        .into_iter()
        .find_map(|p| {
            arn_parts(p)
                .map(|(.., a)| a)
                .filter(|a| twelve_digits(a))
                .map(str::to_owned)
        })
        .or_else(|| origin.account.clone())?;
    Some((account, region))
}

impl Exported {
    /// A scan finding, exported at `now`.
    pub fn from_finding(
        f: &Finding,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Exported, ExportError> {
        let rule = rule(f.rule).ok_or_else(|| ExportError::UnknownRule(f.rule.to_owned()))?;
        let (account, region) = place(
            f.keys.iter().map(String::as_str),
            f.principals.iter().map(String::as_str),
            origin,
        )
        .ok_or_else(|| ExportError::NoAccount {
            rule: f.rule.to_owned(),
            first_seen: rfc3339(f.first_seen),
        })?;
        Ok(Exported {
            rule,
            id: finding_id(rule, f.group.as_deref(), f.first_seen),
            account,
            region,
            group: f.group.clone(),
            first_seen: f.first_seen,
            last_seen: f.last_seen,
            updated_at: now,
            count: f.count,
            keys: f.keys.clone(),
            principals: f.principals.clone(),
            source_ips: f.source_ips.clone(),
            event_ids: f.event_ids.clone(),
            notes: f.notes.clone(),
            alarm: None,
            record_location: None,
        })
    }

    /// The enricher's investigation, exported when it was generated. An alarm with no
    /// events found yet is dated by its state change.
    pub fn from_investigation(inv: &Investigation) -> Result<Exported, ExportError> {
        let info = inv.rule.as_ref().ok_or_else(|| {
            ExportError::NotEnriched(
                inv.not_enriched_reason
                    .clone()
                    .unwrap_or_else(|| "no rule".into()),
            )
        })?;
        let rule = rule(&info.id).ok_or_else(|| ExportError::UnknownRule(info.id.clone()))?;
        let alarm_place =
            inv.alarm
                .arn
                .as_deref()
                .and_then(arn_parts)
                .and_then(|(_, _, region, account)| {
                    (twelve_digits(account) && !region.is_empty())
                        .then(|| (account.to_owned(), region.to_owned()))
                });
        let first_seen = inv.first_seen.unwrap_or(inv.alarm.state_change_time);
        let keys: Vec<String> = inv.keys.iter().map(|k| k.key.clone()).collect();
        let principals: Vec<String> = inv.principals.iter().map(|p| p.principal.clone()).collect();
        let origin = Origin {
            account: inv.alarm.account.clone(),
            region: None,
        };
        let (account, region) = alarm_place
            .or_else(|| place(keys.iter().map(String::as_str), [], &origin))
            .ok_or_else(|| ExportError::NoAccount {
                rule: rule.id.to_owned(),
                first_seen: rfc3339(first_seen),
            })?;
        Ok(Exported {
            rule,
            id: finding_id(rule, None, first_seen),
            account,
            region,
            group: None,
            first_seen,
            last_seen: inv.last_seen.unwrap_or(first_seen),
            updated_at: inv.generated_at,
            count: inv.count,
            keys,
            principals,
            source_ips: inv.source_ips.iter().map(|r| r.ip.clone()).collect(),
            event_ids: Vec::new(),
            notes: Vec::new(),
            alarm: Some(inv.alarm.name.clone()),
            record_location: inv.record_location.clone(),
        })
    }

    /// One sentence: the count and the time span (and the group, the notes).
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} matching events from {} to {}",
            self.count,
            rfc3339(self.first_seen),
            rfc3339(self.last_seen)
        );
        if let Some(g) = &self.group {
            s.push_str(&format!(" ({g})"));
        }
        if let Some(a) = &self.alarm {
            s.push_str(&format!(", alarm {a}"));
        }
        s.push('.');
        for n in &self.notes {
            s.push_str(&format!(" Note: {n}."));
        }
        s
    }

    /// The playbook's first steps, as many as fit in `max` characters (at least
    /// the first, cut to fit).
    pub fn recommendation(&self, max: usize) -> String {
        let mut text = String::new();
        for (i, step) in self.rule.playbook.iter().enumerate() {
            let next = format!("{}{}. {step}", if i == 0 { "" } else { " " }, i + 1);
            if i > 0 && text.chars().count() + next.chars().count() > max {
                break;
            }
            text.push_str(&next);
        }
        crate::investigate::sanitize::clean(&text, max.saturating_sub(1))
    }
}

/// RFC 3339 with milliseconds and `Z`, as ASFF writes times.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::detect::catalog::Severity;

    pub(crate) fn finding(rule_id: &'static str, group: Option<&str>, first: &str) -> Finding {
        let first_seen: DateTime<Utc> = first.parse().expect("time");
        Finding {
            rule: rule_id,
            title: rule(rule_id).expect("rule").title,
            severity: Severity::Medium,
            group: group.map(str::to_owned),
            first_seen,
            last_seen: first_seen + chrono::Duration::seconds(90),
            count: 12,
            keys: vec![
                "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                    .into(),
            ],
            principals: vec!["arn:aws:iam::444455556666:role/batch-reader".into()],
            source_ips: vec!["198.51.100.23".into()],
            event_ids: vec!["e1".into()],
            notes: vec![],
            encryption_context: Default::default(),
            encryption_context_truncated: false,
        }
    }

    #[test]
    fn the_id_is_the_rule_group_and_first_period() {
        let r = rule("decrypt_failures").expect("rule");
        let t = |s: &str| s.parse::<DateTime<Utc>>().expect("t");
        let a = finding_id(r, None, t("2026-10-04T02:41:10Z"));
        assert_eq!(a, "keytrail/decrypt_failures/2026-10-04T02:40Z");
        // Any first event in the same 300 s period: the same episode.
        assert_eq!(a, finding_id(r, None, t("2026-10-04T02:44:59Z")));
        assert_ne!(a, finding_id(r, None, t("2026-10-04T02:45:00Z")));
        let dk = rule("data_key_volume").expect("rule");
        let g1 = finding_id(dk, Some("p from 1"), t("2026-10-04T02:41:10Z"));
        let g2 = finding_id(dk, Some("p from 2"), t("2026-10-04T02:41:10Z"));
        assert_ne!(g1, g2);
        assert!(g1.starts_with("keytrail/data_key_volume/2026-10-04T02:40Z/"));
        assert_eq!(
            g1.len(),
            "keytrail/data_key_volume/2026-10-04T02:40Z/".len() + 16
        );
    }

    #[test]
    fn account_and_region_come_from_the_key_then_the_principal_then_the_layout() {
        let now = Utc::now();
        let none = Origin::default();
        let f = finding("decrypt_failures", None, "2026-10-04T02:41:10Z");
        let e = Exported::from_finding(&f, &none, now).expect("export");
        assert_eq!(
            (e.account.as_str(), e.region.as_str()),
            ("111122223333", "eu-west-1")
        );
        let mut no_key = f.clone();
        no_key.keys = vec!["alias/payroll".into()];
        let layout = Origin {
            account: Some("999988887777".into()),
            region: Some("us-west-2".into()),
        };
        let e = Exported::from_finding(&no_key, &layout, now).expect("export");
        assert_eq!(
            (e.account.as_str(), e.region.as_str()),
            ("444455556666", "us-west-2")
        );
        let mut nothing = no_key.clone();
        nothing.principals = vec!["service:s3.amazonaws.com".into()];
        let e = Exported::from_finding(&nothing, &layout, now).expect("export");
        assert_eq!(
            (e.account.as_str(), e.region.as_str()),
            ("999988887777", "us-west-2")
        );
        let err = Exported::from_finding(&nothing, &none, now).expect_err("nowhere");
        assert!(matches!(err, ExportError::NoAccount { .. }), "{err}");
    }

    #[test]
    fn the_recommendation_is_the_first_steps_that_fit() {
        let f = finding("decrypt_failures", None, "2026-10-04T02:41:10Z");
        let e = Exported::from_finding(&f, &Origin::default(), Utc::now()).expect("export");
        let text = e.recommendation(512);
        assert!(text.chars().count() <= 512, "{text}");
        assert!(text.starts_with("1. Group the failures"), "{text}");
        assert!(text.contains(" 2. "), "{text}");
        assert!(
            !text.contains(&format!("{}. ", e.rule.playbook.len())),
            "{text}"
        );
        let short = e.recommendation(40);
        assert!(
            short.chars().count() <= 40 && short.ends_with('…'),
            "{short}"
        );
    }
}
