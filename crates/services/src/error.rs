//! The one error of the use cases; the HTTP layer maps each variant to its status.

use tenantry_domain::ValidationErrors;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("gone: {0}")]
    Gone(String),
    #[error("validation failed: {0}")]
    Validation(ValidationErrors),
    /// The database is unreachable or the pool exhausted: 503, retry soon.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A 503 whose message the client should see (e.g. `Tenant is provisioning`).
    #[error("unavailable: {0}")]
    UnavailableVisible(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        if tenantry_store::is_unavailable(&e) {
            Self::Unavailable(e.to_string())
        } else {
            Self::Internal(e.to_string())
        }
    }
}

impl From<tenantry_store::StoreError> for ServiceError {
    fn from(e: tenantry_store::StoreError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(e.to_string())
        } else {
            Self::Internal(e.to_string())
        }
    }
}

impl From<crate::passwords::PasswordError> for ServiceError {
    fn from(e: crate::passwords::PasswordError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl ServiceError {
    pub(crate) fn into_visible(self) -> Self {
        match self {
            Self::Unavailable(m) => Self::UnavailableVisible(m),
            other => other,
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
