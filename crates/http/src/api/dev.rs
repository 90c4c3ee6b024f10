//! `GET /dev/mailbox` (api.md §7): development and test only.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde_json::json;
use tenantry_domain::Email;
use utoipa::{OpenApi, ToSchema};

use crate::error::ApiResult;
use crate::query::{Params, QueryReader};
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/dev/mailbox", get(mailbox))
}

/// An email the app sent (or queued).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MailboxMessage {
    id: uuid::Uuid,
    to: String,
    /// `verify_email`, `already_registered`, `welcome`, `invite`, `password_reset` or `password_changed`.
    kind: String,
    subject: String,
    body_text: Option<String>,
    action_url: Option<String>,
    /// The plaintext one-time token of the link; null for kinds without one.
    token: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    sent_at: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Mailbox {
    /// Newest first.
    items: Vec<MailboxMessage>,
}

/// The development mailbox's part of the OpenAPI document (only where the route exists).
#[derive(OpenApi)]
#[openapi(
    paths(mailbox),
    components(schemas(Mailbox, MailboxMessage)),
    tags((name = "development", description = "Development and test only"))
)]
pub struct Doc;

/// Emails sent to an address, newest first (development and test only).
#[utoipa::path(get, path = "/dev/mailbox", tag = "development",
    params(("to" = String, Query, description = "Recipient, matched case-insensitively"),
           ("limit" = Option<i64>, Query, description = "1..50, default 10", minimum = 1, maximum = 50)),
    responses((status = 200, description = "The messages", body = Mailbox),
        (status = 422, description = "Missing or invalid `to` or `limit`", body = crate::ops::docs::ErrorBody)))]
async fn mailbox(
    State(state): State<AppState>,
    params: Params,
) -> ApiResult<Json<serde_json::Value>> {
    let mut q = QueryReader::new(&params);
    let raw = q.required("to");
    let to = q.parse("to", raw, Email::parse);
    let limit = q.int_in("limit", 1, 50, 10);
    q.finish()?;
    let Some(to) = to else {
        return Err(crate::error::ApiError::internal("validated field missing"));
    };
    let items = state
        .services()
        .mailbox(&to, u8::try_from(limit).unwrap_or(10))
        .await?;
    Ok(Json(json!({ "items": items })))
}
