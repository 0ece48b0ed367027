//! The notification text: an SNS subject of at most 100 characters and a plain-text
//! body of at most 256 KB.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::investigate::evidence::Count;
use crate::investigate::record::Investigation;
use crate::investigate::sanitize::clean;

/// SNS subjects may be at most 100 characters.
pub const MAX_SUBJECT: usize = 100;

/// SNS messages may be at most 256 KB.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The SNS subject: at most 100 characters naming the rule, the key and the principal.
pub fn notification_subject(inv: &Investigation) -> String {
    let short = |s: &str| -> String {
        if let Some((_, a)) = s.rsplit_once(":alias/") {
            return format!("alias/{a}");
        }
        if let Some((_, k)) = s.rsplit_once(":key/") {
            // Key ids are long; the first block is enough to recognise one.
            return format!("key/{}", k.split('-').next().unwrap_or(k));
        }
        for kind in [":role/", ":user/"] {
            if let Some((_, name)) = s.rsplit_once(kind) {
                return format!("{}{}", &kind[1..], name.rsplit('/').next().unwrap_or(name));
            }
        }
        s.to_owned()
    };
    let text = if inv.enriched {
        let key = inv
            .keys
            .iter()
            .find(|k| k.key != "-")
            .map(|k| k.aliases.first().cloned().unwrap_or_else(|| short(&k.key)));
        let who = inv.principals.first().map(|p| short(&p.principal));
        let mut s = match &inv.rule {
            Some(rule) => format!(
                "[{}] {}: {} events",
                rule.severity.as_str().to_uppercase(),
                rule.id,
                inv.count
            ),
            None => format!(
                "[{}] {}: {} events",
                inv.alarm.state,
                clean(&inv.alarm.name, 40),
                inv.count
            ),
        };
        if let Some(k) = key {
            s.push_str(&format!(" on {k}"));
        }
        if let Some(w) = who {
            s.push_str(&format!(" by {w}"));
        }
        s
    } else {
        let head = format!("[{}] ", inv.alarm.state);
        let tail = " (not enriched)";
        let room = (MAX_SUBJECT - 1)
            .saturating_sub(head.chars().count() + tail.chars().count())
            .saturating_sub(1);
        format!("{head}{}{tail}", clean(&inv.alarm.name, room))
    };
    clean(&text, MAX_SUBJECT - 1)
}

