//! Which accounts and regions a CloudTrail bucket holds logs for, from delimiter
//! listings of its layout.

use crate::aws::ports::{AwsError, ObjectStore};
use crate::cloudtrail::layout::{log_account_prefix, logs_root};
use crate::cloudtrail::record::is_account_id;

/// The log roots of a CloudTrail bucket: `[prefix/]AWSLogs/` and, for organization
/// trails, `[prefix/]AWSLogs/o-xxx/`, each with an account found under it (filtered
/// to `accounts` when that is not empty).
pub async fn discover_accounts<S: ObjectStore>(
    store: &S,
    bucket: &str,
    prefix: Option<&str>,
    accounts: &[String],
) -> Result<Vec<(String, String)>, AwsError> {
    let base = logs_root(prefix);
    let last = |p: &str| {
        p.trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let mut out = Vec::new();
    for p in store.list(bucket, &base, Some("/")).await?.prefixes {
        let name = last(&p);
        if name.starts_with("o-") {
            for q in store.list(bucket, &p, Some("/")).await?.prefixes {
                out.push((p.clone(), last(&q)));
            }
        } else {
            out.push((base.clone(), name));
        }
    }
    out.retain(|(_, acct)| is_account_id(acct) && (accounts.is_empty() || accounts.contains(acct)));
    Ok(out)
}

/// The regions with CloudTrail logs under `<root><account>/CloudTrail/`, unless
/// `configured` names them.
pub async fn discover_regions<S: ObjectStore>(
    store: &S,
    bucket: &str,
    root: &str,
    account: &str,
    configured: &[String],
) -> Result<Vec<String>, AwsError> {
    if !configured.is_empty() {
        return Ok(configured.to_vec());
    }
    let listing = store
        .list(bucket, &log_account_prefix(root, account), Some("/"))
        .await?;
    Ok(listing
        .prefixes
        .iter()
        .filter_map(|p| {
            p.trim_end_matches('/')
                .rsplit('/')
                .next()
                .map(str::to_owned)
        })
        .collect())
}
