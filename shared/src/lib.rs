//! keytrail: audit AWS KMS key usage from CloudTrail logs.
//!
//! The core is synchronous and free of AWS SDK types: the streaming [`reader`], the
//! tolerant [`model`], [`keys`] and [`principal`] normalisation, the detection
//! [`catalog`], [`metrics`] aggregation, per-file [`summary`]s, the [`analysis`]
//! engine that ties them together and offline threshold evaluation in [`findings`].
//! The `aws` feature adds the S3/CloudWatch adapters and the Lambda handlers.

/// For an ordered map keyed by an owned type and looked up through `dyn $view`, a
/// trait that the owned key and a borrowed one both implement (so that a lookup
/// builds no key): given `impl Ord for dyn $view`, written to agree with the owned
/// key's own order, this adds the comparisons that follow from it and
/// `Borrow<dyn $view>` for the owned key.
macro_rules! borrowed_lookup {
    ($view:ident for $owned:ty) => {
        impl PartialOrd for dyn $view + '_ {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl PartialEq for dyn $view + '_ {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other).is_eq()
            }
        }
        impl Eq for dyn $view + '_ {}
        impl<'a> std::borrow::Borrow<dyn $view + 'a> for $owned {
            fn borrow(&self) -> &(dyn $view + 'a) {
                self
            }
        }
    };
}

pub mod alarm;
pub mod analysis;
pub mod catalog;
pub mod enrich;
pub mod findings;
pub mod framing;
pub mod keys;
pub mod metrics;
pub mod model;
pub mod principal;
pub mod reader;
pub mod render;
pub mod review;
pub mod s3key;
pub mod sanitize;
pub mod search;
pub mod summary;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub mod enricher;
#[cfg(feature = "aws")]
pub mod processor;
#[cfg(feature = "aws")]
pub mod reviewer;
