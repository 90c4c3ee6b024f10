//! The request id of the request being served, visible to every layer, handler, error body and audit row.

use tenantry_domain::RequestId;

tokio::task_local! {
    static REQUEST_ID: RequestId;
}

/// The id of the request whose future is running, if any. Axum runs a request's layers and handler
/// in one task, so a task-local set by the outermost layer reaches every error body.
pub fn current_request_id() -> Option<RequestId> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

pub(crate) async fn scope<F: Future>(id: RequestId, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// Reuses a well-formed incoming `X-Request-ID`; anything else gets a fresh UUIDv7.
pub(crate) fn assign(incoming: Option<&str>) -> RequestId {
    incoming
        .and_then(RequestId::parse_incoming)
        .unwrap_or_else(RequestId::new_v7)
}
