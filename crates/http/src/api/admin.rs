//! `/api/v1/admin/*` (api.md §5.7): superuser administration.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::delete;
use tenantry_domain::{ErrorCode, FieldError};
use uuid::Uuid;

use crate::auth::Superuser;
use crate::error::{ApiError, ApiResult};
use crate::meta::Meta;
use crate::path::Path;
use crate::query::{Params, QueryReader};
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/admin/tenants", delete(bulk_delete))
        .route("/admin/tenants/{tenant_id}", delete(delete_tenant))
}

/// Starts (or reports the running) deletion of any tenant.
#[utoipa::path(delete, path = "/api/v1/admin/tenants/{tenant_id}", tag = "admin", security(("bearer" = [])),
    params(("tenant_id" = uuid::Uuid, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Deletion started (or already running)", body = crate::ops::docs::DeletionStarted),
        (status = 403, description = "Not a superuser", body = crate::ops::docs::ErrorBody),
        (status = 404, description = "Unknown or already deleted", body = crate::ops::docs::ErrorBody),
        (status = 409, description = "Still provisioning", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid UUID", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn delete_tenant(
    State(state): State<AppState>,
    Superuser(actor): Superuser,
    Meta(ctx): Meta,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let tenant_id = Uuid::parse_str(&raw)
        .map_err(|_| ApiError::field(FieldError::invalid_uuid("tenant_id")))?;
    let started = state
        .services()
        .admin_delete_tenant(&actor, tenant_id, &ctx)
        .await?;
    Ok(Json(started).into_response())
}

/// Starts the deletion of up to 500 ready or failed tenants; call again while `has_more`.
#[utoipa::path(delete, path = "/api/v1/admin/tenants", tag = "admin", security(("bearer" = [])),
    params(("status" = crate::ops::docs::BulkDeleteStatus, Query, description = "ready or failed"),
           ("confirm" = bool, Query, description = "must be true")),
    responses(
        (status = 200, description = "Deletions started", body = crate::ops::docs::BulkDeletionStarted),
        (status = 403, description = "Not a superuser", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Missing or invalid status or confirm", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn bulk_delete(
    State(state): State<AppState>,
    Superuser(actor): Superuser,
    Meta(ctx): Meta,
    params: Params,
) -> ApiResult<Response> {
    let mut q = QueryReader::new(&params);
    let status = q.required("status");
    let confirm = q.required("confirm");
    let status = q.parse("status", status, |s| match s {
        "ready" | "failed" => Ok(s.to_owned()),
        _ => Err(FieldError::invalid_choice("status", &["ready", "failed"])),
    });
    if confirm.is_some_and(|c| c != "true") {
        q.error(FieldError::new(
            "confirm",
            ErrorCode::Invalid,
            "Must be true",
        ));
    }
    q.finish()?;
    let Some(status) = status else {
        return Err(ApiError::internal("validated field missing"));
    };
    Ok(Json(
        state
            .services()
            .admin_bulk_delete(&actor, &status, &ctx)
            .await?,
    )
    .into_response())
}
