//! `/openapi.json` and the interactive `/docs` page, served from the binary (no CDN).

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tenantry_domain::validation::ErrorCode;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
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
    #[schema(required = false)]
    errors: Vec<FieldErrorBody>,
    /// 429 only: seconds to wait (also in `Retry-After`).
    #[schema(required = false, minimum = 1)]
    retry_after: u64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FieldErrorBody {
    /// Body member (nested members dotted), query, path or header parameter name, or `body`.
    field: String,
    #[schema(schema_with = field_error_code_schema)]
    code: String,
    message: String,
}

/// The schema of [`ErrorCode`], built from its own list so the document cannot drift from the codes sent.
fn field_error_code_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("Machine-readable code of a validation problem."))
        .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
        .build()
}

/// Body of `POST /auth/register`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegisterRequest {
    /// Trimmed and lower-cased; at most 254 characters.
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// 8 to 128 characters, zxcvbn score ≥ 3.
    #[schema(format = Password, min_length = 8, max_length = 128)]
    password: String,
    /// Trimmed, 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    full_name: String,
    /// Trimmed, 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    tenant_name: String,
    /// 1 to 56 characters; must not contain `pg_`, `public` or `information_schema` once `-` reads `_`.
    #[schema(
        min_length = 1,
        max_length = 56,
        pattern = r"^[a-z][a-z0-9]*([-_][a-z0-9]+)*$"
    )]
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
    #[schema(format = DateTime)]
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

/// Public provisioning state of a tenant.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ProvisioningState {
    Pending,
    Provisioning,
    Ready,
    Failed,
}

/// ProvisioningStatus: `error` is `Provisioning failed` when failed, else null.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProvisioningStatus {
    slug: String,
    status: ProvisioningState,
    error: Option<String>,
}

/// Body of `POST /auth/login` and `POST /admin/login`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LoginRequest {
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// 8 to 128 characters.
    #[schema(format = Password, min_length = 8, max_length = 128)]
    password: String,
}

/// Body of `POST /auth/refresh` and `POST /auth/logout`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RefreshRequest {
    #[schema(min_length = 1, max_length = 1024)]
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
    /// The token of the email link.
    #[schema(min_length = 32, max_length = 128)]
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
    #[schema(format = Email, max_length = 254)]
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
    /// The token of the reset email.
    #[schema(min_length = 32, max_length = 128)]
    token: String,
    /// 8 to 128 characters.
    #[schema(format = Password, min_length = 8, max_length = 128)]
    new_password: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ChangePasswordRequest {
    #[schema(format = Password, min_length = 8, max_length = 128)]
    current_password: String,
    /// 8 to 128 characters, zxcvbn score ≥ 3, different from the current one.
    #[schema(format = Password, min_length = 8, max_length = 128)]
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
    /// Trimmed, 1 to 100 characters; null is refused.
    #[schema(required = false, min_length = 1, max_length = 100)]
    full_name: String,
}

/// Lifecycle state of a tenant.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum TenantState {
    Provisioning,
    Ready,
    Failed,
    Deleting,
    Deleted,
}

/// `status` of `DELETE /admin/tenants`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum BulkDeleteStatus {
    Ready,
    Failed,
}

/// A member's role in a tenant.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum MemberRole {
    Admin,
    Member,
}

/// TenantRead.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TenantRead {
    id: uuid::Uuid,
    name: String,
    slug: String,
    status: TenantState,
    is_active: bool,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    deleted_at: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TenantPage {
    items: Vec<TenantRead>,
    /// Non-null exactly when `has_more` is true.
    next_cursor: Option<String>,
    has_more: bool,
}

/// Body of `POST /tenants`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TenantCreateRequest {
    /// Trimmed, 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// As for registration.
    #[schema(
        min_length = 1,
        max_length = 56,
        pattern = r"^[a-z][a-z0-9]*([-_][a-z0-9]+)*$"
    )]
    slug: String,
    /// Invited as the tenant's admin once it is provisioned.
    #[schema(format = Email, max_length = 254)]
    owner_email: Option<String>,
}

/// Answer of `POST /tenants`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TenantCreated {
    /// `tenant-provision-<slug>`.
    workflow_id: String,
    slug: String,
    /// Always `provisioning`.
    status: String,
}

/// Body of `DELETE /tenants/{slug}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TenantDeleteRequest {
    /// The caller's current password.
    #[schema(format = Password, min_length = 8, max_length = 128)]
    password: String,
    /// Must equal the tenant's slug.
    confirm: String,
}

