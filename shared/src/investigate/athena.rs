//! The prepared Athena query over the trail's table for an investigation's window.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::defaults::DEFAULT_DATE_PARTITION;
use crate::investigate::evidence::MAX_FIELD;
use crate::investigate::plan::Window;
use crate::investigate::sanitize::clean;

fn sql_str(s: &str) -> String {
    format!("'{}'", clean(s, MAX_FIELD).replace('\'', "''"))
}

/// True for a name Athena takes unquoted as a column: a letter or `_`, then
/// letters, digits or `_`.
pub fn is_column_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A day partition setting that is neither a plain column name nor `none`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a column name (letters, digits, _) or `none`")]
pub struct NotAColumnName(pub String);

/// The Athena table's day partition column from its setting: unset is the default,
/// `none` is no column, anything else must be a plain column name.
pub fn date_partition(setting: Option<String>) -> Result<Option<String>, NotAColumnName> {
    match setting.as_deref() {
        None => Ok(Some(DEFAULT_DATE_PARTITION.into())),
        Some(s) if s.eq_ignore_ascii_case("none") => Ok(None),
        Some(s) if is_column_name(s) => Ok(Some(s.to_owned())),
        Some(s) => Err(NotAColumnName(s.to_owned())),
    }
}

/// An Athena query over the standard CloudTrail table for the window and the main
/// principal or IP. The key comes from `requestParameters.keyId` or, when the call
/// names none (symmetric Decrypt), from `resources[]`. With `date_partition`, the
/// days of the log files read (`yyyy/MM/dd`) restrict the partitions: without it a
/// partition-projected table is read from its first day, at Athena's price per byte.
pub fn athena_query(
    table: &str,
    date_partition: Option<&str>,
    w: &Window,
    principal: Option<&str>,
    ip: Option<&str>,
) -> String {
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let days = match date_partition.filter(|c| is_column_name(c)) {
        Some(col) => format!(
            "\n  AND {col} BETWEEN '{}' AND '{}'",
            w.files_from.format("%Y/%m/%d"),
            w.files_to.format("%Y/%m/%d")
        ),
        None => String::new(),
    };
    let mut who = Vec::new();
    if let Some(p) = principal {
        who.push(if let Some(acct) = p.strip_prefix("account:") {
            format!("useridentity.accountid = {}", sql_str(acct))
        } else if let Some(svc) = p.strip_prefix("service:") {
            format!("useridentity.invokedby = {}", sql_str(svc))
        } else if p.contains(":role/") {
            format!(
                "useridentity.sessioncontext.sessionissuer.arn = {}",
                sql_str(p)
            )
        } else {
            format!("useridentity.arn = {}", sql_str(p))
        });
    }
    if let Some(ip) = ip {
        who.push(format!("sourceipaddress = {}", sql_str(ip)));
    }
    let who = if who.is_empty() {
        String::new()
    } else {
        format!("\n  AND ({})", who.join("\n       OR "))
    };
    format!(
        "SELECT eventtime, eventname, errorcode, errormessage,\n\
         \x20      useridentity.arn AS caller_arn,\n\
         \x20      useridentity.sessioncontext.sessionissuer.arn AS role_arn,\n\
         \x20      sourceipaddress, useragent,\n\
         \x20      coalesce(json_extract_scalar(requestparameters, '$.keyId'),\n\
         \x20               element_at(transform(filter(resources, r -> r.type = 'AWS::KMS::Key'), r -> r.arn), 1)) AS key,\n\
         \x20      json_extract(requestparameters, '$.encryptionContext') AS encryption_context\n\
         FROM {table}\n\
         WHERE eventsource = 'kms.amazonaws.com'{days}\n\
         \x20 AND eventtime BETWEEN '{}' AND '{}'{who}\n\
         ORDER BY eventtime;",
        ts(w.start),
        ts(w.end),
    )
}
