//! `/api/v1/members` (api.md §5.4): members of the header tenant.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tenantry_domain::{ErrorCode, FieldError, Role};
use tenantry_services::members::MemberChange;
use utoipa::{OpenApi, ToSchema};

use crate::auth::{Admin, Member};
use crate::error::{ApiError, ApiResult};
use crate::json::{Fields, JsonBody};
use crate::meta::Meta;
use crate::path::Path;
use crate::query::{Params, QueryReader};
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/members", get(list)).route(
        "/members/{user_id}",
        axum::routing::patch(update).delete(remove),
    )
}

/// MemberRead.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MemberRead {
    user_id: uuid::Uuid,
    email: String,
    full_name: String,
    role: crate::ops::docs::MemberRole,
    is_active: bool,
    /// When the member joined.
    #[schema(format = DateTime)]
    created_at: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MemberPage {
    items: Vec<MemberRead>,
    /// Non-null exactly when `has_more` is true.
    next_cursor: Option<String>,
    has_more: bool,
}

/// Body of `PATCH /members/{user_id}`: at least one member.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MemberUpdate {
    role: Option<crate::ops::docs::MemberRole>,
    is_active: Option<bool>,
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(list, update, remove),
    components(schemas(MemberRead, MemberPage, MemberUpdate))
)]
pub struct Doc;

pub(crate) fn path_uuid(raw: &str, field: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::field(FieldError::invalid_uuid(field)))
}

/// Members of the tenant; `include_inactive` is honoured for admins only.
#[utoipa::path(get, operation_id = "members_list", path = "/api/v1/members", tag = "members", security(("bearer" = [])),
    params(("X-Tenant-Slug" = String, Header, description = "The tenant"),
           ("include_inactive" = Option<bool>, Query, description = "Admins only; default false"),
           ("cursor" = Option<String>, Query, description = "Opaque cursor of the previous page"),
           ("limit" = Option<i64>, Query, description = "1..100, default 50", minimum = 1, maximum = 100)),
    responses((status = 200, description = "A page of members", body = MemberPage),
        (status = 422, description = "Invalid query", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    member: Member,
    params: Params,
) -> ApiResult<Response> {
    let mut q = QueryReader::new(&params);
    let include_inactive = q.bool_or("include_inactive", false);
    let page = q.page();
    q.finish()?;
    let page = state
        .services()
        .list_members(member.tenant.id, include_inactive && member.is_admin, &page)
        .await?;
    Ok(Json(page).into_response())
}

/// Change a member's role or activation; the last active admin stays.
#[utoipa::path(patch, operation_id = "members_update", path = "/api/v1/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("X-Tenant-Slug" = String, Header, description = "The tenant"),
           ("user_id" = uuid::Uuid, Path, description = "The member's user id")),
    request_body(content = MemberUpdate, content_type = "application/json"),
    responses((status = 200, description = "Updated", body = MemberRead),
        (status = 403, description = "Admin role required for this operation", body = crate::ops::docs::ErrorBody),
        (status = 404, description = "Member not found", body = crate::ops::docs::ErrorBody),
        (status = 409, description = "Last admin", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid input", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Meta(ctx): Meta,
    Path(user_id): Path<String>,
    body: JsonBody,
) -> ApiResult<Response> {
    let user_id = path_uuid(&user_id, "user_id")?;
    let mut f = Fields::new(body);
    let role_raw = f.optional_str("role");
    let role = f.parse("role", role_raw, Role::parse);
    let is_active = f.optional_bool("is_active");
    if role.is_none() && is_active.is_none() && !f.has_errors() {
        f.error(FieldError::new(
            "body",
            ErrorCode::Missing,
            "At least one of role, is_active is required",
        ));
    }
    f.finish()?;
    let view = state
        .services()
        .update_member(
            &admin.caller.0,
            admin.tenant.id,
            user_id,
            MemberChange { role, is_active },
            &ctx,
        )
        .await?;
    Ok(Json(view).into_response())
}

/// Remove a member (admins), or leave the tenant (any member, on their own id).
#[utoipa::path(delete, operation_id = "members_remove", path = "/api/v1/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("X-Tenant-Slug" = String, Header, description = "The tenant"),
           ("user_id" = uuid::Uuid, Path, description = "The member's user id")),
    responses((status = 204, description = "Removed"),
        (status = 403, description = "Not an admin", body = crate::ops::docs::ErrorBody),
        (status = 404, description = "Member not found", body = crate::ops::docs::ErrorBody),
        (status = 409, description = "Last admin", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    member: Member,
    Meta(ctx): Meta,
    Path(user_id): Path<String>,
) -> ApiResult<Response> {
    let user_id = path_uuid(&user_id, "user_id")?;
    state
        .services()
        .remove_member(
            &member.caller.0,
            member.is_admin,
            member.tenant.id,
            user_id,
            &ctx,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
