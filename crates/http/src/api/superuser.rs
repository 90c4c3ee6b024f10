//! `/api/v1`: Superuser administration: console login, all tenants, assumed identity (api.md §5.7).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tenantry_domain::{FieldError, TenantStatus};
use tenantry_services::superuser::AssumeRequest;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::Superuser;
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::json::{Fields, JsonBody};
use crate::limits;
use crate::meta::Meta;
use crate::query::{Params, QueryReader};
use crate::state::AppState;

/// Longest `reason` an operator may give for assuming an identity.
const REASON_MAX_CHARS: usize = 500;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/admin/login", post(admin_login))
        .route("/admin/tenants", get(list_tenants))
        .route("/admin/assume-identity", post(assume_identity))
}

/// Answers carrying bearer tokens are never cached (the middleware covers the contract's paths; the
/// console login is marked here).
fn no_store(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// Answer of `POST /admin/login`: an access token without a tenant; there is no refresh token.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ConsoleToken {
    access_token: String,
    /// Always `bearer`.
    token_type: String,
    /// Seconds until the token (and its session) expire: `ACCESS_TOKEN_EXPIRE_MINUTES` × 60.
    expires_in: u64,
}

/// Body of `POST /admin/assume-identity`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AssumeIdentityRequest {
    /// The user to act as: active, not a superuser, an active member of the tenant.
    target_user_id: Uuid,
    /// A ready, active, not deleted tenant.
    tenant_id: Uuid,
    /// At most 500 characters; recorded in the audit log.
    #[schema(max_length = 500)]
    reason: Option<String>,
}

/// Answer of `POST /admin/assume-identity`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AssumedIdentityToken {
    /// An `assumed_access` token: acts as the target in the tenant; cannot be refreshed.
    access_token: String,
    /// Always `bearer`.
    token_type: String,
    /// `ASSUMED_IDENTITY_EXPIRE_MINUTES` × 60.
    expires_in: u64,
    assumed_user_id: Uuid,
    assumed_user_email: String,
    tenant_id: Uuid,
    tenant_slug: String,
}

/// Log in to the superuser console: a session without a tenant, no refresh token.
#[utoipa::path(post, path = "/api/v1/admin/login", tag = "admin",
    request_body(content = crate::ops::docs::LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Logged in", body = ConsoleToken),
        (status = 401, description = "Invalid credentials (also for accounts that are not superusers)", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid input", body = crate::ops::docs::ErrorBody),
        (status = 429, description = "Rate limited (shared with /auth/login)", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn admin_login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
    let (email, password) = super::auth::credentials(body)?;
    let headers = limits::enforce(&state, "login", &limits::login(ip, email.as_str())).await?;
    let token = state
        .services()
        .admin_login(&email, &password, &ctx)
        .await?;
    Ok(no_store((headers.0, Json(token)).into_response()))
}

/// Every tenant, deleted ones included, optionally of one status.
#[utoipa::path(get, path = "/api/v1/admin/tenants", tag = "admin", security(("bearer" = [])),
    params(("status" = Option<crate::ops::docs::TenantState>, Query, description = "provisioning, ready, failed, deleting or deleted"),
           ("cursor" = Option<String>, Query, description = "Opaque cursor of the previous page"),
           ("limit" = Option<i64>, Query, description = "1..100, default 50", minimum = 1, maximum = 100)),
    responses((status = 200, description = "A page of tenants", body = crate::ops::docs::TenantPage),
        (status = 401, description = "Not authenticated", body = crate::ops::docs::ErrorBody),
        (status = 403, description = "Not a superuser", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid status, cursor or limit", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn list_tenants(
    State(state): State<AppState>,
    Superuser(_operator): Superuser,
    params: Params,
) -> ApiResult<Response> {
    let mut q = QueryReader::new(&params);
    let page = q.page();
    let status = q.parse("status", q.optional("status"), TenantStatus::parse);
    q.finish()?;
    Ok(Json(state.services().admin_list_tenants(status, &page).await?).into_response())
}

/// Reads the `reason` member: absent or null means none; at most 500 characters.
fn reason_of(f: &mut Fields) -> Option<String> {
    let raw = f.optional_str("reason");
    f.parse("reason", raw, |s| {
        if s.chars().count() > REASON_MAX_CHARS {
            Err(FieldError::too_long("reason", REASON_MAX_CHARS))
        } else {
            // Stored in the audit row's jsonb `changes`, which cannot hold U+0000.
            FieldError::reject_nul("reason", s)?;
            Ok(s.to_owned())
        }
    })
}

/// Act as another user in one tenant, for support: a short-lived token that cannot be refreshed.
#[utoipa::path(post, path = "/api/v1/admin/assume-identity", tag = "admin", security(("bearer" = [])),
    request_body(content = AssumeIdentityRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "An assumed-identity token", body = AssumedIdentityToken),
        (status = 400, description = "Target user not found / inactive / a superuser, tenant not found / inactive, or no access", body = crate::ops::docs::ErrorBody),
        (status = 401, description = "Not authenticated", body = crate::ops::docs::ErrorBody),
        (status = 403, description = "Not a superuser (assumed identities never are)", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid input", body = crate::ops::docs::ErrorBody),
        (status = 429, description = "Rate limited", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn assume_identity(
    State(state): State<AppState>,
    Superuser(operator): Superuser,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
    let mut f = Fields::new(body);
    let target_user_id = f.required_uuid("target_user_id");
    let tenant_id = f.required_uuid("tenant_id");
    let reason = reason_of(&mut f);
    f.finish()?;
    let (Some(target_user_id), Some(tenant_id)) = (target_user_id, tenant_id) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let headers = limits::enforce(&state, "assume", &limits::assume(operator.user_id)).await?;
    let token = state
        .services()
        .assume_identity(
            &operator,
            &AssumeRequest {
                target_user_id,
                tenant_id,
                reason,
            },
            &ctx,
        )
        .await?;
    Ok(no_store((headers.0, Json(token)).into_response()))
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(admin_login, list_tenants, assume_identity),
    components(schemas(ConsoleToken, AssumeIdentityRequest, AssumedIdentityToken))
)]
pub struct Doc;
