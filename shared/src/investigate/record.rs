//! The investigation record (schema `keytrail.investigation`): the alarm, the rule,
//! the evidence, the prepared Athena query and the playbook.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::detect::catalog::Severity;
use crate::detect::principal::{SourceClass, classify_source};
use crate::investigate::alarm::Alarm;
use crate::investigate::athena::athena_query;
use crate::investigate::evidence::{
    Count, ErrorRow, Evidence, FailedObject, IpRow, KeyEvidenceRow, MAX_FIELD, MAX_ROWS,
    PrincipalRow, top,
};
use crate::investigate::plan::{Plan, PlanError, Window};
use crate::investigate::sanitize::clean;

/// The investigation record's schema name and version.
pub const SCHEMA: &str = "keytrail.investigation";
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub description: String,
    pub playbook: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmInfo {
    pub name: String,
    pub state: String,
    pub previous_state: Option<String>,
    pub reason: Option<String>,
    pub state_change_time: DateTime<Utc>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub arn: Option<String>,
    pub metrics: Vec<String>,
}

/// How the evidence was gathered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GatherInfo {
    pub source: String,
    pub prefixes: Vec<String>,
    pub files_listed: u64,
    pub files_selected: u64,
    pub files_read: u64,
    pub files_failed: Vec<FailedObject>,
    pub records_scanned: u64,
}

/// The investigation record (schema `keytrail.investigation`, version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Investigation {
    pub schema: String,
    pub version: u32,
    pub generated_at: DateTime<Utc>,
    pub alarm: AlarmInfo,
    pub enriched: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_enriched_reason: Option<String>,
    pub rule: Option<RuleInfo>,
    pub window: Option<Window>,
    pub gather: GatherInfo,
    pub count: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub principals: Vec<PrincipalRow>,
    pub source_ips: Vec<IpRow>,
    pub keys: Vec<KeyEvidenceRow>,
    pub event_names: Vec<Count>,
    pub errors: Vec<ErrorRow>,
    pub encryption_context: Vec<Count>,
    pub user_agents: Vec<Count>,
    pub cross_account_events: u64,
    pub samples: Vec<Value>,
    pub athena_query: Option<String>,
    /// Events that matched the alarm's rule but a configured suppression silenced
    /// (they did not raise it), per suppression. Absent when none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub suppressed: std::collections::BTreeMap<String, u64>,
    /// Where the record was stored, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_location: Option<String>,
}

/// Everything the investigation needs besides the evidence.
pub struct InvestigationInputs<'a> {
    pub alarm: &'a Alarm,
    pub plan: Result<&'a Plan, &'a PlanError>,
    pub gather: GatherInfo,
    pub athena_table: &'a str,
    /// The table's day partition column (`yyyy/MM/dd`, as the template's table and
    /// AWS's partition-projection example have it); `None` when it has none.
    pub athena_date_partition: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// Builds the investigation record. Key metadata is filled in later by the caller.
