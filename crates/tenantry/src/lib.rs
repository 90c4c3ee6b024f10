//! Wiring of the `tenantry` binary, as a library so the test kit starts exactly what production starts.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod cli;
pub mod migrate_cmd;
pub mod redis_probe;
pub mod telemetry;
pub mod wiring;
