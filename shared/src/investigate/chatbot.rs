//! The investigation as an AWS Chatbot (Amazon Q Developer in chat applications)
//! custom notification: `{"version":"1.0","source":"custom","content":{...},
//! "metadata":{...}}`, published to an SNS topic a Chatbot channel subscribes to.
//!
//! The description is `client-markdown`, which Chatbot renders in Slack and Teams. The
//! values in it come from CloudTrail (principals, source IPs, keys) or from the alarm,
//! and an attacker can shape some of them: each is cleaned like the e-mail text
//! ([`clean`]: no control characters or ANSI escapes, length-capped) and then put in an
//! inline code span it cannot leave (backticks replaced) with the characters of chat
//! links and mentions (`<`, `>`) replaced, so a value cannot add a link, a mention or
//! formatting. The whole message stays small: a few rows per table, every field capped.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::detect::principal::SourceClass;
use crate::investigate::evidence::MAX_FIELD;
use crate::investigate::notification::notification_subject;
use crate::investigate::record::Investigation;
use crate::investigate::sanitize::clean;

/// Rows shown per table (who, from where, which keys).
pub const CHAT_ROWS: usize = 5;

/// Longest description, in characters (chat clients cut long messages).
pub const MAX_CHAT_DESCRIPTION: usize = 3500;

/// Longest title, in characters.
pub const MAX_CHAT_TITLE: usize = 250;

/// At most this many related resources (key ARNs and the alarm's ARN).
pub const MAX_RELATED_RESOURCES: usize = 10;

/// The `metadata.eventType` of keytrail's notifications (custom actions can select it).
pub const CHAT_EVENT_TYPE: &str = "keytrail-investigation";

/// A value inside an inline code span: cleaned, capped, and unable to close the span
/// or to form a link or a mention.
fn code(s: &str, max: usize) -> String {
    let v = chat_text(s, max);
    if v.is_empty() {
        "`-`".to_owned()
    } else {
        format!("`{v}`")
    }
}

