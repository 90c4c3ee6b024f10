//! Operational endpoints (api.md §8): health, readiness and metrics.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use tenantry_http::AppState;
use tenantry_testkit::TestApp;

use crate::support::{Reply, closed_port, metric, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_dependencies_and_caches_its_result() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    // Wait until the background Temporal connection is up, so every dependency can answer.
    app.temporal().await;

    let first = send(app.http.get(app.url("/health"))).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let body = first.json.as_object().unwrap();
    assert_eq!(body["status"], "healthy", "{}", first.text);
    assert_eq!(body["database"], "healthy");
    assert_eq!(body["temporal"], "healthy");
    assert_eq!(body["redis"], "healthy");
    assert_eq!(body["cached"], false);
    assert!(!body.contains_key("cache_age_seconds"), "{}", first.text);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let ts = body["timestamp"].as_f64().expect("timestamp is a number");
    assert!((now - ts).abs() < 60.0, "timestamp {ts} vs now {now}");

    let second = send(app.http.get(app.url("/health"))).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.json["cached"], true, "{}", second.text);
    let age = second.json["cache_age_seconds"]
        .as_f64()
        .expect("cache_age_seconds on a cached result");
    assert!((0.0..=10.0).contains(&age), "{age}");
    assert!(
        ((age * 10.0).round() / 10.0 - age).abs() < 1e-9,
        "rounded to 0.1: {age}"
    );
    assert_eq!(second.json["database"], "healthy");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_reports_each_check_and_requires_the_database_by_default() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let r = send(app.http.get(app.url("/ready"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "ready");
    let db = &r.json["checks"]["database"];
    assert_eq!(db["status"], "up", "{}", r.text);
    assert_eq!(db["required"], true);
    assert!(db["latency_ms"].is_number(), "{}", r.text);
    for dep in ["temporal", "redis"] {
        assert_eq!(r.json["checks"][dep]["required"], false, "{}", r.text);
        let status = r.json["checks"][dep]["status"].as_str().unwrap();
        assert!(
            ["up", "down", "not_configured"].contains(&status),
            "{status}"
        );
    }
    assert_eq!(r.json["checks"]["redis"]["status"], "up", "{}", r.text);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_answers_503_when_a_required_temporal_is_down_and_200_when_not_required() {
    let (_held, port) = closed_port();
    let host = format!("127.0.0.1:{port}");

    let strict = TestApp::builder()
        .without_worker()
        .env("TEMPORAL_HOST", &host)
        .env("READY_REQUIRES", "database,temporal")
        .spawn()
        .await
        .unwrap();
    let r = send(strict.http.get(strict.url("/ready"))).await;
    r.assert_error(503, "Not ready");
    assert_eq!(r.json["status"], "not_ready");
    assert_eq!(r.json["checks"]["temporal"]["status"], "down", "{}", r.text);
    assert_eq!(r.json["checks"]["temporal"]["required"], true);
    assert_eq!(
        r.json["checks"]["temporal"]["latency_ms"],
        serde_json::Value::Null
    );
    assert_eq!(r.json["checks"]["database"]["status"], "up");
    let h = send(strict.http.get(strict.url("/health"))).await;
    assert_eq!(h.status, 200, "liveness is not readiness: {}", h.text);
    assert_eq!(h.json["temporal"], "unhealthy");
    assert_eq!(h.json["status"], "degraded");
    strict.shutdown().await;

    let lenient = TestApp::builder()
        .without_worker()
        .env("TEMPORAL_HOST", &host)
        .spawn()
        .await
        .unwrap();
    let r = send(lenient.http.get(lenient.url("/ready"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "ready");
    assert_eq!(r.json["checks"]["temporal"]["status"], "down");
    assert_eq!(r.json["checks"]["temporal"]["required"], false);
    lenient.shutdown().await;
}

async fn item(Path(id): Path<uuid::Uuid>) -> String {
    id.to_string()
}

async fn metrics_page(app: &TestApp) -> String {
    let r = send(app.http.get(app.url("/metrics"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.header("content-type").unwrap().starts_with("text/plain"),
        "{:?}",
        r.header("content-type")
    );
    r.text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_expose_the_named_series_with_route_templates() {
    let routes: Router<AppState> = Router::new().route("/test/items/{id}", get(item));
    let app = TestApp::builder()
        .without_worker()
        .routes(routes)
        .spawn()
        .await
        .unwrap();
    let id = uuid::Uuid::now_v7();
    let r = send(app.http.get(app.url(&format!("/api/v1/test/items/{id}")))).await;
    assert_eq!(r.status, 200);
    let page = metrics_page(&app).await;
    for series in [
        "tenantry_outbox_pending",
        "tenantry_outbox_oldest_age_seconds",
        "tenantry_rate_limited_total{limit=\"login\"}",
        "tenantry_rate_limited_total{limit=\"global\"}",
        "tenantry_db_pool_connections{state=\"idle\"}",
        "tenantry_db_pool_connections{state=\"in_use\"}",
        "tenantry_outbox_dispatch_total{result=\"started\"}",
        "tenantry_outbox_dispatch_total{result=\"already_started\"}",
        "tenantry_outbox_dispatch_total{result=\"error\"}",
        "tenantry_refresh_reuse_detected_total",
        "tenantry_audit_write_failures_total",
    ] {
        assert!(metric(&page, series).is_some(), "{series} missing");
    }
    let count = metric(
        &page,
        "http_requests_total{method=\"GET\",route=\"/api/v1/test/items/{id}\",status=\"200\"}",
    )
    .expect("http_requests_total with the route template");
    assert!(count >= 1.0);
    assert!(
        page.contains("http_request_duration_seconds")
            && page.contains("route=\"/api/v1/test/items/{id}\""),
        "duration histogram by template"
    );
    assert!(
        !page.contains(&id.to_string()),
        "raw paths never become labels"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_require_the_api_key_when_one_is_set() {
    let app = TestApp::builder()
        .without_worker()
        .env("METRICS_API_KEY", "metrics-key-123")
        .spawn()
        .await
        .unwrap();
    let missing = send(app.http.get(app.url("/metrics"))).await;
    missing.assert_error(401, "Invalid or missing metrics API key");
    assert!(!missing.text.contains("tenantry_"), "{}", missing.text);
    for wrong in ["metrics-key-12", "metrics-key-1234", "METRICS-KEY-123", ""] {
        let r = send(
            app.http
                .get(app.url("/metrics"))
                .header("x-metrics-key", wrong),
        )
        .await;
        r.assert_error(401, "Invalid or missing metrics API key");
    }
    let ok = Reply::read(
        app.http
            .get(app.url("/metrics"))
            .header("x-metrics-key", "metrics-key-123")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(metric(&ok.text, "tenantry_outbox_pending").is_some());
    app.shutdown().await;
}
