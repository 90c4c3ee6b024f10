//! `/api/v1/auth/*` (api.md §5.1).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tenantry_domain::{
    Email, ErrorCode, FieldError, FullName, LoginPassword, NewPassword, OneTimeToken, Slug,
    TenantName,
};
use tenantry_services::registration::RegisterCommand;

use crate::auth::{Caller, Tenant};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::json::{Fields, JsonBody};
use crate::limits;
use crate::meta::Meta;
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/auth/register",
            post(crate::idempotency::idempotent(
                crate::idempotency::Scope::Register,
                register,
            )),
        )
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/logout-all", post(logout_all))
        .route("/auth/verify-email", post(verify_email))
        .route("/auth/resend-verification", post(resend_verification))
        .route("/auth/forgot-password", post(forgot_password))
        .route("/auth/reset-password", post(reset_password))
}

/// Register a user and a tenant; provisioning continues in the background.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body(content = crate::ops::docs::RegisterRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted: the tenant is being provisioned", body = crate::ops::docs::RegisterResponse),
        (status = 409, description = "Slug taken", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid input", body = crate::ops::docs::ErrorBody),
        (status = 429, description = "Rate limited", body = crate::ops::docs::ErrorBody)),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the stored response of an earlier identical request; 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")))]
pub(crate) async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
    let command = register_body(body)?;
    let headers = limits::enforce(
        &state,
        "register",
        &limits::register(ip, command.email.as_str()),
    )
    .await?;
    let reg = state.services().register(command, &ctx).await?;
    let body = json!({
        "user": reg.user,
        "workflow_id": reg.workflow_id,
        "tenant_slug": reg.tenant_slug,
        "message": "Please check your email to verify your account",
    });
    Ok((StatusCode::ACCEPTED, headers.0, Json(body)).into_response())
}

/// Reads a `/auth/register` body: every member's problem at once, the password judged against the account's
/// own words. The body readers of this module are pure and public so the fuzz targets (fuzz/) can reach them.
pub fn register_body(body: JsonBody) -> ApiResult<RegisterCommand> {
    let mut f = Fields::new(body);
    let email_raw = f.required_str("email");
    let password_raw = f.required_str("password");
    let full_name_raw = f.required_str("full_name");
    let tenant_name_raw = f.required_str("tenant_name");
    let slug_raw = f.required_str("tenant_slug");
    let email = f.parse("email", email_raw, Email::parse);
    let full_name = f.parse("full_name", full_name_raw, FullName::parse);
    let tenant_name = f.parse("tenant_name", tenant_name_raw, TenantName::parse);
    let slug = f.parse("tenant_slug", slug_raw, Slug::parse);
    let mut inputs: Vec<String> = Vec::new();
    if let Some(e) = &email {
        inputs.push(e.as_str().to_owned());
        inputs.push(e.local_part().to_owned());
    }
    inputs.extend(full_name.iter().map(|n| n.as_str().to_owned()));
    inputs.extend(tenant_name.iter().map(|n| n.as_str().to_owned()));
    inputs.extend(slug.iter().map(|s| s.as_str().to_owned()));
    let input_refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let password = f.parse("password", password_raw, |p| {
        NewPassword::parse(p, &input_refs)
    });
    f.finish()?;
    let (Some(email), Some(password), Some(full_name), Some(tenant_name), Some(slug)) =
        (email, password, full_name, tenant_name, slug)
    else {
        return Err(ApiError::internal("validated fields missing"));
    };
    Ok(RegisterCommand {
        email,
        password,
        full_name,
        tenant_name,
        slug,
    })
}

/// Reads `{email, password}` bodies (`/auth/login`, `/admin/login`).
pub fn credentials(body: JsonBody) -> ApiResult<(Email, LoginPassword)> {
    let mut f = Fields::new(body);
    let email_raw = f.required_str("email");
    let password_raw = f.required_str("password");
    let email = f.parse("email", email_raw, Email::parse);
    let password = f.parse("password", password_raw, LoginPassword::parse);
    f.finish()?;
    email
        .zip(password)
        .ok_or_else(|| ApiError::internal("validated fields missing"))
}

