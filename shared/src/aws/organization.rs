//! The key inventory across an organisation: every account and Region the month's
//! logs came from (and, optionally, every active account Organizations lists), read
//! through a read-only role in each member account (`template-member-role.yaml`,
//! deployed with StackSets), a bounded number at a time. An account or Region that
//! refuses is named in the report and does not stop the review.

use std::collections::BTreeSet;

use aws_sdk_s3::config::{ProvideCredentials, SharedCredentialsProvider};
use futures::stream::{self, StreamExt};
use tracing::{info, warn};

use crate::aws::inventory::AwsReviewSources;
use crate::aws::ports::{AwsError, Inventory, ReviewSources};
use crate::review::inventory::{InventoryRefusal, KeyInfo};

/// Which accounts the inventory covers besides those the logs came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberAccounts {
    /// Only the accounts (and Regions) of the month's logs.
    FromLogs,
    /// Also every active account of the organisation (`ListAccounts`).
    Organization,
}

/// The review's sources for one account or a whole organisation.
#[derive(Debug)]
pub struct OrgReviewSources {
    /// The function's own account and Region: its trails, and its keys.
    pub home: AwsReviewSources,
    /// The function's configuration (its credentials), for the member roles.
    pub sdk: aws_config::SdkConfig,
    /// The role to assume in each member account (`KEYTRAIL_MEMBER_ROLE`); `None`:
    /// the inventory covers the function's own account and Region only.
    pub member_role: Option<String>,
    pub accounts: MemberAccounts,
    /// Accounts × Regions read at once.
    pub concurrency: usize,
}

impl OrgReviewSources {
    pub fn new(
        home: AwsReviewSources,
        sdk: aws_config::SdkConfig,
        member_role: Option<String>,
        accounts: MemberAccounts,
        concurrency: usize,
    ) -> Self {
        OrgReviewSources {
            home,
            sdk,
            member_role,
            accounts,
            concurrency: concurrency.max(1),
        }
    }

    /// The function's own account.
    async fn own_account(&self) -> Result<String, AwsError> {
        let out = aws_sdk_sts::Client::new(&self.sdk)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetCallerIdentity", "sts".into(), e))?;
        Ok(out.account().unwrap_or_default().to_owned())
    }

    /// Every active account of the organisation.
    async fn organization_accounts(&self) -> Result<Vec<String>, AwsError> {
        let client = aws_sdk_organizations::Client::new(&self.sdk);
        let mut pages = client.list_accounts().into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::from_sdk("ListAccounts", "organizations".into(), e))?;
            out.extend(
                page.accounts()
                    .iter()
                    .filter(|a| a.status().is_none_or(|s| s.as_str() == "ACTIVE"))
                    .filter_map(|a| a.id().map(str::to_owned)),
            );
        }
        Ok(out)
    }

    /// The configuration for one member account's Region: its role's credentials.
    async fn member_config(
        &self,
        account: &str,
        region: &str,
        role: &str,
    ) -> Result<aws_config::SdkConfig, String> {
        let arn = format!("arn:{}:iam::{account}:role/{role}", partition(region));
        let provider = aws_config::sts::AssumeRoleProvider::builder(&arn)
            .session_name("keytrail-review")
            .region(aws_config::Region::new(region.to_owned()))
            .configure(&self.sdk)
            .build()
            .await;
        // Asked once here, so that a refusal names AssumeRole rather than the first
        // KMS call; the provider caches the credentials for the calls that follow.
        provider.provide_credentials().await.map_err(|e| {
            format!(
                "AssumeRole {arn}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        })?;
        Ok(self
            .sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .region(aws_config::Region::new(region.to_owned()))
            .build())
    }

    fn sources_for(conf: &aws_config::SdkConfig) -> AwsReviewSources {
        AwsReviewSources {
            kms: aws_sdk_kms::Client::new(conf),
            cloudtrail: aws_sdk_cloudtrail::Client::new(conf),
            s3: aws_sdk_s3::Client::new(conf),
        }
    }

    /// The keys of one account's Region, or why not.
    async fn keys_of(
        &self,
        own: &str,
        account: &str,
        region: &str,
    ) -> Result<Vec<KeyInfo>, InventoryRefusal> {
        let refusal = |reason: String| InventoryRefusal {
            account: account.to_owned(),
            region: Some(region.to_owned()),
            reason,
        };
        let conf = if account == own {
            self.sdk
                .to_builder()
                .region(aws_config::Region::new(region.to_owned()))
                .build()
        } else {
            let Some(role) = &self.member_role else {
                return Err(refusal(
                    "no member role is configured (KEYTRAIL_MEMBER_ROLE)".into(),
                ));
            };
            self.member_config(account, region, role)
                .await
                .map_err(refusal)?
        };
        Self::sources_for(&conf)
            .keys()
            .await
            .map_err(|e| refusal(e.to_string()))
    }
}

/// The partition of a Region (`aws`, `aws-cn`, `aws-us-gov`).
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

impl ReviewSources for OrgReviewSources {
    async fn keys(&self) -> Result<Vec<KeyInfo>, AwsError> {
        self.home.keys().await
    }

    async fn trails(&self) -> Result<Vec<crate::review::trail::TrailInfo>, AwsError> {
        self.home.trails().await
    }

    async fn inventory(&self, scope: &[(String, String)]) -> Result<Inventory, AwsError> {
        if self.member_role.is_none() && self.accounts == MemberAccounts::FromLogs {
            // One account: the function's own, in its Region, as before.
            return Ok(Inventory {
                keys: self.home.keys().await?,
                refusals: Vec::new(),
            });
        }
        let own = self.own_account().await?;
        let mut accounts: BTreeSet<String> = scope.iter().map(|(a, _)| a.clone()).collect();
        let mut regions: BTreeSet<String> = scope.iter().map(|(_, r)| r.clone()).collect();
        let mut refusals = Vec::new();
        if self.accounts == MemberAccounts::Organization {
            match self.organization_accounts().await {
                Ok(listed) => accounts.extend(listed),
                Err(e) => refusals.push(InventoryRefusal {
                    account: own.clone(),
                    region: None,
                    reason: format!("the organisation's accounts are not listed: {e}"),
                }),
            }
        }
        accounts.insert(own.clone());
        if regions.is_empty() {
            regions.extend(self.sdk.region().map(|r| r.to_string()));
        }
        let targets: Vec<(String, String)> = accounts
            .iter()
            .flat_map(|a| regions.iter().map(move |r| (a.clone(), r.clone())))
            .collect();
        info!(
            accounts = accounts.len(),
            regions = regions.len(),
            concurrency = self.concurrency,
            "reading the key inventory across accounts"
        );
        let own_ref = own.as_str();
        let mut results = stream::iter(targets)
            .map(|(account, region)| async move {
                let r = self.keys_of(own_ref, &account, &region).await;
                (account, region, r)
            })
            .buffer_unordered(self.concurrency);
        let mut keys = Vec::new();
        while let Some((account, region, r)) = results.next().await {
            match r {
                Ok(k) => keys.extend(k),
                Err(refusal) => {
                    warn!(account = %account, region = %region, reason = %refusal.reason, "inventory refused; named in the report");
                    refusals.push(refusal);
                }
            }
        }
        keys.sort_by(|a, b| a.arn.cmp(&b.arn));
        refusals.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        Ok(Inventory { keys, refusals })
    }
}
