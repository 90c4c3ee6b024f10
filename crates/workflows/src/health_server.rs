//! The worker's health endpoints on `WORKER_HEALTH_PORT` (workflows.md §1.2).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::json;
use tenantry_services::health::Probe;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct WorkerHealth {
    pub workload: &'static str,
    pub task_queues: Vec<String>,
    pub database: Arc<dyn Probe>,
    pub temporal: Arc<dyn Probe>,
    /// Cancelled when the worker starts draining.
    pub draining: CancellationToken,
}

async fn check(probe: &Arc<dyn Probe>) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe.check()).await,
        Ok(Ok(()))
    )
}

async fn health(State(h): State<WorkerHealth>) -> Response {
    Json(json!({
        "status": "healthy",
        "service": "tenantry-worker",
        "workload": h.workload,
        "task_queues": h.task_queues,
    }))
    .into_response()
}

async fn ready(State(h): State<WorkerHealth>) -> Response {
    if h.draining.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        )
            .into_response();
    }
    let (db, temporal) = tokio::join!(check(&h.database), check(&h.temporal));
    if db && temporal {
        return Json(json!({"status": "ready"})).into_response();
    }
    let word = |up: bool| if up { "up" } else { "down" };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "not_ready", "checks": {"database": word(db), "temporal": word(temporal)}})),
    )
        .into_response()
}

pub fn router(state: WorkerHealth) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(state)
}

/// Serves until `stop` is cancelled (after the worker has drained).
pub async fn serve(
    listener: TcpListener,
    state: WorkerHealth,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}