/// Reads `{email}` bodies (resend, forgot).
pub fn email_body(body: JsonBody) -> ApiResult<Email> {
    let mut f = Fields::new(body);
    let raw = f.required_str("email");
    let email = f.parse("email", raw, Email::parse);
    f.finish()?;
    email.ok_or_else(|| ApiError::internal("validated field missing"))
}

/// Reads a `refresh_token` member: a string of 1..1024 characters.
pub fn refresh_token_body(body: JsonBody) -> ApiResult<String> {
    let mut f = Fields::new(body);
    let raw = f.required_str("refresh_token");
    let token = f.parse("refresh_token", raw, |s| {
        let n = s.chars().count();
        if (1..=1024).contains(&n) {
            Ok(s.to_owned())
        } else {
            Err(FieldError::length(
                "refresh_token",
                if n == 0 {
                    ErrorCode::TooShort
                } else {
                    ErrorCode::TooLong
                },
                1,
                1024,
            ))
        }
    });
    f.finish()?;
    token.ok_or_else(|| ApiError::internal("validated field missing"))
}

/// Reads a `/auth/verify-email` body `{token}`.
pub fn token_body(body: JsonBody) -> ApiResult<OneTimeToken> {
    let mut f = Fields::new(body);
    let raw = f.required_str("token");
    let token = f.parse("token", raw, OneTimeToken::parse);
    f.finish()?;
    token.ok_or_else(|| ApiError::internal("validated field missing"))
}

/// Reads a `/auth/reset-password` body `{token, new_password}`; the strength of the new password is judged by
/// the service, which knows the account's words.
pub fn reset_body(body: JsonBody) -> ApiResult<(OneTimeToken, LoginPassword)> {
    let mut f = Fields::new(body);
    let token_raw = f.required_str("token");
    let password_raw = f.required_str("new_password");
    let token = f.parse("token", token_raw, OneTimeToken::parse);
    let password = f.parse("new_password", password_raw, LoginPassword::parse);
    f.finish()?;
    token
        .zip(password)
        .ok_or_else(|| ApiError::internal("validated fields missing"))
}

