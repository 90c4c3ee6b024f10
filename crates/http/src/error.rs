//! The one error type of the API and the one body shape of api.md §0.2.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tenantry_domain::{FieldError, ValidationErrors};
use tenantry_services::ServiceError;

use crate::request_id::current_request_id;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A business outcome with a fixed message of the contract (400, 401, 403, 404, 409, 410…).
    #[error("{status}: {detail}")]
    Status { status: StatusCode, detail: String },
    /// 401 of a bearer check, which carries `WWW-Authenticate: Bearer`.
    #[error("401 bearer: {0}")]
    Bearer(String),
    #[error("validation failed: {}", .0.detail())]
    Validation(ValidationErrors),
    #[error("too many requests")]
    RateLimited(RateLimitInfo),
    /// Database unreachable or pool exhausted.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Logged with its cause, answered with the generic message only.
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Debug, Clone, Copy)]
pub struct RateLimitInfo {
    pub retry_after_secs: u64,
    pub limit: u32,
    pub reset_secs: u64,
}

impl ApiError {
    pub fn status(status: StatusCode, detail: impl Into<String>) -> Self {
        Self::Status {
            status,
            detail: detail.into(),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::status(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::status(StatusCode::NOT_FOUND, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::status(StatusCode::CONFLICT, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::status(StatusCode::FORBIDDEN, detail)
    }

    pub fn field(error: FieldError) -> Self {
        Self::Validation(ValidationErrors::from(vec![error]))
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    fn status_code(&self) -> StatusCode {
        match self {
            Self::Status { status, .. } => *status,
            Self::Bearer(_) => StatusCode::UNAUTHORIZED,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::BadRequest(d) => Self::status(StatusCode::BAD_REQUEST, d),
            ServiceError::Unauthorized(d) => Self::status(StatusCode::UNAUTHORIZED, d),
            ServiceError::Forbidden(d) => Self::status(StatusCode::FORBIDDEN, d),
            ServiceError::NotFound(d) => Self::status(StatusCode::NOT_FOUND, d),
            ServiceError::Conflict(d) => Self::status(StatusCode::CONFLICT, d),
            ServiceError::Gone(d) => Self::status(StatusCode::GONE, d),
            ServiceError::Validation(errors) => Self::Validation(errors),
            ServiceError::Unavailable(cause) => Self::Unavailable(cause),
            ServiceError::UnavailableVisible(d) => Self::status(StatusCode::SERVICE_UNAVAILABLE, d),
            ServiceError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// Builds the contract's error body. Used by [`ApiError`] and by the layer that reshapes errors produced
/// outside handlers (405 from the router, 413 from the body limit).
pub fn error_body(detail: &str, extra: Option<Map<String, Value>>) -> Value {
    let mut body = Map::new();
    body.insert("detail".to_owned(), Value::from(detail));
    body.insert(
        "request_id".to_owned(),
        current_request_id()
            .map(|r| Value::from(r.as_str()))
            .unwrap_or(Value::Null),
    );
    if let Some(extra) = extra {
        body.extend(extra);
    }
    Value::Object(body)
}

pub fn json_response(status: StatusCode, body: &Value, headers: HeaderMap) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp.headers_mut().extend(headers);
    resp.extensions_mut().insert(ShapedError);
    resp
}

/// Marks a response whose body already has the contract's error shape.
#[derive(Debug, Clone, Copy)]
pub struct ShapedError;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let mut headers = HeaderMap::new();
        let body = match &self {
            Self::Status { detail, .. } => error_body(detail, None),
            Self::Bearer(detail) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                error_body(detail, None)
            }
            Self::Validation(errors) => {
                let mut extra = Map::new();
                extra.insert("errors".to_owned(), json!(errors.errors()));
                error_body(&errors.detail(), Some(extra))
            }
            Self::RateLimited(info) => {
                let mut extra = Map::new();
                extra.insert("retry_after".to_owned(), json!(info.retry_after_secs));
                for (name, value) in [
                    (header::RETRY_AFTER, info.retry_after_secs.to_string()),
                    (
                        HeaderName::from_static("ratelimit-limit"),
                        info.limit.to_string(),
                    ),
                    (
                        HeaderName::from_static("ratelimit-remaining"),
                        "0".to_owned(),
                    ),
                    (
                        HeaderName::from_static("ratelimit-reset"),
                        info.reset_secs.to_string(),
                    ),
                ] {
                    if let Ok(v) = HeaderValue::from_str(&value) {
                        headers.insert(name, v);
                    }
                }
                error_body("Too many requests", Some(extra))
            }
            Self::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "answering 503");
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                error_body("Service temporarily unavailable", None)
            }
            Self::Internal(cause) => {
                tracing::error!(cause = %cause, "internal error");
                error_body("Internal server error", None)
            }
        };
        json_response(status, &body, headers)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
