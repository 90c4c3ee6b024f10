//! Request facts that services record in audit rows: request id, client IP and user agent.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use tenantry_domain::RequestId;
use tenantry_services::AuditContext;

use crate::client_ip::ClientIp;

/// The audit context of this request.
pub struct Meta(pub AuditContext);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.as_str().to_owned());
        let ip = parts.extensions.get::<ClientIp>().map(|c| c.0);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(500).collect());
        Ok(Meta(AuditContext {
            request_id,
            ip,
            user_agent,
            assumed_by_user_id: None,
        }))
    }
}
