//! Operational endpoints: health, readiness, metrics, the OpenAPI document and its docs page.

pub(crate) mod cache;
pub mod docs;
pub(crate) mod health;
pub(crate) mod metrics_endpoint;
