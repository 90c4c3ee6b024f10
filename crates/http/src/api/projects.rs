//! `/api/v1`: Projects: tenant-schema data reached only through `TenantTx` (api.md §5.6).

use utoipa::OpenApi;

use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi()]
pub struct Doc;
