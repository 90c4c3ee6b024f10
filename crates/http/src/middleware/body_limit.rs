//! 413 up front when `Content-Length` exceeds `MAX_BODY_BYTES`; bodies without a length are cut off
//! while reading by `DefaultBodyLimit`, which the JSON extractor turns into the same 413.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

pub(crate) async fn body_limit(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let max = u64::try_from(state.settings().max_body_bytes).unwrap_or(u64::MAX);
    if declared.is_some_and(|len| len > max) {
        return ApiError::status(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
            .into_response();
    }
    next.run(req).await
}