/// Log in to the header tenant: a new session and its first token pair.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    params(("X-Tenant-Slug" = String, Header, description = "The tenant to log in to")),
    request_body(content = crate::ops::docs::LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Logged in", body = crate::ops::docs::TokenPair),
        (status = 401, description = "Invalid credentials", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid input", body = crate::ops::docs::ErrorBody),
        (status = 429, description = "Rate limited", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ClientIp(ip): ClientIp,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
    let (email, password) = credentials(body)?;
    let headers = limits::enforce(&state, "login", &limits::login(ip, email.as_str())).await?;
    let pair = state
        .services()
        .login(&tenant, &email, &password, &ctx)
        .await?;
    Ok((headers.0, Json(pair)).into_response())
}

/// Rotate a refresh token: a new access token for the same session and a new refresh token.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    params(("X-Tenant-Slug" = String, Header, description = "The session's tenant")),
    request_body(content = crate::ops::docs::RefreshRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Rotated", body = crate::ops::docs::TokenPair),
        (status = 401, description = "Invalid or expired refresh token", body = crate::ops::docs::ErrorBody),
        (status = 429, description = "Rate limited", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ClientIp(ip): ClientIp,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
    let token = refresh_token_body(body)?;
    let headers = limits::enforce(&state, "refresh", &limits::by_ip("refresh", ip)).await?;
    let pair = state.services().refresh(&tenant, &token, &ctx).await?;
    Ok((headers.0, Json(pair)).into_response())
}

/// End the session of a refresh token (always 204).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    params(("X-Tenant-Slug" = String, Header, description = "The session's tenant")),
    request_body(content = crate::ops::docs::RefreshRequest, content_type = "application/json"),
    responses((status = 204, description = "Logged out")))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ClientIp(ip): ClientIp,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
    let token = refresh_token_body(body)?;
    let headers = limits::enforce(&state, "logout", &limits::by_ip("logout", ip)).await?;
    state.services().logout(&tenant, &token, &ctx).await?;
    Ok((StatusCode::NO_CONTENT, headers.0).into_response())
}

/// End every session of the caller, in every tenant.
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Every session revoked"),
        (status = 401, description = "Not authenticated", body = crate::ops::docs::ErrorBody),
        (status = 403, description = "Assumed identity", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn logout_all(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Meta(ctx): Meta,
) -> ApiResult<Response> {
    caller.not_assumed()?;
    let headers = limits::enforce(&state, "logout", &limits::by_ip("logout", ip)).await?;
    state.services().logout_all(&caller.0, &ctx).await?;
    Ok((StatusCode::NO_CONTENT, headers.0).into_response())
}

/// Confirm an email address with the token of the verification email.
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "auth",
    request_body(content = crate::ops::docs::TokenRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Verified", body = crate::ops::docs::VerifyEmailResponse),
        (status = 400, description = "Invalid or expired verification token", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid token format", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn verify_email(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
    let token = token_body(body)?;
    let headers = limits::enforce(&state, "verify", &limits::by_ip("verify", ip)).await?;
    let user = state.services().verify_email(&token, &ctx).await?;
    let body = json!({ "message": "Email verified successfully", "verified": true, "user": user });
    Ok((headers.0, Json(body)).into_response())
}

/// Send a new verification email (the answer never reveals whether the account exists).
#[utoipa::path(post, path = "/api/v1/auth/resend-verification", tag = "auth",
    request_body(content = crate::ops::docs::EmailRequest, content_type = "application/json"),
    responses((status = 200, description = "Sent if the account exists and is unverified", body = crate::ops::docs::MessageResponse)))]
pub(crate) async fn resend_verification(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: JsonBody,
) -> ApiResult<Response> {
    let email = email_body(body)?;
    let headers = limits::enforce(
        &state,
        "resend",
        &limits::by_ip_and_email("resend", ip, email.as_str()),
    )
    .await?;
    state.services().resend_verification(&email).await?;
    let body = json!({ "message": "If an account exists with this email, a verification link has been sent" });
    Ok((headers.0, Json(body)).into_response())
}

/// Email a password reset link (the answer never reveals whether the account exists).
#[utoipa::path(post, path = "/api/v1/auth/forgot-password", tag = "auth",
    request_body(content = crate::ops::docs::EmailRequest, content_type = "application/json"),
    responses((status = 200, description = "Sent if the account exists", body = crate::ops::docs::MessageResponse)))]
pub(crate) async fn forgot_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
    let email = email_body(body)?;
    let headers = limits::enforce(
        &state,
        "forgot",
        &limits::by_ip_and_email("forgot", ip, email.as_str()),
    )
    .await?;
    state.services().forgot_password(&email, &ctx).await?;
    let body = json!({ "message": "If an account exists with this email, a password reset link has been sent" });
    Ok((headers.0, Json(body)).into_response())
}

/// Set a new password with the token of the reset email; every session of the account ends.
#[utoipa::path(post, path = "/api/v1/auth/reset-password", tag = "auth",
    request_body(content = crate::ops::docs::ResetPasswordRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Password reset", body = crate::ops::docs::MessageResponse),
        (status = 400, description = "Invalid or expired reset token", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid token or password", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
    let (token, password) = reset_body(body)?;
    let headers = limits::enforce(&state, "reset", &limits::by_ip("reset", ip)).await?;
    state
        .services()
        .reset_password(&token, &password, &ctx)
        .await?;
    Ok((
        headers.0,
        Json(json!({ "message": "Password has been reset" })),
    )
        .into_response())
}
