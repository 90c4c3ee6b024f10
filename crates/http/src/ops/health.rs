//! `GET /health` (liveness) and `GET /ready` (readiness), api.md §8.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tenantry_settings::Dependency;

use super::cache::ProbeResult;
use crate::error::{error_body, json_response};
use crate::state::AppState;

const HEALTH_CACHE: Duration = Duration::from_secs(10);
const READY_CACHE: Duration = Duration::from_secs(1);

fn health_word(r: ProbeResult) -> &'static str {
    match r {
        ProbeResult::NotConfigured => "not_configured",
        ProbeResult::Up { .. } => "healthy",
        ProbeResult::Down => "unhealthy",
    }
}

#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "Alive; `status` is healthy or degraded", body = super::docs::Health),
               (status = 503, description = "Draining on shutdown", body = super::docs::HealthDraining)))]
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    if state.lifecycle().is_draining() {
        let mut extra = Map::new();
        extra.insert("status".to_owned(), json!("draining"));
        extra.insert(
            "in_flight_requests".to_owned(),
            json!(state.lifecycle().in_flight()),
        );
        let body = error_body("Server is shutting down", Some(extra));
        return json_response(StatusCode::SERVICE_UNAVAILABLE, &body, HeaderMap::new());
    }
    let (snap, cached) = state.probe_cache().get(state.probes(), HEALTH_CACHE).await;
    let all = [snap.database, snap.temporal, snap.redis];
    let status = if all.iter().any(|r| r.is_down()) {
        "degraded"
    } else {
        "healthy"
    };
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let mut body = json!({
        "status": status,
        "database": health_word(snap.database),
        "temporal": health_word(snap.temporal),
        "redis": health_word(snap.redis),
        "cached": cached,
        "timestamp": timestamp,
    });
    if cached {
        let age = (snap.taken_at.elapsed().as_secs_f64() * 10.0).round() / 10.0;
        if let Some(obj) = body.as_object_mut() {
            obj.insert("cache_age_seconds".to_owned(), json!(age));
        }
    }
    Json(body).into_response()
}

fn check(r: ProbeResult, required: bool) -> Value {
    let (status, latency) = match r {
        ProbeResult::NotConfigured => ("not_configured", Value::Null),
        ProbeResult::Up { latency_ms } => ("up", json!(latency_ms)),
        ProbeResult::Down => ("down", Value::Null),
    };
    json!({"status": status, "latency_ms": latency, "required": required})
}

#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, description = "Every required dependency answers", body = super::docs::Ready),
               (status = 503, description = "A required dependency is down, or the server is draining", body = super::docs::Ready)))]
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let settings = state.settings();
    let (snap, _) = state.probe_cache().get(state.probes(), READY_CACHE).await;
    let deps = [
        (Dependency::Database, snap.database),
        (Dependency::Temporal, snap.temporal),
        (Dependency::Redis, snap.redis),
    ];
    let mut checks = Map::new();
    let mut any_required_down = false;
    for (dep, result) in deps {
        let required = settings.is_required(dep);
        // A required dependency that is not configured can never be up.
        any_required_down |= required && !matches!(result, ProbeResult::Up { .. });
        checks.insert(dep.as_str().to_owned(), check(result, required));
    }
    let draining = state.lifecycle().is_draining();
    if !draining && !any_required_down {
        return Json(json!({"status": "ready", "checks": checks})).into_response();
    }
    let mut extra = Map::new();
    extra.insert(
        "status".to_owned(),
        json!(if draining { "draining" } else { "not_ready" }),
    );
    extra.insert("checks".to_owned(), Value::Object(checks));
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &error_body("Not ready", Some(extra)),
        HeaderMap::new(),
    )
}
