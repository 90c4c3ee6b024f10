//! `/openapi.json` and the interactive `/docs` page, served from the binary (no CDN).

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;

/// The error body of every non-2xx response (api.md §0.2).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// Human-readable message.
    detail: String,
    /// Same value as the `X-Request-ID` response header.
    request_id: String,
    /// 422 only: every problem found.
    errors: Option<Vec<FieldErrorBody>>,
    /// 429 only: seconds to wait.
    retry_after: Option<u64>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FieldErrorBody {
    field: String,
    code: String,
    message: String,
}

/// Body of `POST /auth/register`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegisterRequest {
    /// Trimmed and lower-cased; at most 254 characters.
    email: String,
    /// 8 to 128 characters, zxcvbn score ≥ 3.
    password: String,
    /// 1 to 100 characters.
    full_name: String,
    /// 1 to 100 characters.
    tenant_name: String,
    /// 1 to 56 characters: `^[a-z][a-z0-9]*([-_][a-z0-9]+)*$`.
    tenant_slug: String,
}

/// UserRead.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserRead {
    id: uuid::Uuid,
    email: String,
    full_name: String,
    is_active: bool,
    is_superuser: bool,
    /// RFC 3339, UTC, six fractional digits.
    created_at: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegisterResponse {
    user: UserRead,
    /// `tenant-provision-<slug>`.
    workflow_id: String,
    tenant_slug: String,
    message: String,
}

/// ProvisioningStatus: `pending`, `provisioning`, `ready` or `failed` (error `Provisioning failed`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProvisioningStatus {
    slug: String,
    status: String,
    error: Option<String>,
}

/// Body of `POST /auth/login` and `POST /admin/login`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LoginRequest {
    email: String,
    /// 8 to 128 characters.
    password: String,
}

/// Body of `POST /auth/refresh` and `POST /auth/logout`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RefreshRequest {
    /// 1 to 1024 characters.
    refresh_token: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenPair {
    access_token: String,
    refresh_token: String,
    /// Always `bearer`.
    token_type: String,
}

/// Body of `POST /auth/verify-email`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    /// The token of the email link, 32 to 128 characters.
    token: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VerifyEmailResponse {
    message: String,
    verified: bool,
    user: UserRead,
}

/// Body of `POST /auth/resend-verification` and `POST /auth/forgot-password`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EmailRequest {
    email: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MessageResponse {
    message: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ResetPasswordRequest {
    token: String,
    /// 8 to 128 characters, zxcvbn score ≥ 3.
    new_password: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ChangePasswordRequest {
    current_password: String,
    /// 8 to 128 characters, zxcvbn score ≥ 3, different from the current one.
    new_password: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PasswordChanged {
    message: String,
    /// Sessions other than the caller's that were ended.
    revoked_sessions: u64,
}

/// Body of `PATCH /users/me`; an empty object changes nothing.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UpdateMeRequest {
    /// 1 to 100 characters; null is refused.
    full_name: Option<String>,
}

/// TenantRead.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TenantRead {
    id: uuid::Uuid,
    name: String,
    slug: String,
    /// `provisioning`, `ready`, `failed`, `deleting` or `deleted`.
    status: String,
    is_active: bool,
    created_at: String,
    deleted_at: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TenantPage {
    items: Vec<TenantRead>,
    next_cursor: Option<String>,
    has_more: bool,
}

/// SessionRead.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SessionRead {
    id: uuid::Uuid,
    tenant_id: Option<uuid::Uuid>,
    tenant_slug: Option<String>,
    created_at: String,
    last_used_at: String,
    /// Absolute expiry of the session.
    expires_at: String,
    user_agent: Option<String>,
    /// Last seen address.
    ip_address: Option<String>,
    /// Whether this is the caller's own session.
    current: bool,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SessionPage {
    items: Vec<SessionRead>,
    next_cursor: Option<String>,
    has_more: bool,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Tenantry API", description = "Multi-tenant SaaS backend: schema-per-tenant PostgreSQL, durable Temporal workflows."),
    paths(super::health::health, super::health::ready, crate::api::auth::register, crate::api::auth::login,
        crate::api::auth::refresh, crate::api::auth::logout, crate::api::auth::logout_all, crate::api::auth::verify_email,
        crate::api::auth::resend_verification, crate::api::auth::forgot_password, crate::api::auth::reset_password,
        crate::api::users::me, crate::api::users::update_me, crate::api::users::change_password, crate::api::users::my_tenants,
        crate::api::users::sessions, crate::api::users::revoke_session,
        crate::api::tenants::provisioning, crate::api::tenants::status, crate::api::tenants::create, crate::api::tenants::show,
        crate::api::tenants::delete_own, crate::api::admin::delete_tenant, crate::api::admin::bulk_delete),
    components(schemas(ErrorBody, FieldErrorBody, RegisterRequest, RegisterResponse, UserRead, ProvisioningStatus,
        LoginRequest, RefreshRequest, TokenPair, TokenRequest, VerifyEmailResponse, EmailRequest, MessageResponse,
        ResetPasswordRequest, ChangePasswordRequest, PasswordChanged, UpdateMeRequest, TenantRead, TenantPage,
        SessionRead, SessionPage)),
    modifiers(&BearerAuth),
    tags((name = "operations", description = "Health, readiness and metrics"),
         (name = "auth", description = "Registration, login and sessions"),
         (name = "users", description = "The caller's account, tenants and sessions"),
         (name = "tenants", description = "Tenants and their provisioning"),
         (name = "admin", description = "Superuser administration"))
)]
pub struct ApiDoc;

/// The whole document: the core paths above, and each resource module's own `Doc` (so modules document
/// their endpoints beside their handlers).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for part in [
        crate::api::members::Doc::openapi(),
        crate::api::invites::Doc::openapi(),
        crate::api::projects::Doc::openapi(),
        crate::api::audit::Doc::openapi(),
        crate::api::superuser::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    doc
}

/// Swagger UI loads only its own scripts and styles (it sets inline style attributes and data: images).
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Only the page and its assets get the relaxed policy; `/openapi.json` keeps the default one.
async fn docs_csp(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let is_docs = path == "/docs" || path.starts_with("/docs/");
    let mut resp = next.run(req).await;
    if is_docs {
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CSP),
        );
    }
    resp
}

pub(crate) fn router() -> Router<AppState> {
    Router::from(SwaggerUi::new("/docs").url("/openapi.json", openapi()))
        .layer(middleware::from_fn(docs_csp))
}

#[cfg(test)]
mod tests {
    /// Generated clients key operations by id, and OpenAPI requires them unique.
    #[test]
    fn operation_ids_are_unique_across_modules() {
        let doc = super::openapi();
        let mut ids: Vec<String> = Vec::new();
        for item in doc.paths.paths.values() {
            for op in [&item.get, &item.post, &item.put, &item.patch, &item.delete]
                .into_iter()
                .flatten()
            {
                ids.push(op.operation_id.clone().unwrap_or_default());
            }
        }
        let total = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total, "repeated operationIds: {ids:?}");
        assert!(total >= 43, "every endpoint is documented ({total})");
    }
}
