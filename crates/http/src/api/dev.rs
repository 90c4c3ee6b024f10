//! `GET /dev/mailbox` (api.md §7): development and test only.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde_json::json;
use tenantry_domain::Email;

use crate::error::ApiResult;
use crate::query::{Params, QueryReader};
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/dev/mailbox", get(mailbox))
}

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
