//! `/api/v1`: Invites to the header tenant and their public accept flow (api.md §5.5).

use utoipa::OpenApi;

use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi()]
pub struct Doc;
