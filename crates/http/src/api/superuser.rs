//! `/api/v1`: Superuser administration: console login, all tenants, assumed identity (api.md §5.7).

use utoipa::OpenApi;

use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi()]
pub struct Doc;
