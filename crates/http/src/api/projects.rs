//! `/api/v1`: Projects: tenant-schema data reached only through `TenantTx` (api.md §5.6).

use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tenantry_domain::{FieldError, ProjectDescription, ProjectName};
use tenantry_services::projects::ProjectChanges;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::Member;
use crate::error::{ApiError, ApiResult};
use crate::idempotency::{Scope, idempotent};
use crate::json::{Fields, JsonBody, Patch};
use crate::meta::Meta;
use crate::path::Path;
use crate::query::{Params, QueryReader};
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/projects",
            get(list).post(idempotent(member_scope(), create)),
        )
        .route(
            "/projects/{project_id}",
            get(show).patch(update).delete(remove),
        )
}

/// The `projects:<tenant_id>:<user_id>` idempotency scope. Tenant resolution and authentication
/// come before idempotency handling (api.md §0.3), so the resolver runs the full `Member` checks on
/// a copy of the request head and answers their failure itself; the handler repeats them on the
/// real request.
fn member_scope() -> Scope {
    Scope::projects(|state: &AppState, parts: &Parts| {
        let state = state.clone();
        let mut head = copy_head(parts);
        async move {
            let member = Member::from_request_parts(&mut head, &state).await?;
            Ok(Some((member.tenant.id, member.caller.0.user_id)))
        }
    })
}

fn copy_head(parts: &Parts) -> Parts {
    let (mut head, ()) = Request::new(()).into_parts();
    head.method = parts.method.clone();
    head.uri = parts.uri.clone();
    head.version = parts.version;
    head.headers = parts.headers.clone();
    // Shares the request's acting slot, so an assumed identity found here still stamps audit rows.
    head.extensions = parts.extensions.clone();
    head
}

fn project_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::field(FieldError::invalid_uuid("project_id")))
}