/// Text for a chat message outside code spans (title, summary, context values):
/// cleaned and capped, without backticks or angle brackets, and with no `](` to end a
/// markdown link text.
fn chat_text(s: &str, max: usize) -> String {
    let s: String = clean(s, max)
        .chars()
        .map(|c| match c {
            '`' => '\'',
            '<' => '‹',
            '>' => '›',
            c => c,
        })
        .collect();
    s.replace("](", "] (")
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The custom notification for Chatbot (a JSON value; serialise it as the SNS message).
pub fn chatbot_notification(inv: &Investigation) -> Value {
    let subject = notification_subject(inv);
    let a = &inv.alarm;
    let severity = inv.rule.as_ref().map_or("unknown", |r| r.severity.as_str());
    let rule_id = inv.rule.as_ref().map_or("none", |r| r.id.as_str());

    // Lines of the description, added whole while they fit.
    let mut lines: Vec<String> = Vec::new();
    match (&inv.rule, inv.enriched) {
        (Some(rule), true) => lines.push(format!(
            "*{}* ({}): {}",
            chat_text(&rule.title, 120),
            rule.severity.as_str(),
            chat_text(&rule.description, 400)
        )),
        (None, true) => lines.push("A keytrail metric without a rule of its own.".to_owned()),
        _ => lines.push(format!(
            "*Not enriched*: {}",
            code(
                inv.not_enriched_reason
                    .as_deref()
                    .unwrap_or("the alarm's metric is not a keytrail rule's"),
                300
            )
        )),
    }
    lines.push(format!(
        "Alarm {} is {} since {}.",
        code(&a.name, MAX_FIELD),
        code(&a.state, 32),
        ts(a.state_change_time)
    ));
    if let Some(w) = &inv.window {
        let found = match (inv.first_seen, inv.last_seen) {
            (Some(f), Some(l)) => format!(
                "{} matching events, first {} last {}",
                inv.count,
                ts(f),
                ts(l)
            ),
            _ => "No matching events in the logs read yet".to_owned(),
        };
        lines.push(format!(
            "{found} (window {} to {}).",
            ts(w.start),
            ts(w.end)
        ));
    }
    if !inv.gather.files_failed.is_empty() {
        lines.push(format!(
            "*Partial*: {} log files could not be read; the counts miss their events.",
            inv.gather.files_failed.len()
        ));
    }
    let more = |n: usize| {
        (n > CHAT_ROWS).then(|| format!("• … {} more in the investigation record", n - CHAT_ROWS))
    };
    if !inv.principals.is_empty() {
        lines.push("*Who*".to_owned());
        for p in inv.principals.iter().take(CHAT_ROWS) {
            let via = if p.service_originated {
                " (via an AWS service)"
            } else {
                ""
            };
            lines.push(format!(
                "• {} × {}{via}",
                code(&p.principal, MAX_FIELD),
                p.count
            ));
        }
        lines.extend(more(inv.principals.len()));
    }
    if !inv.source_ips.is_empty() {
        lines.push("*From*".to_owned());
        for ip in inv.source_ips.iter().take(CHAT_ROWS) {
            let class = match ip.class {
                SourceClass::AwsService => "AWS service",
                SourceClass::Private => "private",
                SourceClass::Public => "public",
                SourceClass::Unknown => "unknown",
            };
            lines.push(format!(
                "• {} ({class}) × {}",
                code(&ip.ip, MAX_FIELD),
                ip.count
            ));
        }
        lines.extend(more(inv.source_ips.len()));
    }
    if !inv.keys.is_empty() {
        lines.push("*Keys*".to_owned());
        for k in inv.keys.iter().take(CHAT_ROWS) {
            let mut line = format!("• {}", code(&k.key, MAX_FIELD));
            if let Some(alias) = k.aliases.first() {
                line.push_str(&format!(" {}", code(alias, MAX_FIELD)));
            }
            if let Some(s) = &k.state {
                line.push_str(&format!(" state {}", code(s, 64)));
            }
            line.push_str(&format!(" × {}", k.count));
            lines.push(line);
        }
        lines.extend(more(inv.keys.len()));
    }
    if let Some(loc) = &inv.record_location {
        lines.push(format!("Investigation record: {}", code(loc, 1024)));
    }
    let mut description = String::new();
    const CUT: &str = "… (cut; see the investigation record)";
    for line in lines {
        let len = description.chars().count() + line.chars().count() + 1;
        if len + CUT.chars().count() > MAX_CHAT_DESCRIPTION {
            description.push_str(CUT);
            break;
        }
        description.push_str(&line);
        description.push('\n');
    }
    let description = description.trim_end().to_owned();

    let next_steps: Vec<String> = match inv.rule.as_ref().and_then(|r| r.playbook.first()) {
        Some(step) => vec![chat_text(step, 500)],
        None => vec![
            "Investigate from the alarm's metric; the investigation record lists what is known."
                .to_owned(),
        ],
    };
    let mut keywords = vec![
        "keytrail".to_owned(),
        severity.to_owned(),
        chat_text(rule_id, 64),
    ];
    if let Some(acct) = &a.account {
        keywords.push(chat_text(acct, 64));
    }
    let related: Vec<String> = inv
        .keys
        .iter()
        .map(|k| k.key.as_str())
        .chain(a.arn.as_deref())
        .filter(|r| r.starts_with("arn:"))
        .map(|r| chat_text(r, MAX_FIELD))
        .take(MAX_RELATED_RESOURCES)
        .collect();
    let mut context = Map::new();
    let mut put = |k: &str, v: String| {
        context.insert(k.to_owned(), Value::String(v));
    };
    put("rule", chat_text(rule_id, 64));
    put("severity", severity.to_owned());
    put("events", inv.count.to_string());
    put("alarm", chat_text(&a.name, MAX_FIELD));
    put("state", chat_text(&a.state, 32));
    put("stateChangeTime", ts(a.state_change_time));
    put("enriched", inv.enriched.to_string());
    if let Some(acct) = &a.account {
        put("account", chat_text(acct, 64));
    }
    if let Some(region) = &a.region {
        put("region", chat_text(region, 64));
    }
    if let Some(loc) = &inv.record_location {
        put("record", chat_text(loc, 1024));
    }
    // One thread per alarm: its transitions (ALARM, then OK if enabled) group together.
    let thread = chat_text(a.arn.as_deref().unwrap_or(&a.name), MAX_FIELD);
    json!({
        "version": "1.0",
        "source": "custom",
        "id": chat_text(&format!("{}/{}", a.name, ts(a.state_change_time)), MAX_FIELD),
        "content": {
            "textType": "client-markdown",
            "title": chat_text(&subject, MAX_CHAT_TITLE),
            "description": description,
            "nextSteps": next_steps,
            "keywords": keywords,
        },
        "metadata": {
            "threadId": thread,
            "summary": chat_text(&subject, MAX_CHAT_TITLE),
            "eventType": CHAT_EVENT_TYPE,
            "relatedResources": related,
            "additionalContext": context,
        }
    })
}
