//! `/api/v1/tenants/*` (api.md §5.3).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tenantry_domain::{Email, ErrorCode, FieldError, LoginPassword, Slug, TenantName};

use crate::auth::{Admin, Caller, Superuser};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::json::{Fields, JsonBody};
use crate::limits;
use crate::meta::Meta;
use crate::path::Path;
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/tenants", post(create).get(list))
        .route("/tenants/{slug}", get(show).delete(delete_own))
        .route("/tenants/{slug}/status", get(status))
        .route("/tenants/{slug}/provisioning", get(provisioning))
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

/// Provisioning state, the tenant once ready, and the provisioning execution record (superusers).
#[utoipa::path(get, path = "/api/v1/tenants/{slug}/status", tag = "tenants", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "Status, tenant, error and workflow record", body = crate::ops::docs::TenantStatusRead),
        (status = 401, description = "Not authenticated", body = crate::ops::docs::ErrorBody),
        (status = 403, description = "Not a superuser", body = crate::ops::docs::ErrorBody),
        (status = 404, description = "Tenant '<slug>' not found", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn status(
    State(state): State<AppState>,
    _su: Superuser,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(state.services().tenant_status(&slug).await?).into_response())
}

/// A tenant admin deletes their own tenant, confirming with its slug and their password.
#[utoipa::path(delete, path = "/api/v1/tenants/{slug}", tag = "tenants", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Tenant slug; must equal X-Tenant-Slug"),
           ("X-Tenant-Slug" = String, Header, description = "The tenant")),
    request_body(content = crate::ops::docs::TenantDeleteRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Deletion started", body = crate::ops::docs::DeletionStarted),
        (status = 400, description = "Slug mismatch or wrong password", body = crate::ops::docs::ErrorBody),
        (status = 403, description = "Not an admin, or an assumed identity", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid body", body = crate::ops::docs::ErrorBody),
        (status = 429, description = "Rate limited (the password budget)", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn delete_own(
    State(state): State<AppState>,
    Admin(member): Admin,
    ClientIp(ip): ClientIp,
    Meta(ctx): Meta,
    Path(slug): Path<String>,
    body: JsonBody,
) -> ApiResult<Response> {
    member.caller.not_assumed()?;
    if slug != member.tenant.slug {
        return Err(ApiError::bad_request(
            "Path slug does not match X-Tenant-Slug",
        ));
    }
    let mut f = Fields::new(body);
    let password_raw = f.required_str("password");
    let confirm = f.required_str("confirm");
    let password = f.parse("password", password_raw, LoginPassword::parse);
    if confirm.as_ref().is_some_and(|c| c != &slug) {
        f.error(FieldError::new(
            "confirm",
            ErrorCode::Invalid,
            "Must equal the tenant slug",
        ));
    }
    f.finish()?;
    let Some(password) = password else {
        return Err(ApiError::internal("validated field missing"));
    };
    let headers = limits::enforce(
        &state,
        "password",
        &limits::password(ip, member.caller.0.user_id),
    )
    .await?;
    let started = state
        .services()
        .delete_own_tenant(&member.caller.0, &member.tenant, &password, &ctx)
        .await?;
    Ok((StatusCode::ACCEPTED, headers.0, Json(started)).into_response())
}

/// Creates a tenant (superusers); with `owner_email`, provisioning ends by inviting that address as admin.
#[utoipa::path(post, operation_id = "tenants_create", path = "/api/v1/tenants", tag = "tenants", security(("bearer" = [])),
    request_body(content = crate::ops::docs::TenantCreateRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Provisioning started", body = crate::ops::docs::TenantCreated),
        (status = 403, description = "Not a superuser", body = crate::ops::docs::ErrorBody),
        (status = 409, description = "Slug taken", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid body", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Superuser(actor): Superuser,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
    let mut f = Fields::new(body);
    let name_raw = f.required_str("name");
    let slug_raw = f.required_str("slug");
    let owner_raw = f.optional_str("owner_email");
    let name = f.parse("name", name_raw, TenantName::parse);
    let slug = f.parse("slug", slug_raw, Slug::parse);
    let owner = f.parse("owner_email", owner_raw, Email::parse);
    f.finish()?;
    let (Some(name), Some(slug)) = (name, slug) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let created = state
        .services()
        .create_tenant(&actor, &name, &slug, owner.as_ref(), &ctx)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(created)).into_response())
}

/// Tenants where the caller is an active member (the same list as `GET /users/me/tenants`).
#[utoipa::path(get, operation_id = "tenants_list", path = "/api/v1/tenants", tag = "tenants", security(("bearer" = [])),
    params(("cursor" = Option<String>, Query, description = "Opaque cursor of the previous page"),
           ("limit" = Option<i64>, Query, description = "1..100, default 50", minimum = 1, maximum = 100)),
    responses((status = 200, description = "A page of tenants", body = crate::ops::docs::TenantPage)))]
pub(crate) async fn list(
    state: State<AppState>,
    caller: Caller,
    params: crate::query::Params,
) -> ApiResult<Response> {
    crate::api::users::my_tenants(state, caller, params).await
}

/// A tenant the caller is a member of (or any tenant, for superusers).
#[utoipa::path(get, operation_id = "tenants_show", path = "/api/v1/tenants/{slug}", tag = "tenants", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "The tenant", body = crate::ops::docs::TenantRead),
        (status = 404, description = "Tenant not found", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(state.services().tenant_for(&caller, &slug).await?).into_response())
}
