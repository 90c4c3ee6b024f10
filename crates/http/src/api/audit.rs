//! `/api/v1`: The tenant's audit log for its admins (api.md §5.8). Every query is scoped to the header
//! tenant; rows of other tenants never appear, whatever the filters.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tenantry_domain::{AuditAction, EntityType, FieldError};
use tenantry_services::superuser::AuditQuery;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::path::Path;
use crate::query::{Params, QueryReader};
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/audit/logs", get(list_logs))
        .route(
            "/audit/logs/entity/{entity_type}/{entity_id}",
            get(entity_history),
        )
}

/// AuditLogRead.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AuditLogRead {
    id: Uuid,
    tenant_id: Option<Uuid>,
    /// Who acted (the operator for `identity.assumed`; the target user under an assumed identity).
    user_id: Option<Uuid>,
    /// The operator, when the row was caused through an assumed identity.
    assumed_by_user_id: Option<Uuid>,
    /// One of the actions of the audit vocabulary, e.g. `user.login`.
    action: String,
    entity_type: AuditEntityType,
    entity_id: Option<Uuid>,
    /// What changed; never passwords, token values or hashes.
    #[schema(value_type = Option<Object>)]
    changes: Option<serde_json::Value>,
    /// A plain address (no mask).
    ip_address: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    status: AuditStatus,
    error_message: Option<String>,
    /// RFC 3339, UTC, six fractional digits.
    #[schema(format = DateTime)]
    created_at: String,
}

/// Outcome of an audited action.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum AuditStatus {
    Success,
    Failure,
}

/// What an audit row is about.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum AuditEntityType {
    User,
    Tenant,
    Membership,
    Invite,
    Project,
    Token,
    Session,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AuditLogPage {
    items: Vec<AuditLogRead>,
    /// Non-null exactly when `has_more` is true.
    next_cursor: Option<String>,
    has_more: bool,
}

/// `status` of `GET /audit/logs`: `true` for `success`.
fn parse_status(s: &str) -> Result<bool, FieldError> {
    match s {
        "success" => Ok(true),
        "failure" => Ok(false),
        _ => Err(FieldError::invalid_choice(
            "status",
            &["success", "failure"],
        )),
    }
}

/// The header tenant's audit rows, newest first.
#[utoipa::path(get, path = "/api/v1/audit/logs", tag = "audit", security(("bearer" = [])),
    params(("X-Tenant-Slug" = String, Header, description = "The tenant"),
           ("action" = Option<String>, Query, description = "A known action, e.g. `user.login`"),
           ("user_id" = Option<Uuid>, Query, description = "Rows of this user"),
           ("status" = Option<AuditStatus>, Query, description = "success or failure"),
           ("cursor" = Option<String>, Query, description = "Opaque cursor of the previous page"),
           ("limit" = Option<i64>, Query, description = "1..100, default 50", minimum = 1, maximum = 100)),
    responses((status = 200, description = "A page of audit rows", body = AuditLogPage),
        (status = 401, description = "Not authenticated", body = crate::ops::docs::ErrorBody),
        (status = 403, description = "Not an admin of the tenant", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Unknown action, invalid user_id, status, cursor or limit", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn list_logs(
    State(state): State<AppState>,
    Admin(member): Admin,
    params: Params,
) -> ApiResult<Response> {
    let mut q = QueryReader::new(&params);
    let page = q.page();
    let action = q.parse("action", q.optional("action"), AuditAction::parse);
    let user_id = q.parse("user_id", q.optional("user_id"), |s| {
        Uuid::parse_str(s.trim()).map_err(|_| FieldError::invalid_uuid("user_id"))
    });
    let success = q.parse("status", q.optional("status"), parse_status);
    q.finish()?;
    let query = AuditQuery {
        action,
        user_id,
        success,
    };
    Ok(Json(
        state
            .services()
            .audit_logs(member.tenant.id, &query, &page)
            .await?,
    )
    .into_response())
}

/// The history of one entity in the header tenant, newest first.
#[utoipa::path(get, path = "/api/v1/audit/logs/entity/{entity_type}/{entity_id}", tag = "audit",
    security(("bearer" = [])),
    params(("X-Tenant-Slug" = String, Header, description = "The tenant"),
           ("entity_type" = AuditEntityType, Path, description = "user, tenant, membership, invite, project, token or session"),
           ("entity_id" = Uuid, Path, description = "The entity's id"),
           ("cursor" = Option<String>, Query, description = "Opaque cursor of the previous page"),
           ("limit" = Option<i64>, Query, description = "1..100, default 50", minimum = 1, maximum = 100)),
    responses((status = 200, description = "A page of audit rows", body = AuditLogPage),
        (status = 401, description = "Not authenticated", body = crate::ops::docs::ErrorBody),
        (status = 403, description = "Not an admin of the tenant", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid entity_type, entity_id, cursor or limit", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn entity_history(
    State(state): State<AppState>,
    Admin(member): Admin,
    Path((entity_type, entity_id)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Response> {
    // Path parameters first, then the query (api.md §0.3 step 7), every problem in one 422.
    let mut q = QueryReader::new(&params);
    let entity_type = q.parse("entity_type", Some(&entity_type), EntityType::parse);
    let entity_id = q.parse("entity_id", Some(&entity_id), |s| {
        Uuid::parse_str(s.trim()).map_err(|_| FieldError::invalid_uuid("entity_id"))
    });
    let page = q.page();
    q.finish()?;
    let (Some(entity_type), Some(entity_id)) = (entity_type, entity_id) else {
        return Err(ApiError::internal("validated path missing"));
    };
    Ok(Json(
        state
            .services()
            .audit_entity_history(member.tenant.id, entity_type, entity_id, &page)
            .await?,
    )
    .into_response())
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(list_logs, entity_history),
    components(schemas(AuditLogRead, AuditLogPage, AuditStatus, AuditEntityType)),
    tags((name = "audit", description = "The tenant's audit log (tenant admins)"))
)]
pub struct Doc;
