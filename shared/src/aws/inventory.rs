//! KMS and CloudTrail through the SDK: the monthly review's key inventory (keys,
//! aliases, tags, rotation, last use) and trail configuration.

use crate::aws::kms::KmsDirectory;
use crate::aws::ports::{AwsError, KeyDirectory, ReviewSources};
use crate::review::inventory::{GrantAccess, KeyAccessRules, KeyState};

/// KMS and CloudTrail through the SDK.
#[derive(Clone, Debug)]
pub struct AwsReviewSources {
    pub kms: aws_sdk_kms::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    /// For the log buckets' versioning, MFA delete and Object Lock.
    pub s3: aws_sdk_s3::Client,
}

fn smithy_time(t: &aws_sdk_kms::primitives::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

impl ReviewSources for AwsReviewSources {
    async fn keys(&self) -> Result<Vec<crate::review::inventory::KeyInfo>, AwsError> {
        use crate::review::inventory::KeyInfo;
        let mut ids = Vec::new();
        let mut pages = self.kms.list_keys().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListKeys", "kms".into(), e))?;
            ids.extend(
                page.keys()
                    .iter()
                    .filter_map(|k| k.key_arn().map(str::to_owned)),
            );
        }
        // One ListAliases for all keys.
        let mut aliases: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let mut alias_error = None;
        let mut pages = self.kms.list_aliases().into_paginator().send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => {
                    for a in page.aliases() {
                        if let (Some(target), Some(name)) = (a.target_key_id(), a.alias_name()) {
                            aliases
                                .entry(target.to_owned())
                                .or_default()
                                .push(name.to_owned());
                        }
                    }
                }
                Err(e) => {
                    alias_error = Some(format!(
                        "ListAliases: {}",
                        AwsError::from_sdk("ListAliases", "kms".into(), e)
                            .code
                            .unwrap_or_default()
                    ));
                    break;
                }
            }
        }
        let dir = KmsDirectory {
            client: self.kms.clone(),
        };
        let mut out = Vec::new();
        for arn in ids {
            let mut k = KeyInfo {
                arn: arn.clone(),
                ..KeyInfo::default()
            };
            match self.kms.describe_key().key_id(&arn).send().await {
                Ok(d) => {
                    if let Some(m) = d.key_metadata() {
                        k.state = m.key_state().map(|s| KeyState::parse(s.as_str()));
                        k.spec = m.key_spec().map(|s| s.as_str().to_owned());
                        k.usage = m.key_usage().map(|s| s.as_str().to_owned());
                        k.manager = m.key_manager().map(|s| s.as_str().to_owned());
                        k.created = m.creation_date().and_then(smithy_time);
                        k.deletion_date = m.deletion_date().and_then(smithy_time);
                        let imported = m.origin().is_some_and(|o| o.as_str() != "AWS_KMS");
                        if imported {
                            k.unavailable.push(
                                "rotation: not applicable (imported or external key material)"
                                    .into(),
                            );
                        }
                    }
                }
                Err(e) => k.unavailable.push(format!(
                    "DescribeKey: {}",
                    AwsError::from_sdk("DescribeKey", arn.clone(), e)
                        .code
                        .unwrap_or_default()
                )),
            }
            let key_id = arn.rsplit('/').next().unwrap_or(&arn).to_owned();
            k.aliases = aliases.get(&key_id).cloned().unwrap_or_default();
            if let Some(e) = &alias_error {
                k.unavailable.push(e.clone());
            }
            if k.is_customer_managed() {
                match dir.tags(&arn).await {
                    Ok(t) => k.tags = t.into_iter().collect(),
                    Err(e) => k
                        .unavailable
                        .push(format!("ListResourceTags: {}", e.code.unwrap_or(e.message))),
                }
                if k.rotation_applies() && k.state == Some(KeyState::Enabled) {
                    match self.kms.get_key_rotation_status().key_id(&arn).send().await {
                        Ok(r) => k.rotation_enabled = Some(r.key_rotation_enabled()),
                        Err(e) => k.unavailable.push(format!(
                            "GetKeyRotationStatus: {}",
                            AwsError::from_sdk("GetKeyRotationStatus", arn.clone(), e)
                                .code
                                .unwrap_or_default()
                        )),
                    }
                }
                // Who can use it (the review's key access), for the keys it lists.
                if k.state.as_ref().is_none_or(|s| *s == KeyState::Enabled) {
                    k.access = Some(self.access_rules(&arn, &mut k.unavailable).await);
                }
                match self.kms.get_key_last_usage().key_id(&arn).send().await {
                    Ok(u) => {
                        k.kms_tracking_start = u.tracking_start_date().and_then(smithy_time);
                        k.kms_last_used = u
                            .key_last_usage()
                            .and_then(|l| l.timestamp())
                            .and_then(smithy_time);
                    }
                    Err(e) => {
                        let e = AwsError::from_sdk("GetKeyLastUsage", arn.clone(), e);
                        k.unavailable.push(format!(
                            "GetKeyLastUsage: {}",
                            e.code.unwrap_or_else(|| "not available".into())
                        ));
                    }
                }
            }
            out.push(k);
        }
        Ok(out)
    }

    async fn trails(&self) -> Result<Vec<crate::review::trail::TrailInfo>, AwsError> {
        use crate::review::trail::{BasicSelector, FieldSelector, TrailInfo};
        let described = self
            .cloudtrail
            .describe_trails()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeTrails", "cloudtrail".into(), e))?;
        let mut out = Vec::new();
        for t in described.trail_list() {
            let name = t.name().unwrap_or_default().to_owned();
            let id = t.trail_arn().unwrap_or(&name).to_owned();
            let mut info = TrailInfo {
                name: name.clone(),
                arn: t.trail_arn().map(str::to_owned),
                kms_key_id: t.kms_key_id().filter(|k| !k.is_empty()).map(str::to_owned),
                log_file_validation: t.log_file_validation_enabled().unwrap_or(false),
                multi_region: t.is_multi_region_trail().unwrap_or(false),
                s3_bucket: t.s3_bucket_name().map(str::to_owned),
                ..TrailInfo::default()
            };
            if let Some(bucket) = info.s3_bucket.clone() {
                self.read_bucket_protection(&bucket, &mut info).await;
            }
            match self.cloudtrail.get_trail_status().name(&id).send().await {
                Ok(s) => info.is_logging = s.is_logging(),
                Err(e) => info.unavailable.push(format!(
                    "GetTrailStatus: {}",
                    AwsError::from_sdk("GetTrailStatus", id.clone(), e)
                        .code
                        .unwrap_or_default()
                )),
            }
            match self
                .cloudtrail
                .get_event_selectors()
                .trail_name(&id)
                .send()
                .await
            {
                Ok(sel) => {
                    info.basic_selectors = sel
                        .event_selectors()
                        .iter()
                        .map(|s| BasicSelector {
                            read_write_type: s.read_write_type().map(|r| r.as_str().to_owned()),
                            include_management_events: s.include_management_events(),
                            exclude_management_event_sources: s
                                .exclude_management_event_sources()
                                .to_vec(),
                        })
                        .collect();
                    info.advanced_selectors = sel
                        .advanced_event_selectors()
                        .iter()
                        .map(|a| {
                            a.field_selectors()
                                .iter()
                                .map(|f| FieldSelector {
                                    field: f.field().to_owned(),
                                    equals: f.equals().to_vec(),
                                    not_equals: f.not_equals().to_vec(),
                                    starts_with: f.starts_with().to_vec(),
                                    not_starts_with: f.not_starts_with().to_vec(),
                                })
                                .collect()
                        })
                        .collect();
                }
                Err(e) => info.unavailable.push(format!(
                    "GetEventSelectors: {}",
                    AwsError::from_sdk("GetEventSelectors", id.clone(), e)
                        .code
                        .unwrap_or_default()
                )),
            }
            out.push(info);
        }
        Ok(out)
    }
}