/// Answer of the deletion endpoints.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DeletionStarted {
    /// Always `deletion_started`.
    status: String,
    /// `tenant-deletion-<tenant id>`.
    workflow_id: String,
}

/// Answer of `DELETE /admin/tenants`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BulkDeletionStarted {
    /// Always `deletion_started`.
    status: String,
    /// Deletions started by this call (at most 500).
    count: u64,
    workflow_ids: Vec<String>,
    /// Whether more tenants of that status are left: call again.
    has_more: bool,
}

/// State of a workflow execution record.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ExecutionState {
    Pending,
    Running,
    Completed,
    Failed,
}

/// WorkflowExecutionRead.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WorkflowExecutionRead {
    workflow_id: String,
    workflow_type: String,
    status: ExecutionState,
    error_message: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    started_at: Option<String>,
    #[schema(format = DateTime)]
    completed_at: Option<String>,
}

/// Answer of `GET /tenants/{slug}/status`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TenantStatusRead {
    status: TenantState,
    /// Filled only when `status` is `ready`.
    tenant: Option<TenantRead>,
    /// The provisioning execution's error message when `failed`.
    error: Option<String>,
    /// The latest provisioning execution record.
    workflow: Option<WorkflowExecutionRead>,
}

/// SessionRead.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SessionRead {
    id: uuid::Uuid,
    tenant_id: Option<uuid::Uuid>,
    tenant_slug: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_used_at: String,
    /// Absolute expiry of the session.
    #[schema(format = DateTime)]
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
    /// Non-null exactly when `has_more` is true.
    next_cursor: Option<String>,
    has_more: bool,
}

/// A dependency in `GET /health`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum DependencyHealth {
    Healthy,
    Unhealthy,
    NotConfigured,
}

/// Answer of `GET /health`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Health {
    /// `healthy` when every configured dependency is, else `degraded`.
    status: String,
    database: DependencyHealth,
    temporal: DependencyHealth,
    redis: DependencyHealth,
    cached: bool,
    /// Only on cached results, rounded to 0.1 s.
    #[schema(required = false)]
    cache_age_seconds: f64,
    /// Unix seconds.
    timestamp: f64,
}

/// Answer of `GET /health` while draining.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct HealthDraining {
    /// Always `draining`.
    status: String,
    in_flight_requests: u64,
    detail: String,
    request_id: String,
}

/// A readiness check.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReadyCheck {
    /// `up`, `down` or `not_configured`.
    status: String,
    latency_ms: Option<f64>,
    /// Whether `READY_REQUIRES` names it.
    required: bool,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReadyChecks {
    database: ReadyCheck,
    temporal: ReadyCheck,
    redis: ReadyCheck,
}

/// Answer of `GET /ready`: `status` is `ready`; on 503 `not_ready` or `draining`, with `detail` and `request_id`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Ready {
    status: String,
    checks: ReadyChecks,
    #[schema(required = false)]
    detail: String,
    #[schema(required = false)]
    request_id: String,
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
        crate::api::tenants::provisioning, crate::api::tenants::status, crate::api::tenants::create, crate::api::tenants::list,
        crate::api::tenants::show, crate::api::tenants::delete_own, crate::api::admin::delete_tenant,
        crate::api::admin::bulk_delete),
    components(schemas(ErrorBody, FieldErrorBody, RegisterRequest, RegisterResponse, UserRead,
        ProvisioningState, ProvisioningStatus, LoginRequest, RefreshRequest, TokenPair, TokenRequest,
        VerifyEmailResponse, EmailRequest, MessageResponse, ResetPasswordRequest, ChangePasswordRequest,
        PasswordChanged, UpdateMeRequest, TenantState, BulkDeleteStatus, MemberRole, TenantRead, TenantPage, TenantCreateRequest, TenantCreated,
        TenantDeleteRequest, DeletionStarted, BulkDeletionStarted, ExecutionState, WorkflowExecutionRead,
        TenantStatusRead, SessionRead, SessionPage, DependencyHealth, Health, HealthDraining, ReadyCheck,
        ReadyChecks, Ready)),
    modifiers(&BearerAuth),
    tags((name = "operations", description = "Health, readiness and metrics"),
         (name = "auth", description = "Registration, login and sessions"),
         (name = "users", description = "The caller's account, tenants and sessions"),
         (name = "tenants", description = "Tenants and their provisioning"),
         (name = "admin", description = "Superuser administration"))
)]
pub struct ApiDoc;

/// The whole document as served in production: the core paths above, and each resource module's own `Doc`
/// (so modules document their endpoints beside their handlers).
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi_for(false)
}

