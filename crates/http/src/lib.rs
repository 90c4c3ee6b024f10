//! Tenantry's HTTP surface: the axum router, its layers, extractors, the one error type and the
//! operational endpoints. Handlers parse input into domain types and call one service; no SQL here.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod app;
pub mod auth;
pub mod client_ip;
pub mod console;
pub mod error;
pub mod idempotency;
pub mod json;
pub mod limits;
pub mod meta;
pub mod metrics;
mod middleware;
pub mod ops;
pub mod path;
pub mod query;
pub mod request_id;
pub mod state;

pub use app::{router, serve};
pub use error::{ApiError, ApiResult};
pub use state::{AppState, AppStateParts, Lifecycle, Probes};