/// The notification body: plain text, read top-down, at most 256 KB.
pub fn notification_body(inv: &Investigation) -> String {
    use std::fmt::Write;
    let mut b = String::new();
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let a = &inv.alarm;
    let _ = writeln!(
        b,
        "CloudWatch alarm {} is {} (was {}) since {}.",
        a.name,
        a.state,
        a.previous_state.as_deref().unwrap_or("?"),
        ts(a.state_change_time)
    );
    if let Some(r) = &a.reason {
        let _ = writeln!(b, "Reason: {r}");
    }
    let _ = writeln!(
        b,
        "Metric: {}",
        if a.metrics.is_empty() {
            "-".to_owned()
        } else {
            a.metrics.join("; ")
        }
    );
    if let Some(acct) = &a.account {
        let _ = writeln!(
            b,
            "Account: {acct}   Region: {}",
            a.region.as_deref().unwrap_or("?")
        );
    }
    b.push('\n');
    match (&inv.rule, inv.enriched) {
        (Some(rule), true) => {
            let _ = writeln!(
                b,
                "RULE {} ({}): {}",
                rule.id,
                rule.severity.as_str(),
                rule.title
            );
            let _ = writeln!(b, "{}", rule.description);
        }
        (None, true) => {
            let _ = writeln!(
                b,
                "The metric is keytrail's own; the events below are those its dimensions select."
            );
        }
        _ => {
            let _ = writeln!(
                b,
                "NOT ENRICHED: {}",
                inv.not_enriched_reason
                    .as_deref()
                    .unwrap_or("the alarm's metric is not a keytrail rule's")
            );
            let _ = writeln!(
                b,
                "What is known is listed above; investigate from the alarm's metric."
            );
        }
    }
    if let Some(w) = &inv.window {
        let _ = writeln!(
            b,
            "\nWINDOW {} to {} (log files delivered until {})",
            ts(w.start),
            ts(w.end),
            ts(w.files_to)
        );
        match (inv.first_seen, inv.last_seen) {
            (Some(f), Some(l)) => {
                let _ = writeln!(
                    b,
                    "{} matching events, first {} last {}",
                    inv.count,
                    ts(f),
                    ts(l)
                );
            }
            _ => {
                let _ = writeln!(
                    b,
                    "No matching events found in the logs read (CloudTrail may not have delivered them yet)."
                );
            }
        }
    }
    let g = &inv.gather;
    if inv.enriched {
        let _ = writeln!(
            b,
            "Read {} of {} selected log files ({} listed, {} records) from {}.",
            g.files_read, g.files_selected, g.files_listed, g.records_scanned, g.source
        );
        if !g.files_failed.is_empty() {
            let _ = writeln!(
                b,
                "PARTIAL: {} log files could not be read; the counts below miss their events:",
                g.files_failed.len()
            );
            for f in g.files_failed.iter().take(20) {
                let _ = writeln!(b, "  - {}: {}", f.key, f.error);
            }
        }
    }
    if !inv.principals.is_empty() {
        let _ = writeln!(b, "\nWHO");
        for p in &inv.principals {
            let mut line = format!("  {:>6}  {}", p.count, p.principal);
            if !p.sessions.is_empty() {
                line.push_str(&format!("  sessions: {}", p.sessions.join(", ")));
            }
            if p.service_originated {
                line.push_str("  (via AWS service)");
            }
            let _ = writeln!(b, "{line}");
        }
    }
    if !inv.source_ips.is_empty() {
        let _ = writeln!(b, "\nFROM");
        for ip in &inv.source_ips {
            let class = serde_json::to_value(ip.class)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(
                b,
                "  {:>6}  {}  ({})",
                ip.count,
                ip.ip,
                class.replace('_', " ")
            );
        }
    }
    if !inv.keys.is_empty() {
        let _ = writeln!(b, "\nKEYS");
        for k in &inv.keys {
            let mut line = format!("  {:>6}  {}", k.count, k.key);
            if !k.aliases.is_empty() {
                line.push_str(&format!("  {}", k.aliases.join(", ")));
            }
            if let Some(s) = &k.state {
                line.push_str(&format!("  state {s}"));
            }
            if let Some(d) = &k.deletion_date {
                line.push_str(&format!(" (deletion {d})"));
            }
            let _ = writeln!(b, "{line}");
            if !k.tags.is_empty() {
                let tags: Vec<String> = k.tags.iter().map(|(t, v)| format!("{t}={v}")).collect();
                let _ = writeln!(b, "          tags: {}", tags.join(", "));
            }
            for u in &k.unavailable {
                let _ = writeln!(b, "          not available: {u}");
            }
        }
    }
    let counts = |b: &mut String, title: &str, rows: &[Count]| {
        if !rows.is_empty() {
            let _ = writeln!(b, "\n{title}");
            for r in rows {
                let _ = writeln!(b, "  {:>6}  {}", r.count, r.value);
            }
        }
    };
    counts(&mut b, "OPERATIONS", &inv.event_names);
    if !inv.errors.is_empty() {
        let _ = writeln!(b, "\nERRORS");
        for e in &inv.errors {
            let _ = writeln!(
                b,
                "  {:>6}  {}  {}",
                e.count,
                e.code,
                e.message.as_deref().unwrap_or("")
            );
        }
    }
    counts(&mut b, "ENCRYPTION CONTEXT", &inv.encryption_context);
    counts(&mut b, "USER AGENTS", &inv.user_agents);
    if inv.cross_account_events > 0 {
        let _ = writeln!(
            b,
            "\nCROSS-ACCOUNT: {} events by a caller outside the key's account.",
            inv.cross_account_events
        );
    }
    if !inv.suppressed.is_empty() {
        let list: Vec<String> = inv
            .suppressed
            .iter()
            .map(|(label, n)| format!("{} by {}", n, clean(label, 64)))
            .collect();
        let _ = writeln!(
            b,
            "\nSUPPRESSED: matching events silenced by the configuration file (not counted above): {}.",
            list.join(", ")
        );
    }
    if !inv.samples.is_empty() {
        let _ = writeln!(b, "\nSAMPLE EVENTS");
        for s in &inv.samples {
            let f = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
            let _ = writeln!(
                b,
                "  {} {} {} from {} {} {}",
                f("eventTime"),
                f("eventName"),
                f("principal"),
                f("sourceIPAddress"),
                f("errorCode"),
                f("eventID")
            );
        }
    }
    if let Some(rule) = &inv.rule {
        let _ = writeln!(b, "\nPLAYBOOK");
        for (i, step) in rule.playbook.iter().enumerate() {
            let _ = writeln!(b, "  {}. {step}", i + 1);
        }
    }
    if let Some(q) = &inv.athena_query {
        let _ = writeln!(b, "\nATHENA QUERY (standard CloudTrail table)\n{q}");
    }
    if let Some(loc) = &inv.record_location {
        let _ = writeln!(b, "\nInvestigation record: {loc}");
    }
    truncate_body(b)
}

pub(crate) fn truncate_body(mut b: String) -> String {
    const NOTE: &str = "\n[truncated: the message exceeded 256 KB; see the investigation record]\n";
    if b.len() <= MAX_BODY_BYTES {
        return b;
    }
    let mut cut = MAX_BODY_BYTES - NOTE.len();
    while !b.is_char_boundary(cut) {
        cut -= 1;
    }
    b.truncate(cut);
    b.push_str(NOTE);
    b
}
