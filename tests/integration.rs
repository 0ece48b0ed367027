//! One integration-test binary against a real AWS-API server (moto_server, started by
//! the harness in `lib.rs` on a free loopback port for each test).

mod enricher;
mod hit_index;
mod iam;
mod organization;
mod processor;
mod review;
mod rules;
mod usage_table;
