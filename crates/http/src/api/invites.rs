//! `/api/v1/invites` (api.md §5.5): invites of the header tenant, and the public token endpoints.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tenantry_domain::{Email, FullName, LoginPassword, Role};
use tenantry_services::invites::AcceptCommand;
use utoipa::{OpenApi, ToSchema};

use super::members::path_uuid;
use crate::auth::Admin;
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::json::{Fields, JsonBody};
use crate::limits;
use crate::meta::Meta;
use crate::path::Path;
use crate::query::{Params, QueryReader};
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/invites", post(create).get(list))
        .route("/invites/{invite_id}", get(show).put(resend).delete(cancel))
        .route("/invites/t/{token}", get(info))
        .route("/invites/t/{token}/accept", post(accept))
}

/// InviteRead.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InviteRead {
    id: uuid::Uuid,
    email: String,
    role: crate::ops::docs::MemberRole,
    /// A pending invite past its expiry is reported as `expired`.
    status: InviteState,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
    invited_by_user_id: Option<uuid::Uuid>,
}

/// State of an invite.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum InviteState {
    Pending,
    Accepted,
    Cancelled,
    Expired,
}

/// The `status` filter of `GET /invites`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum InviteStatusFilter {
    Pending,
    Accepted,
    Cancelled,
    Expired,
    All,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InvitePage {
    items: Vec<InviteRead>,
    /// Non-null exactly when `has_more` is true.
    next_cursor: Option<String>,
    has_more: bool,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InviteCreate {
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// `member` when absent or null.
    role: Option<crate::ops::docs::MemberRole>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InviteSent {
    id: uuid::Uuid,
    email: String,
    role: crate::ops::docs::MemberRole,
    #[schema(format = DateTime)]
    expires_at: String,
    message: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InviteInfo {
    email: String,
    tenant_name: String,
    tenant_slug: String,
    role: crate::ops::docs::MemberRole,
    #[schema(format = DateTime)]
    expires_at: String,
    /// Whether to ask for a full name (new account) or only the password.
    account_exists: bool,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InviteAccept {
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// New accounts: 8 to 128 characters, zxcvbn score ≥ 3; existing accounts: their password.
    #[schema(format = Password, min_length = 8, max_length = 128)]
    password: String,
    /// Required when no account exists for the email: trimmed, 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    full_name: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InviteAccepted {
    message: String,
    tenant_slug: String,
    user_id: uuid::Uuid,
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(create, list, show, resend, cancel, info, accept),
    components(schemas(
        InviteRead,
        InviteState,
        InviteStatusFilter,
        InvitePage,
        InviteCreate,
        InviteSent,
        InviteInfo,
        InviteAccept,
        InviteAccepted
    ))
)]
pub struct Doc;

const STATUSES: &[&str] = &["pending", "accepted", "cancelled", "expired", "all"];

/// Invite an address to the tenant; its pending invite, if any, is replaced.
#[utoipa::path(post, operation_id = "invites_create", path = "/api/v1/invites", tag = "invites", security(("bearer" = [])),
    params(("X-Tenant-Slug" = String, Header, description = "The tenant")),
    request_body(content = InviteCreate, content_type = "application/json"),
    responses((status = 201, description = "Invite sent", body = InviteSent),
        (status = 403, description = "Admin role required for this operation", body = crate::ops::docs::ErrorBody),
        (status = 409, description = "Already a member", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid input", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
    let mut f = Fields::new(body);
    let email_raw = f.required_str("email");
    let role_raw = f.optional_str("role");
    let email = f.parse("email", email_raw, Email::parse);
    let role = f
        .parse("role", role_raw, Role::parse)
        .unwrap_or(Role::Member);
    f.finish()?;
    let email = email.ok_or_else(|| ApiError::internal("validated field missing"))?;
    let sent = state
        .services()
        .create_invite(&admin.caller.0, &admin.tenant, &email, role, &ctx)
        .await?;
    Ok((StatusCode::CREATED, Json(sent)).into_response())
}

/// Invites of the tenant by status (default `pending`).
#[utoipa::path(get, operation_id = "invites_list", path = "/api/v1/invites", tag = "invites", security(("bearer" = [])),
    params(("X-Tenant-Slug" = String, Header, description = "The tenant"),
           ("status" = Option<InviteStatusFilter>, Query, description = "pending (default), accepted, cancelled, expired or all"),
           ("cursor" = Option<String>, Query, description = "Opaque cursor of the previous page"),
           ("limit" = Option<i64>, Query, description = "1..100, default 50", minimum = 1, maximum = 100)),
    responses((status = 200, description = "A page of invites", body = InvitePage),
        (status = 403, description = "Admin role required for this operation", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid query", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
    params: Params,
) -> ApiResult<Response> {
    let mut q = QueryReader::new(&params);
    let raw = q.optional("status").unwrap_or("pending");
    let status = q.parse("status", Some(raw), |s| {
        STATUSES
            .iter()
            .find(|v| **v == s)
            .copied()
            .ok_or_else(|| tenantry_domain::FieldError::invalid_choice("status", STATUSES))
    });
    let page = q.page();
    q.finish()?;
    let status = status.filter(|s| *s != "all");
    let page = state
        .services()
        .list_invites(admin.tenant.id, status, &page)
        .await?;
    Ok(Json(page).into_response())
}

/// One invite of the tenant.
#[utoipa::path(get, operation_id = "invites_show", path = "/api/v1/invites/{invite_id}", tag = "invites", security(("bearer" = [])),
    params(("X-Tenant-Slug" = String, Header, description = "The tenant"),
           ("invite_id" = uuid::Uuid, Path, description = "Invite id")),
    responses((status = 200, description = "The invite", body = InviteRead),
        (status = 403, description = "Admin role required for this operation", body = crate::ops::docs::ErrorBody),
        (status = 404, description = "Invite not found", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(invite_id): Path<String>,
) -> ApiResult<Response> {
    let id = path_uuid(&invite_id, "invite_id")?;
    Ok(Json(state.services().invite(admin.tenant.id, id).await?).into_response())
}

/// Send the invite again: a new token and expiry replace every pending invite of that address.
#[utoipa::path(put, path = "/api/v1/invites/{invite_id}", tag = "invites", security(("bearer" = [])),
    params(("X-Tenant-Slug" = String, Header, description = "The tenant"),
           ("invite_id" = uuid::Uuid, Path, description = "Invite id")),
    responses((status = 200, description = "Invite resent", body = InviteSent),
        (status = 400, description = "Already accepted", body = crate::ops::docs::ErrorBody),
        (status = 403, description = "Admin role required for this operation", body = crate::ops::docs::ErrorBody),
        (status = 404, description = "Invite not found", body = crate::ops::docs::ErrorBody),
        (status = 409, description = "Already a member", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn resend(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Meta(ctx): Meta,
    Path(invite_id): Path<String>,
) -> ApiResult<Response> {
    let id = path_uuid(&invite_id, "invite_id")?;
    let sent = state
        .services()
        .resend_invite(&admin.caller.0, &admin.tenant, id, &ctx)
        .await?;
    Ok(Json(sent).into_response())
}

/// Cancel a pending invite.
#[utoipa::path(delete, path = "/api/v1/invites/{invite_id}", tag = "invites", security(("bearer" = [])),
    params(("X-Tenant-Slug" = String, Header, description = "The tenant"),
           ("invite_id" = uuid::Uuid, Path, description = "Invite id")),
    responses((status = 200, description = "Cancelled", body = crate::ops::docs::MessageResponse),
        (status = 400, description = "Not pending", body = crate::ops::docs::ErrorBody),
        (status = 403, description = "Admin role required for this operation", body = crate::ops::docs::ErrorBody),
        (status = 404, description = "Invite not found", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Meta(ctx): Meta,
    Path(invite_id): Path<String>,
) -> ApiResult<Response> {
    let id = path_uuid(&invite_id, "invite_id")?;
    state
        .services()
        .cancel_invite(&admin.caller.0, admin.tenant.id, id, &ctx)
        .await?;
    Ok(Json(json!({ "message": "Invite cancelled successfully" })).into_response())
}

/// What an invite link offers, for the accept page.
#[utoipa::path(get, path = "/api/v1/invites/t/{token}", tag = "invites",
    params(("token" = String, Path, description = "The token of the invite link")),
    responses((status = 200, description = "A live invite", body = InviteInfo),
        (status = 404, description = "Invalid or expired invite", body = crate::ops::docs::ErrorBody),
        (status = 429, description = "Rate limited", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn info(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let headers = limits::enforce(&state, "invite-info", &limits::by_ip("invite-info", ip)).await?;
    let info = state.services().invite_info(&token).await?;
    Ok((headers.0, Json(info)).into_response())
}

/// Accept an invite with a new account or an existing one; log in afterwards.
#[utoipa::path(post, path = "/api/v1/invites/t/{token}/accept", tag = "invites",
    params(("token" = String, Path, description = "The token of the invite link")),
    request_body(content = InviteAccept, content_type = "application/json"),
    responses((status = 200, description = "Joined", body = InviteAccepted),
        (status = 400, description = "Invalid invite, email mismatch or tenant unavailable", body = crate::ops::docs::ErrorBody),
        (status = 401, description = "Invalid credentials", body = crate::ops::docs::ErrorBody),
        (status = 409, description = "Already a member", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid input", body = crate::ops::docs::ErrorBody),
        (status = 429, description = "Rate limited", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn accept(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Meta(ctx): Meta,
    Path(token): Path<String>,
    body: JsonBody,
) -> ApiResult<Response> {
    let mut f = Fields::new(body);
    let email_raw = f.required_str("email");
    let password_raw = f.required_str("password");
    let full_name_raw = f.optional_str("full_name");
    let email = f.parse("email", email_raw, Email::parse);
    let password = f.parse("password", password_raw, LoginPassword::parse);
    let full_name = f.parse("full_name", full_name_raw, FullName::parse);
    f.finish()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let headers = limits::enforce(
        &state,
        "invite-accept",
        &limits::invite_accept(ip, &token, email.as_str()),
    )
    .await?;
    let accepted = state
        .services()
        .accept_invite(
            AcceptCommand {
                token,
                email,
                password,
                full_name,
            },
            &ctx,
        )
        .await?;
    Ok((headers.0, Json(accepted)).into_response())
}