/// Projects of the header tenant, newest first.
#[utoipa::path(get, operation_id = "projects_list", path = "/api/v1/projects", tag = "projects", security(("bearer" = [])),
    params(("X-Tenant-Slug" = String, Header, description = "The tenant"),
           ("cursor" = Option<String>, Query, description = "Opaque cursor of the previous page"),
           ("limit" = Option<i64>, Query, description = "1..100, default 50", minimum = 1, maximum = 100)),
    responses((status = 200, description = "A page of projects", body = ProjectPage),
        (status = 401, description = "Not authenticated", body = crate::ops::docs::ErrorBody),
        (status = 403, description = "Not a member", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid cursor or limit", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    member: Member,
    params: Params,
) -> ApiResult<Response> {
    let mut q = QueryReader::new(&params);
    let page = q.page();
    q.finish()?;
    let page = state
        .services()
        .list_projects(&member.tenant, &page)
        .await?;
    Ok(Json(page).into_response())
}

/// Create a project.
#[utoipa::path(post, operation_id = "projects_create", path = "/api/v1/projects", tag = "projects", security(("bearer" = [])),
    params(("X-Tenant-Slug" = String, Header, description = "The tenant"),
           ("Idempotency-Key" = Option<String>, Header, description = "Replays the stored response of an earlier identical request by the same user in this tenant; 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    request_body(content = ProjectCreate, content_type = "application/json"),
    responses((status = 201, description = "Created; `Location` names the project", body = ProjectRead,
            headers(("Location" = String, description = "/api/v1/projects/<id>"))),
        (status = 401, description = "Not authenticated", body = crate::ops::docs::ErrorBody),
        (status = 403, description = "Not a member", body = crate::ops::docs::ErrorBody),
        (status = 409, description = "Name taken, or the same Idempotency-Key is in progress", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid input or Idempotency-Key", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    member: Member,
    Meta(ctx): Meta,
    body: JsonBody,
) -> ApiResult<Response> {
    let mut f = Fields::new(body);
    let name_raw = f.required_str("name");
    let description_raw = f.optional_str("description");
    let name = f.parse("name", name_raw, ProjectName::parse);
    let description = f
        .parse("description", description_raw, ProjectDescription::parse)
        .flatten();
    f.finish()?;
    let Some(name) = name else {
        return Err(ApiError::internal("validated field missing"));
    };
    let project = state
        .services()
        .create_project(
            &member.tenant,
            member.caller.0.user_id,
            name,
            description,
            &ctx,
        )
        .await?;
    let location = HeaderValue::from_str(&format!("/api/v1/projects/{}", project.id))
        .map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(project),
    )
        .into_response())
}

/// One project of the header tenant.
#[utoipa::path(get, operation_id = "projects_show", path = "/api/v1/projects/{project_id}", tag = "projects", security(("bearer" = [])),
    params(("project_id" = Uuid, Path, description = "Project id"),
           ("X-Tenant-Slug" = String, Header, description = "The tenant")),
    responses((status = 200, description = "The project", body = ProjectRead),
        (status = 404, description = "Project not found", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid UUID", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    member: Member,
    Path(raw_id): Path<String>,
) -> ApiResult<Response> {
    let id = project_id(&raw_id)?;
    let project = state.services().get_project(&member.tenant, id).await?;
    Ok(Json(project).into_response())
}

/// Change a project's name and/or description; omitted members stay as they are.
#[utoipa::path(patch, operation_id = "projects_update", path = "/api/v1/projects/{project_id}", tag = "projects", security(("bearer" = [])),
    params(("project_id" = Uuid, Path, description = "Project id"),
           ("X-Tenant-Slug" = String, Header, description = "The tenant")),
    request_body(content = ProjectUpdate, content_type = "application/json"),
    responses((status = 200, description = "Updated", body = ProjectRead),
        (status = 404, description = "Project not found", body = crate::ops::docs::ErrorBody),
        (status = 409, description = "Name taken by another project", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid input", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    member: Member,
    Meta(ctx): Meta,
    Path(raw_id): Path<String>,
    body: Result<JsonBody, ApiError>,
) -> ApiResult<Response> {
    // The path is checked before the body's media type and contents (api.md §0.3 step 7).
    let id = project_id(&raw_id)?;
    let mut f = Fields::new(body?);
    let name = match f.patch_str("name") {
        Patch::Absent => None,
        Patch::Null => {
            f.error(FieldError::null("name"));
            None
        }
        Patch::Value(raw) => f.parse("name", Some(raw), ProjectName::parse),
    };
    let description = match f.patch_str("description") {
        Patch::Absent => None,
        Patch::Null => Some(None),
        Patch::Value(raw) => f.parse("description", Some(raw), ProjectDescription::parse),
    };
    f.finish()?;
    let project = state
        .services()
        .update_project(
            &member.tenant,
            member.caller.0.user_id,
            id,
            ProjectChanges { name, description },
            &ctx,
        )
        .await?;
    Ok(Json(project).into_response())
}

/// Delete a project.
#[utoipa::path(delete, operation_id = "projects_remove", path = "/api/v1/projects/{project_id}", tag = "projects", security(("bearer" = [])),
    params(("project_id" = Uuid, Path, description = "Project id"),
           ("X-Tenant-Slug" = String, Header, description = "The tenant")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "Project not found", body = crate::ops::docs::ErrorBody),
        (status = 409, description = "Still referenced by other data", body = crate::ops::docs::ErrorBody),
        (status = 422, description = "Invalid UUID", body = crate::ops::docs::ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    member: Member,
    Meta(ctx): Meta,
    Path(raw_id): Path<String>,
) -> ApiResult<Response> {
    let id = project_id(&raw_id)?;
    state
        .services()
        .delete_project(&member.tenant, member.caller.0.user_id, id, &ctx)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// ProjectRead.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProjectRead {
    id: Uuid,
    name: String,
    description: Option<String>,
    /// RFC 3339 UTC with six fractional digits.
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// A page of projects, newest first.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProjectPage {
    items: Vec<ProjectRead>,
    /// Non-null exactly when `has_more` is true.
    next_cursor: Option<String>,
    has_more: bool,
}

/// Body of `POST /projects`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProjectCreate {
    /// Trimmed, 1 to 200 characters; unique per tenant (case-sensitive).
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// Trimmed, at most 1000 characters; empty means none.
    #[schema(max_length = 1000)]
    description: Option<String>,
}

/// Body of `PATCH /projects/{project_id}`: omitted members stay as they are.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProjectUpdate {
    /// Trimmed, 1 to 200 characters; `null` is refused.
    #[schema(required = false, min_length = 1, max_length = 200)]
    name: String,
    /// `null`, empty or whitespace clears the description; at most 1000 characters.
    #[schema(max_length = 1000)]
    description: Option<String>,
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(list, create, show, update, remove),
    components(schemas(ProjectRead, ProjectPage, ProjectCreate, ProjectUpdate)),
    tags((name = "projects", description = "Projects: data in the tenant's own schema"))
)]
pub struct Doc;
