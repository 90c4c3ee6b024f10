//! `/api/v1`: Members of the header tenant (api.md §5.4).

use utoipa::OpenApi;

use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi()]
pub struct Doc;
