//! `/api/v1/users/me*` (api.md §5.2): the caller's profile, password, tenants and sessions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::json;
use tenantry_domain::{ErrorCode, FieldError, FullName, LoginPassword, NewPassword};
use tenantry_services::accounts::{password_inputs, same_password_error};

use crate::auth::{Caller, Member};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::json::{Fields, JsonBody, Patch};
use crate::limits;
use crate::meta::Meta;
use crate::path::Path;
use crate::query::{Params, QueryReader};
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/users/me", get(me).patch(update_me))
        .route("/users/me/password", post(change_password))
        .route("/users/me/tenants", get(my_tenants))
        .route("/users/me/sessions", get(sessions))
        .route("/users/me/sessions/{session_id}", delete(revoke_session))
}

/// The caller's account (the target user under an assumed identity).
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    params(("X-Tenant-Slug" = String, Header, description = "The tenant")),
    responses((status = 200, description = "The caller", body = crate::ops::docs::UserRead),
        (status = 401, description = "Not authenticated", body = crate::ops::docs::ErrorBody),
        (status = 403, description = "Not a member", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn me(State(state): State<AppState>, member: Member) -> ApiResult<Response> {
    Ok(Json(state.services().me(&member.caller.0).await?).into_response())
}

/// Change the caller's full name.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    params(("X-Tenant-Slug" = String, Header, description = "The tenant")),
    request_body(content = crate::ops::docs::UpdateMeRequest, content_type = "application/json"),
    responses((status = 200, description = "Updated", body = crate::ops::docs::UserRead),
        (status = 422, description = "Invalid input", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn update_me(
    State(state): State<AppState>,
    member: Member,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
    let mut f = Fields::new(body);
    if f.has("password") {
        f.error(FieldError::new(
            "password",
            ErrorCode::Invalid,
            "Use POST /api/v1/users/me/password to change the password",
        ));
    }
    let full_name = match f.patch_str("full_name") {
        Patch::Absent => None,
        Patch::Null => {
            f.error(FieldError::null("full_name"));
            None
        }
        Patch::Value(raw) => f.parse("full_name", Some(raw), FullName::parse),
    };
    f.finish()?;
    let user = state
        .services()
        .update_me(&member.caller.0, member.tenant.id, full_name, &ctx)
        .await?;
    Ok(Json(user).into_response())
}

/// Change the caller's password; every other session ends.
#[utoipa::path(post, path = "/api/v1/users/me/password", tag = "users", security(("bearer" = [])),
    request_body(content = crate::ops::docs::ChangePasswordRequest, content_type = "application/json"),
    responses((status = 200, description = "Changed", body = crate::ops::docs::PasswordChanged),
        (status = 400, description = "Current password is incorrect", body = crate::ops::docs::ErrorBody),
        (status = 403, description = "Assumed identity", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid input", body = crate::ops::docs::ErrorBody),
        (status = 429, description = "Rate limited", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
    caller.not_assumed()?;
    let p = &caller.0;
    let mut f = Fields::new(body);
    let current_raw = f.required_str("current_password");
    let new_raw = f.required_str("new_password");
    let current = f.parse("current_password", current_raw, LoginPassword::parse);
    let inputs = password_inputs(&p.email, &p.full_name);
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let new = match (&current, new_raw) {
        (Some(c), Some(n)) if c.expose() == n => {
            f.error(same_password_error());
            None
        }
        (_, n) => f.parse("new_password", n, |s| NewPassword::parse(s, &refs)),
    };
    f.finish()?;
    let (Some(current), Some(new)) = (current, new) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let headers = limits::enforce(&state, "password", &limits::password(ip, p.user_id)).await?;
    let revoked = state
        .services()
        .change_password(p, &current, &new, &ctx)
        .await?;
    let body = json!({ "message": "Password changed", "revoked_sessions": revoked });
    Ok((headers.0, Json(body)).into_response())
}

/// Tenants where the caller is an active member.
#[utoipa::path(get, path = "/api/v1/users/me/tenants", tag = "users", security(("bearer" = [])),
    params(("cursor" = Option<String>, Query, description = "Opaque cursor of the previous page"),
           ("limit" = Option<i64>, Query, description = "1..100, default 50", minimum = 1, maximum = 100)),
    responses((status = 200, description = "A page of tenants", body = crate::ops::docs::TenantPage),
        (status = 422, description = "Invalid cursor or limit", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn my_tenants(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: Params,
) -> ApiResult<Response> {
    let mut q = QueryReader::new(&params);
    let page = q.page();
    q.finish()?;
    Ok(Json(state.services().my_tenants(&caller, &page).await?).into_response())
}

/// The caller's live sessions, across tenants.
#[utoipa::path(get, path = "/api/v1/users/me/sessions", tag = "users", security(("bearer" = [])),
    params(("cursor" = Option<String>, Query, description = "Opaque cursor of the previous page"),
           ("limit" = Option<i64>, Query, description = "1..100, default 50", minimum = 1, maximum = 100)),
    responses((status = 200, description = "A page of sessions", body = crate::ops::docs::SessionPage),
        (status = 403, description = "Assumed identity", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn sessions(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    caller.not_assumed()?;
    let mut q = QueryReader::new(&params);
    let page = q.page();
    q.finish()?;
    Ok(Json(state.services().list_sessions(&caller.0, &page).await?).into_response())
}

/// End one of the caller's sessions (the current one included).
#[utoipa::path(delete, path = "/api/v1/users/me/sessions/{session_id}", tag = "users", security(("bearer" = [])),
    params(("session_id" = uuid::Uuid, Path, description = "Session id")),
    responses((status = 204, description = "Revoked"),
        (status = 403, description = "Assumed identity", body = crate::ops::docs::ErrorBody),
        (status = 404, description = "Session not found", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid UUID", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn revoke_session(
    State(state): State<AppState>,
    caller: Caller,
    Meta(ctx): Meta,
    Path(session_id): Path<String>,
) -> ApiResult<Response> {
    caller.not_assumed()?;
    let id = uuid::Uuid::parse_str(&session_id)
        .map_err(|_| ApiError::field(FieldError::invalid_uuid("session_id")))?;
    state.services().revoke_session(&caller.0, id, &ctx).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
