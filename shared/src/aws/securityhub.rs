//! Security Hub through the SDK: findings imported with `BatchImportFindings`.

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Partition, Recommendation, Remediation, Resource, Severity, SeverityLabel,
};

use crate::aws::ports::{AwsError, FindingImporter, RefusedFinding};
use crate::investigate::asff::AsffFinding;

/// Security Hub through the SDK.
#[derive(Clone, Debug)]
pub struct SecurityHubImporter {
    pub client: aws_sdk_securityhub::Client,
}

/// The SDK's form of an ASFF finding: every field of [`AsffFinding`], one to one.
fn to_sdk(f: &AsffFinding) -> AwsSecurityFinding {
    let mut b = AwsSecurityFinding::builder()
        .schema_version(&f.schema_version)
        .id(&f.id)
        .product_arn(&f.product_arn)
        .generator_id(&f.generator_id)
        .aws_account_id(&f.aws_account_id)
        .set_types(Some(f.types.clone()))
        .first_observed_at(&f.first_observed_at)
        .last_observed_at(&f.last_observed_at)
        .created_at(&f.created_at)
        .updated_at(&f.updated_at)
        .severity(
            Severity::builder()
                .label(SeverityLabel::from(f.severity.label.as_str()))
                .build(),
        )
        .title(&f.title)
        .description(&f.description)
        .remediation(
            Remediation::builder()
                .recommendation(
                    Recommendation::builder()
                        .text(&f.remediation.recommendation.text)
                        .url(&f.remediation.recommendation.url)
                        .build(),
                )
                .build(),
        )
        .product_name(&f.product_name)
        .company_name(&f.company_name)
        .set_product_fields(Some(
            f.product_fields
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ));
    for r in &f.resources {
        b = b.resources(
            Resource::builder()
                .r#type(&r.kind)
                .id(&r.id)
                .partition(Partition::from(r.partition.as_str()))
                .region(&r.region)
                .build(),
        );
    }
    b.build()
}

impl FindingImporter for SecurityHubImporter {
    async fn import(&self, findings: &[AsffFinding]) -> Result<Vec<RefusedFinding>, AwsError> {
        let target = findings
            .first()
            .map_or_else(String::new, |f| f.product_arn.clone());
        let out = self
            .client
            .batch_import_findings()
            .set_findings(Some(findings.iter().map(to_sdk).collect()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("BatchImportFindings", target, e))?;
        Ok(out
            .failed_findings()
            .iter()
            .map(|e| RefusedFinding {
                id: e.id().unwrap_or_default().to_owned(),
                code: e.error_code().unwrap_or_default().to_owned(),
                message: e.error_message().unwrap_or_default().to_owned(),
            })
            .collect())
    }
}

/// Builds a Security Hub client.
pub fn securityhub_client(sdk: &aws_config::SdkConfig) -> aws_sdk_securityhub::Client {
    aws_sdk_securityhub::Client::new(sdk)
}