/// The document, with the development mailbox when the server registers it (`APP_ENV` development or test).
pub fn openapi_for(dev_mailbox: bool) -> utoipa::openapi::OpenApi {
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
    if dev_mailbox {
        doc.merge(crate::api::dev::Doc::openapi());
    }
    common_responses::add(&mut doc);
    doc
}

/// The answers the contract gives on any operation of a given shape (api.md §0.2, §0.3, §0.7, §1.3, §1.4),
/// added to every operation that can produce them, so the document lists every status a client can meet:
///
/// | operation | statuses |
/// |---|---|
/// | every operation but `/health` and `/ready` | 429 (global limit), 500, 503 (database unreachable) |
/// | with a request body | 413, 415, 422 |
/// | with path, query or `Idempotency-Key` parameters | 422 |
/// | with bearer security | 401 (`WWW-Authenticate: Bearer`) |
/// | with `X-Tenant-Slug` | 400, 403, 404, 410, 503 (tenant resolution) |
///
/// Authorization failures that depend on the endpoint's level (403 for Member, Admin, Superuser and
/// "no assumed") are documented beside each handler. Where an operation already documents a status, its
/// own description stays and the common cause is appended.
mod common_responses {
    use utoipa::openapi::header::Header;
    use utoipa::openapi::path::{Operation, ParameterIn};
    use utoipa::openapi::response::{Response, ResponseBuilder};
    use utoipa::openapi::schema::{Object, ObjectBuilder};
    use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Type};

    struct Common {
        status: &'static str,
        /// Name under `components/responses`.
        name: &'static str,
        description: &'static str,
        headers: &'static [(&'static str, &'static str)],
    }

    const UNAUTHORIZED: Common = Common {
        status: "401",
        name: "Unauthorized",
        description: "Missing or invalid bearer token, expired token, inactive user or revoked session",
        headers: &[("WWW-Authenticate", "`Bearer`")],
    };
    const TENANT: [Common; 5] = [
        Common {
            status: "400",
            name: "TenantHeaderMissing",
            description: "X-Tenant-Slug header is required",
            headers: &[],
        },
        Common {
            status: "403",
            name: "TenantForbidden",
            description: "Tenant is inactive, or the token does not give access to it",
            headers: &[],
        },
        Common {
            status: "404",
            name: "TenantNotFound",
            description: "Tenant not found (X-Tenant-Slug)",
            headers: &[],
        },
        Common {
            status: "410",
            name: "TenantDeleted",
            description: "Tenant has been deleted",
            headers: &[],
        },
        Common {
            status: "503",
            name: "TenantNotReady",
            description: "Tenant is not ready (`Tenant is <status>`), or the service is temporarily unavailable",
            headers: &[("Retry-After", "`1` when the service is unavailable")],
        },
    ];
    const BODY: [Common; 3] = [
        Common {
            status: "413",
            name: "PayloadTooLarge",
            description: "Request body too large",
            headers: &[],
        },
        Common {
            status: "415",
            name: "UnsupportedMediaType",
            description: "Unsupported media type: expected application/json",
            headers: &[],
        },
        VALIDATION,
    ];
    const VALIDATION: Common = Common {
        status: "422",
        name: "ValidationFailed",
        description: "Invalid input: `errors` lists every problem",
        headers: &[],
    };
    const EVERY: [Common; 3] = [
        Common {
            status: "429",
            name: "TooManyRequests",
            description: "Too many requests: `retry_after` and `Retry-After` say when to try again",
            headers: &[
                ("Retry-After", "Seconds to wait"),
                ("RateLimit-Limit", "Budget of the exhausted limit"),
                ("RateLimit-Remaining", "Always 0"),
                ("RateLimit-Reset", "Seconds until the budget is back"),
            ],
        },
        Common {
            status: "500",
            name: "InternalServerError",
            description: "Internal server error",
            headers: &[],
        },
        Common {
            status: "503",
            name: "ServiceUnavailable",
            description: "Service temporarily unavailable (database unreachable or pool exhausted)",
            headers: &[("Retry-After", "`1`")],
        },
    ];

    fn response(c: &Common) -> Response {
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build();
        let mut r = ResponseBuilder::new()
            .description(c.description)
            .content("application/json", content);
        for (name, description) in c.headers {
            let schema = if *name == "WWW-Authenticate" {
                Object::with_type(Type::String)
            } else {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[0-9]+$"))
                    .build()
            };
            let mut h = Header::new(schema);
            h.description = Some((*description).to_owned());
            r = r.header(*name, h);
        }
        r.build()
    }

    /// Documents `c` on `op`: a reference to the shared response, or the cause appended to the operation's own.
    fn apply(op: &mut Operation, c: &Common) {
        match op.responses.responses.get_mut(c.status) {
            None => {
                op.responses.responses.insert(
                    c.status.to_owned(),
                    RefOr::Ref(Ref::new(format!("#/components/responses/{}", c.name))),
                );
            }
            Some(RefOr::T(own)) => {
                if !own.description.contains(c.description) {
                    own.description = format!("{}; or: {}", own.description, c.description);
                }
                for (name, description) in c.headers {
                    if !own.headers.contains_key(*name) {
                        let mut h = Header::new(Object::with_type(Type::String));
                        h.description = Some((*description).to_owned());
                        own.headers.insert((*name).to_owned(), h);
                    }
                }
            }
            Some(RefOr::Ref(_)) => {}
        }
    }

    pub(super) fn add(doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        for c in [&UNAUTHORIZED]
            .into_iter()
            .chain(TENANT.iter())
            .chain(BODY.iter())
            .chain(EVERY.iter())
        {
            components
                .responses
                .insert(c.name.to_owned(), RefOr::T(response(c)));
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            // Everything but the exempt operational endpoints is under the global limit (api.md §0.7).
            let limited = !matches!(path.as_str(), "/health" | "/ready");
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let params = op.parameters.as_deref().unwrap_or_default();
                let tenant = params
                    .iter()
                    .any(|p| p.parameter_in == ParameterIn::Header && p.name == "X-Tenant-Slug");
                let validated = params
                    .iter()
                    .any(|p| p.parameter_in != ParameterIn::Header || p.name == "Idempotency-Key");
                let bearer = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let body = op.request_body.is_some();
                // The tenant's 503 and the database's 503 share the status: the tenant one comes first
                // where both apply, and the other cause is appended to it.
                if tenant {
                    TENANT.iter().for_each(|c| apply(op, c));
                }
                if bearer {
                    apply(op, &UNAUTHORIZED);
                }
                if body {
                    BODY.iter().for_each(|c| apply(op, c));
                } else if validated {
                    apply(op, &VALIDATION);
                }
                if limited {
                    EVERY.iter().for_each(|c| apply(op, c));
                }
            }
        }
    }
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

