//! CloudTrail in: the record model, the streaming reader and its framing, and the S3
//! key layouts (CloudTrail's own and keytrail's outputs).

pub mod framing;
pub mod gunzip;
pub mod layout;
pub mod lenient;
pub mod reader;
pub mod record;
