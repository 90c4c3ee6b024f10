//! `/api/v1/auth/*` (api.md §5.1).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tenantry_domain::{Email, FullName, NewPassword, Slug, TenantName};
use tenantry_services::registration::RegisterCommand;

use crate::client_ip::ClientIp;
use crate::error::ApiResult;
use crate::json::{Fields, JsonBody};
use crate::limits;
use crate::meta::Meta;
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/auth/register",
        post(crate::idempotency::idempotent(
            crate::idempotency::Scope::Register,
            register,
        )),
    )
}

/// Register a user and a tenant; provisioning continues in the background.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body(content = crate::ops::docs::RegisterRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted: the tenant is being provisioned", body = crate::ops::docs::RegisterResponse),
        (status = 409, description = "Slug taken", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid input", body = crate::ops::docs::ErrorBody),
        (status = 429, description = "Rate limited", body = crate::ops::docs::ErrorBody)),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the stored response of an earlier identical request")))]
pub(crate) async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
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
        return Err(crate::error::ApiError::internal("validated fields missing"));
    };

    let headers =
        limits::enforce(&state, "register", &limits::register(ip, email.as_str())).await?;
    let reg = state
        .services()
        .register(
            RegisterCommand {
                email,
                password,
                full_name,
                tenant_name,
                slug,
            },
            &ctx,
        )
        .await?;
    let body = json!({
        "user": reg.user,
        "workflow_id": reg.workflow_id,
        "tenant_slug": reg.tenant_slug,
        "message": "Please check your email to verify your account",
    });
    Ok((StatusCode::ACCEPTED, headers.0, Json(body)).into_response())
}