pub fn build_investigation(ctx: InvestigationInputs, ev: Evidence) -> Investigation {
    let alarm = ctx.alarm;
    let (plan, reason) = match ctx.plan {
        Ok(p) => (Some(p), None),
        Err(r) => (None, Some(r)),
    };
    let rule = plan.and_then(Plan::rule);
    let athena = plan.map(|p| {
        athena_query(
            ctx.athena_table,
            ctx.athena_date_partition,
            &p.window,
            ev.top_principal(),
            top_ip(&ev).as_deref(),
        )
    });
    let mut principals: Vec<PrincipalRow> = ev
        .principals
        .iter()
        .map(|(k, (n, acct, sessions, svc))| PrincipalRow {
            principal: k.clone(),
            count: *n,
            account: acct.clone(),
            sessions: sessions.iter().cloned().collect(),
            service_originated: *svc,
        })
        .collect();
    principals.sort_by(|a, b| b.count.cmp(&a.count).then(a.principal.cmp(&b.principal)));
    principals.truncate(MAX_ROWS);
    let source_ips = top(ev.ips)
        .into_iter()
        .map(|c| IpRow {
            class: classify_source((c.value != "-").then_some(c.value.as_str())),
            ip: c.value,
            count: c.count,
        })
        .collect();
    let mut keys: Vec<KeyEvidenceRow> = top(ev.keys)
        .into_iter()
        .map(|c| KeyEvidenceRow {
            key: c.value,
            count: c.count,
            aliases: Vec::new(),
            state: None,
            deletion_date: None,
            description: None,
            tags: BTreeMap::new(),
            unavailable: Vec::new(),
        })
        .collect();
    // The key an alarm on an AWS/KMS key metric names is the subject of the
    // investigation, with or without events (KMS's view of it is added later).
    for key in plan
        .into_iter()
        .flat_map(|p| &p.selectors)
        .filter_map(|s| s.key_arn_for(alarm.account.as_deref(), alarm.region_code()))
    {
        if !keys.iter().any(|k| k.key == key) {
            keys.push(KeyEvidenceRow {
                key,
                count: 0,
                aliases: Vec::new(),
                state: None,
                deletion_date: None,
                description: None,
                tags: BTreeMap::new(),
                unavailable: Vec::new(),
            });
        }
    }
    let mut errors: Vec<ErrorRow> = ev
        .errors
        .into_iter()
        .map(|((code, message), count)| ErrorRow {
            code,
            message,
            count,
        })
        .collect();
    errors.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
    errors.truncate(MAX_ROWS);
    Investigation {
        schema: SCHEMA.into(),
        version: SCHEMA_VERSION,
        generated_at: ctx.now,
        alarm: AlarmInfo {
            // Every alarm field is printed in the notification: all are cleaned.
            name: clean(&alarm.name, MAX_FIELD),
            state: clean(&alarm.new_state, 32),
            previous_state: alarm.old_state.as_deref().map(|s| clean(s, 32)),
            reason: alarm.reason.as_deref().map(|r| clean(r, 1024)),
            state_change_time: alarm.state_change_time,
            account: alarm.account.as_deref().map(|s| clean(s, 64)),
            region: alarm.region.as_deref().map(|s| clean(s, 64)),
            arn: alarm.arn.as_deref().map(|s| clean(s, MAX_FIELD)),
            metrics: alarm
                .metrics()
                .iter()
                .map(|m| {
                    let dims: Vec<String> = m
                        .dimensions
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    let ns = m.namespace.as_deref().unwrap_or("?");
                    let text = if dims.is_empty() {
                        format!("{ns}/{}", m.name)
                    } else {
                        format!("{ns}/{} {{{}}}", m.name, dims.join(", "))
                    };
                    clean(&text, MAX_FIELD)
                })
                .collect(),
        },
        enriched: plan.is_some(),
        not_enriched_reason: reason.map(|r| clean(&r.to_string(), 1024)),
        rule: rule.map(|r| RuleInfo {
            id: r.id.into(),
            title: r.title.into(),
            // As the configuration file sets it (the catalog's by default).
            severity: plan.map_or(r.severity, |p| p.tuning.settings(r).severity),
            description: r.description.into(),
            playbook: r.playbook.iter().map(|s| (*s).to_owned()).collect(),
        }),
        window: plan.map(|p| p.window),
        gather: ctx.gather,
        count: ev.count,
        first_seen: ev.first,
        last_seen: ev.last,
        principals,
        source_ips,
        keys,
        event_names: top(ev.names),
        errors,
        encryption_context: top(ev.contexts),
        user_agents: top(ev.agents).into_iter().take(10).collect(),
        cross_account_events: ev.cross_account,
        samples: ev.samples.into_iter().map(|(_, v)| v).collect(),
        athena_query: athena,
        suppressed: ev.suppressed,
        record_location: None,
    }
}

fn top_ip(ev: &Evidence) -> Option<String> {
    ev.ips
        .iter()
        .filter(|(ip, _)| *ip != "-" && classify_source(Some(ip)) != SourceClass::AwsService)
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(k, _)| k.clone())
}