impl AwsReviewSources {
    /// A customer-managed key's policy (`GetKeyPolicy`, policy `default`) and grants
    /// (`ListGrants`), parsed into who they let use the key. A refusal or an
    /// unreadable policy is noted in `unavailable` and leaves that part `None`.
    async fn access_rules(&self, arn: &str, unavailable: &mut Vec<String>) -> KeyAccessRules {
        let mut rules = KeyAccessRules::default();
        match self
            .kms
            .get_key_policy()
            .key_id(arn)
            .policy_name("default")
            .send()
            .await
        {
            Ok(p) => match KeyAccessRules::from_policy(p.policy().unwrap_or_default()) {
                Ok(r) => rules = r,
                Err(e) => {
                    unavailable.push(format!("GetKeyPolicy: the policy is not readable: {e}"))
                }
            },
            Err(e) => {
                let e = AwsError::from_sdk("GetKeyPolicy", arn.to_owned(), e);
                unavailable.push(format!("GetKeyPolicy: {}", e.code.unwrap_or(e.message)));
            }
        }
        let mut grants = Vec::new();
        let mut pages = self.kms.list_grants().key_id(arn).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => grants.extend(page.grants().iter().map(|g| {
                    GrantAccess {
                        grant_id: g.grant_id().unwrap_or_default().to_owned(),
                        grantee: g.grantee_principal().map(str::to_owned),
                        operations: g
                            .operations()
                            .iter()
                            .map(|o| o.as_str().to_owned())
                            .collect(),
                        constraints: g.constraints().is_some_and(|c| {
                            c.encryption_context_subset().is_some_and(|m| !m.is_empty())
                                || c.encryption_context_equals().is_some_and(|m| !m.is_empty())
                        }),
                        retiring_principal: g.retiring_principal().map(str::to_owned),
                    }
                })),
                Err(e) => {
                    let e = AwsError::from_sdk("ListGrants", arn.to_owned(), e);
                    unavailable.push(format!("ListGrants: {}", e.code.unwrap_or(e.message)));
                    return rules;
                }
            }
        }
        rules.grants = Some(grants);
        rules
    }

    /// Reads the log bucket's versioning and Object Lock into `info`; a refusal (the
    /// bucket is in another account, or the role may not read it) is noted in
    /// `unavailable` and makes those checks "not checked".
    async fn read_bucket_protection(
        &self,
        bucket: &str,
        info: &mut crate::review::trail::TrailInfo,
    ) {
        let mut p = crate::review::trail::BucketProtection::default();
        let mut read = false;
        match self.s3.get_bucket_versioning().bucket(bucket).send().await {
            Ok(v) => {
                read = true;
                p.versioning = v.status().map(|s| s.as_str().to_owned());
                p.mfa_delete = v
                    .mfa_delete()
                    .is_some_and(|m| m.as_str().eq_ignore_ascii_case("Enabled"));
            }
            Err(e) => {
                let err = AwsError::from_sdk("GetBucketVersioning", bucket.to_owned(), e);
                info.unavailable.push(format!(
                    "GetBucketVersioning: {}",
                    err.code.unwrap_or(err.message)
                ));
            }
        }
        match self
            .s3
            .get_object_lock_configuration()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(c) => {
                read = true;
                let conf = c.object_lock_configuration();
                p.object_lock = Some(
                    conf.and_then(|c| c.object_lock_enabled())
                        .is_some_and(|e| e.as_str() == "Enabled"),
                );
                p.default_retention = conf
                    .and_then(|c| c.rule())
                    .and_then(|r| r.default_retention())
                    .map(|d| {
                        let mode = d.mode().map(|m| m.as_str().to_owned()).unwrap_or_default();
                        match (d.days(), d.years()) {
                            (Some(days), _) => format!("{mode} {days} days"),
                            (_, Some(years)) => format!("{mode} {years} years"),
                            _ => mode,
                        }
                    });
            }
            Err(e) => {
                let err = AwsError::from_sdk("GetObjectLockConfiguration", bucket.to_owned(), e);
                // A bucket without Object Lock answers with this error.
                if err.code.as_deref() == Some("ObjectLockConfigurationNotFoundError") {
                    read = true;
                    p.object_lock = Some(false);
                } else {
                    info.unavailable.push(format!(
                        "GetObjectLockConfiguration: {}",
                        err.code.unwrap_or(err.message)
                    ));
                }
            }
        }
        if read {
            info.bucket_protection = Some(p);
        }
    }
}

/// Builds a CloudTrail client.
pub fn cloudtrail_client(sdk: &aws_config::SdkConfig) -> aws_sdk_cloudtrail::Client {
    aws_sdk_cloudtrail::Client::new(sdk)
}
