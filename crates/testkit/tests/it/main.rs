//! Integration tests against the real PostgreSQL, Redis and Temporal dev server (see scripts/test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ops;
mod platform;
mod rate_limit;
mod relay;
mod support;
