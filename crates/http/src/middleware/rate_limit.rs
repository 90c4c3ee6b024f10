//! The global per-IP token bucket (api.md §0.7), in front of routing.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tenantry_ratelimit::Bucket;

use crate::client_ip::ClientIp;
use crate::error::{ApiError, RateLimitInfo};
use crate::state::AppState;

const EXEMPT: [&str; 5] = ["/health", "/ready", "/metrics", "/openapi.json", "/docs"];

fn is_exempt(path: &str) -> bool {
    EXEMPT
        .iter()
        .any(|p| path == *p || (path.starts_with(p) && path[p.len()..].starts_with('/')))
}

pub(crate) async fn global_rate_limit(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if is_exempt(req.uri().path()) {
        return next.run(req).await;
    }
    let Some(ClientIp(ip)) = req.extensions().get::<ClientIp>().copied() else {
        return next.run(req).await;
    };
    let settings = state.settings();
    let bucket = Bucket::new(
        format!("global:{ip}"),
        settings.global_rate_limit_burst,
        settings.global_rate_limit_per_second,
        Duration::from_secs(1),
    );
    let decision = state.rate_limiter().check(&[bucket], 1).await;
    if decision.allowed {
        return next.run(req).await;
    }
    metrics::counter!("tenantry_rate_limited_total", "limit" => "global").increment(1);
    ApiError::RateLimited(RateLimitInfo {
        retry_after_secs: decision.retry_after_secs.max(1),
        limit: decision.limit,
        reset_secs: decision.reset_secs,
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::is_exempt;

    #[test]
    fn operational_paths_are_exempt() {
        assert!(is_exempt("/health"));
        assert!(is_exempt("/docs/"));
        assert!(is_exempt("/docs/index.css"));
        assert!(!is_exempt("/healthz"));
        assert!(!is_exempt("/api/v1/auth/login"));
    }
}
