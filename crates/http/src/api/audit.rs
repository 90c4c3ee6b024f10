//! `/api/v1`: The tenant's audit log for its admins (api.md §5.8).

use utoipa::OpenApi;

use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi()]
pub struct Doc;
