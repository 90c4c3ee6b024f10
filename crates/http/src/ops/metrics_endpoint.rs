//! `GET /metrics`, optionally guarded by `METRICS_API_KEY`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

pub(crate) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(key) = &state.settings().metrics_api_key {
        let given = headers
            .get("x-metrics-key")
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        if !bool::from(given.ct_eq(key.expose_secret().as_bytes())) {
            return ApiError::status(
                StatusCode::UNAUTHORIZED,
                "Invalid or missing metrics API key",
            )
            .into_response();
        }
    }
    crate::metrics::record_pool(state.db().pool());
    let Some(handle) = state.metrics_handle() else {
        return ApiError::not_found("Not Found").into_response();
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