/// `/docs` and `/openapi.json`; `dev_mailbox` adds `GET /dev/mailbox` to the document, as the server then serves it.
pub(crate) fn router(dev_mailbox: bool) -> Router<AppState> {
    Router::from(SwaggerUi::new("/docs").url("/openapi.json", openapi_for(dev_mailbox)))
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

    /// scripts/api-schema checks every answer against the document; these are the statuses any operation of a
    /// given shape can give (api.md §0.2, §0.3, §1.3, §1.4), so each one must be listed.
    #[test]
    fn every_operation_lists_the_statuses_its_shape_brings() {
        use utoipa::openapi::path::ParameterIn;
        let doc = super::openapi();
        let mut checked = 0;
        for (path, item) in &doc.paths.paths {
            for op in [&item.get, &item.post, &item.put, &item.patch, &item.delete]
                .into_iter()
                .flatten()
            {
                let id = op.operation_id.clone().unwrap_or_default();
                let has = |status: &str| op.responses.responses.contains_key(status);
                let params = op.parameters.as_deref().unwrap_or_default();
                let mut want: Vec<&str> = Vec::new();
                if path.starts_with("/api/") {
                    want.extend(["429", "500", "503"]);
                }
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    want.push("401");
                }
                if params
                    .iter()
                    .any(|p| p.parameter_in == ParameterIn::Header && p.name == "X-Tenant-Slug")
                {
                    want.extend(["400", "403", "404", "410"]);
                }
                if op.request_body.is_some() {
                    want.extend(["413", "415", "422"]);
                }
                if params.iter().any(|p| p.parameter_in != ParameterIn::Header) {
                    want.push("422");
                }
                for status in want {
                    assert!(has(status), "{id} ({path}) does not document {status}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 44, "{checked}");
    }

    /// The development mailbox is in the document exactly where the server serves it.
    #[test]
    fn the_mailbox_is_documented_only_in_development_and_test() {
        assert!(!super::openapi().paths.paths.contains_key("/dev/mailbox"));
        let dev = super::openapi_for(true);
        let mailbox = &dev.paths.paths["/dev/mailbox"];
        assert!(mailbox.get.is_some());
        assert!(
            dev.paths.paths.contains_key("/api/v1/tenants"),
            "GET /tenants is documented too"
        );
    }
}
