//! The outermost layer: request id, client IP, the request span and log line, HTTP metrics, the
//! in-flight count for draining, and the contract's body shape for errors made outside handlers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::client_ip::{self, ClientIp};
use crate::error::{ShapedError, error_body, json_response};
use crate::request_id;
use crate::state::AppState;

/// The route template a request matched, carried out of the router for metrics.
#[derive(Debug, Clone)]
pub(crate) struct RouteTemplate(pub String);

pub(crate) async fn record_route(req: Request, next: Next) -> Response {
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let mut resp = next.run(req).await;
    if let Some(t) = template {
        resp.extensions_mut().insert(RouteTemplate(t));
    }
    resp
}

pub(crate) async fn request_context(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id::assign(
        req.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
    );
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let ip = client_ip::resolve(peer, req.headers(), &state.settings().trusted_proxies);
    req.extensions_mut().insert(ClientIp(ip));
    req.extensions_mut().insert(id.clone());

    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        path = %path,
        tenant = tracing::field::Empty,
        user_id = tracing::field::Empty,
    );
    let _in_flight = state.lifecycle().enter();

    let id_for_scope = id.clone();
    request_id::scope(id_for_scope, async move {
        let mut resp = next.run(req).await;
        if resp.status().as_u16() >= 400 && resp.extensions().get::<ShapedError>().is_none() {
            resp = reshape(resp);
        }
        if let Ok(v) = HeaderValue::from_str(id.as_str()) {
            resp.headers_mut().insert("x-request-id", v);
        }
        let status = resp.status().as_u16();
        let route = resp
            .extensions()
            .get::<RouteTemplate>()
            .map(|r| r.0.clone())
            .unwrap_or_else(|| "unmatched".to_owned());
        let elapsed = started.elapsed();
        crate::metrics::record_request(method.as_str(), &route, status, elapsed);
        tracing::info!(status, latency_ms = elapsed.as_secs_f64() * 1000.0, route = %route, "request served");
        resp
    })
    .instrument(span)
    .await
}

/// Errors produced by the router or tower layers (405, 413, timeouts, panics) get the same body as ours.
fn reshape(resp: Response) -> Response {
    let status = resp.status();
    let detail = match status {
        StatusCode::NOT_FOUND => "Not Found",
        StatusCode::METHOD_NOT_ALLOWED => "Method Not Allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "Request body too large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type: expected application/json",
        StatusCode::REQUEST_TIMEOUT => "Request timeout",
        StatusCode::SERVICE_UNAVAILABLE => "Service temporarily unavailable",
        s if s.is_server_error() => "Internal server error",
        s => s.canonical_reason().unwrap_or("Error"),
    };
    let (parts, _body): (_, Body) = resp.into_parts();
    // Every header set on the way out (security, CORS, Allow, Retry-After) stays; only the body changes.
    let mut keep = parts.headers;
    keep.remove(axum::http::header::CONTENT_LENGTH);
    keep.remove(axum::http::header::CONTENT_TYPE);
    json_response(status, &error_body(detail, None), keep)
}
