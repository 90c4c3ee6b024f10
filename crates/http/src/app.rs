//! The router with its layers in the contract's order, and the server with graceful draining.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::console;
use crate::middleware::{body_limit, context, headers, rate_limit};
use crate::ops::{docs, health, metrics_endpoint};
use crate::state::AppState;

fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let header = HeaderName::from_static;
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header("authorization"),
            header("content-type"),
            header("x-tenant-slug"),
            header("x-request-id"),
            header("idempotency-key"),
        ])
        .expose_headers([
            header("x-request-id"),
            header("retry-after"),
            header("ratelimit-limit"),
            header("ratelimit-remaining"),
            header("ratelimit-reset"),
            header("idempotency-replayed"),
        ])
        .max_age(Duration::from_secs(600))
}

/// The whole application. `api_v1` holds the versioned resource routers, nested under `/api/v1`.
pub fn router(state: AppState, api_v1: Router<AppState>) -> Router {
    let settings = state.settings();
    let max_body = settings.max_body_bytes;
    let mut app = Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(metrics_endpoint::metrics))
        .nest("/api/v1", api_v1);
    if settings.app_env.is_dev_like() {
        app = app.merge(crate::api::dev::router());
    }
    if settings.enable_openapi {
        app = app.merge(docs::router(settings.app_env.is_dev_like()));
    }
    // Outermost first: the request id comes before everything so every later layer, log line and error
    // body sees it; headers and CORS wrap the body and rate limits so 413 and 429 carry them.
    let layers = ServiceBuilder::new()
        .layer(from_fn_with_state(state.clone(), context::request_context))
        .layer(from_fn(headers::security_headers))
        .layer(cors(&settings.cors_origins))
        // Inside the header layers, so a panic's 500 still carries security and CORS headers.
        .layer(CatchPanicLayer::new())
        .layer(from_fn_with_state(state.clone(), body_limit::body_limit))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(from_fn_with_state(
            state.clone(),
            rate_limit::global_rate_limit,
        ));
    // Unmatched paths: the web console (client-side routes get its page), else the contract's JSON 404.
    app.route_layer(from_fn(context::record_route))
        .fallback(console::fallback(console::DEFAULT_DIR))
        .layer(layers)
        .with_state(state)
}

/// Serves until `shutdown` is cancelled, then drains: `/health` and `/ready` answer `draining`, no new
/// connections are accepted, and in-flight requests get `grace` to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    state: AppState,
    shutdown: CancellationToken,
    grace: Duration,
) -> std::io::Result<()> {
    let lifecycle = state.lifecycle().clone();
    let signal = shutdown.clone();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        signal.cancelled().await;
        lifecycle.start_draining();
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => return result,
        () = shutdown.cancelled() => {}
    }
    match tokio::time::timeout(grace, server).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(
                in_flight = state.lifecycle().in_flight(),
                "grace period over; dropping remaining requests"
            );
            Ok(())
        }
    }
}
