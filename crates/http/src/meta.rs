//! Request facts that services record in audit rows: request id, client IP and user agent.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use tenantry_domain::RequestId;
use tenantry_services::AuditContext;
use tenantry_store::audit::ActingSlot;

use crate::client_ip::ClientIp;

/// The audit context of this request. Its acting slot is the request's own, so an assumed identity
/// authenticated by a later extractor still stamps every audit row.
pub struct Meta(pub AuditContext);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let acting = acting_slot(parts);
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
            acting,
        }))
    }
}

/// The request's acting slot, created by whichever of [`Meta`] and the bearer extractors runs first.
pub(crate) fn acting_slot(parts: &mut Parts) -> ActingSlot {
    if let Some(slot) = parts.extensions.get::<ActingSlot>() {
        return slot.clone();
    }
    let slot = ActingSlot::default();
    parts.extensions.insert(slot.clone());
    slot
}
