//! `/api/v1/tenants/*` (api.md §5.3).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::client_ip::ClientIp;
use crate::error::ApiResult;
use crate::limits;
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/tenants/{slug}/provisioning", get(provisioning))
}

/// Public provisioning progress of a tenant: pending, provisioning, ready or failed.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}/provisioning", tag = "tenants",
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "Provisioning status", body = crate::ops::docs::ProvisioningStatus),
        (status = 404, description = "Tenant not found", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn provisioning(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    let headers = limits::enforce(&state, "provisioning", &limits::provisioning(ip)).await?;
    let view = state.services().provisioning_status(&slug).await?;
    Ok((headers.0, Json(view)).into_response())
}
