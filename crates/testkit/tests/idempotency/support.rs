//! Test routes wrapped by the idempotency layer, and helpers to call them and read the stored rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tenantry_domain::FieldError;
use tenantry_http::idempotency::{Scope, idempotent};
use tenantry_http::json::JsonBody;
use tenantry_http::{ApiError, AppState};
use tenantry_testkit::TestApp;
use tokio::sync::Semaphore;
use uuid::Uuid;

pub const PLAIN: &str = "/api/v1/test/idem";
pub const GATED: &str = "/api/v1/test/idem/gated";
pub const PROJECTS: &str = "/api/v1/test/idem/projects";
pub const IN_PROGRESS: &str = "A request with this Idempotency-Key is in progress";
pub const NOT_AUTHENTICATED: &str = "Not authenticated (test)";
pub const CONFLICT: &str = "Already exists (test)";

/// Holds the gated handler until the test lets it go.
pub struct Gate {
    /// One permit per handler call that reached the gate.
    entered: Semaphore,
    /// One permit per handler call allowed to finish.
    release: Semaphore,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            entered: Semaphore::new(0),
            release: Semaphore::new(0),
        }
    }
}

impl Gate {
    pub async fn wait_entered(&self) {
        tokio::time::timeout(Duration::from_secs(30), self.entered.acquire())
            .await
            .expect("the gated handler was not reached")
            .unwrap()
            .forget();
    }

    pub fn open_one(&self) {
        self.release.add_permits(1);
    }
}

/// Shared with the handlers: how often each ran, whether `{"fail": true}` bodies fail, and the gate.
#[derive(Clone, Default)]
pub struct Probe {
    pub calls: Arc<AtomicUsize>,
    pub gated_calls: Arc<AtomicUsize>,
    pub projects_calls: Arc<AtomicUsize>,
    pub fail: Arc<AtomicBool>,
    pub gate: Arc<Gate>,
}

impl Probe {
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn gated_calls(&self) -> usize {
        self.gated_calls.load(Ordering::SeqCst)
    }

    pub fn projects_calls(&self) -> usize {
        self.projects_calls.load(Ordering::SeqCst)
    }
}

/// 201 with a fresh id in the body and the `Location` header (never echoing the request body); a 500
/// when the body has `"fail": true` and failing is switched on; a 422 for `"invalid": true`; a 409 for
/// `"conflict": true`.
fn created(calls: &AtomicUsize, fail: &AtomicBool, body: &JsonBody) -> Response {
    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
    if body.0.get("fail") == Some(&Value::Bool(true)) && fail.load(Ordering::SeqCst) {
        return ApiError::internal("asked to fail").into_response();
    }
    if body.0.get("invalid") == Some(&Value::Bool(true)) {
        return ApiError::field(FieldError::missing("name")).into_response();
    }
    if body.0.get("conflict") == Some(&Value::Bool(true)) {
        return ApiError::conflict(CONFLICT).into_response();
    }
    let id = Uuid::now_v7();
    (
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/test/things/{id}"))],
        Json(json!({"id": id, "call": n, "note": "créé"})),
    )
        .into_response()
}

fn header_uuid(parts: &Parts, name: &str) -> Option<Uuid> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v).ok())
}

pub fn routes(probe: &Probe) -> Router<AppState> {
    let p = probe.clone();
    let plain = move |body: JsonBody| {
        let p = p.clone();
        async move { created(&p.calls, &p.fail, &body) }
    };
    let p = probe.clone();
    let gated = move |body: JsonBody| {
        let p = p.clone();
        async move {
            p.gate.entered.add_permits(1);
            p.gate.release.acquire().await.unwrap().forget();
            created(&p.gated_calls, &p.fail, &body)
        }
    };
    let p = probe.clone();
    let projects = move |body: JsonBody| {
        let p = p.clone();
        async move { created(&p.projects_calls, &p.fail, &body) }
    };
    // Stands in for authentication: ids from test headers; none → not idempotent; `x-test-deny` → 401.
    let scope = Scope::projects(|_state: &AppState, parts: &Parts| {
        let deny = parts.headers.contains_key("x-test-deny");
        let ids = header_uuid(parts, "x-test-tenant").zip(header_uuid(parts, "x-test-user"));
        async move {
            if deny {
                return Err(ApiError::status(
                    StatusCode::UNAUTHORIZED,
                    NOT_AUTHENTICATED,
                ));
            }
            Ok(ids)
        }
    });
    Router::new()
        .route("/test/idem", post(idempotent(Scope::Register, plain)))
        .route("/test/idem/gated", post(idempotent(Scope::Register, gated)))
        .route("/test/idem/projects", post(idempotent(scope, projects)))
}

pub async fn app(probe: &Probe) -> TestApp {
    TestApp::builder()
        .without_worker()
        .without_relay()
        .routes(routes(probe))
        .spawn()
        .await
        .unwrap()
}

/// A response read to the end, its body kept as bytes.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub json: Value,
}

impl Reply {
    pub async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.unwrap().to_vec();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            json,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn replayed(&self) -> bool {
        self.header("idempotency-replayed") == Some("true")
    }

    /// The contract's error body: `status`, `detail`, and `request_id` equal to `X-Request-ID`.
    pub fn assert_error(&self, status: u16, detail: &str) {
        let text = String::from_utf8_lossy(&self.body);
        assert_eq!(self.status, status, "status of {text}");
        assert_eq!(self.json["detail"], detail, "detail of {text}");
        assert_eq!(
            self.json["request_id"],
            self.header("x-request-id").expect("X-Request-ID header"),
            "request_id of {text}"
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/json; charset=utf-8")
        );
    }

    /// A 422 with exactly one `Idempotency-Key` error of `code` and `message`.
    pub fn assert_key_error(&self, code: &str, message: &str) {
        self.assert_error(422, &format!("Idempotency-Key: {message}"));
        assert_eq!(
            self.json["errors"],
            json!([{"field": "Idempotency-Key", "code": code, "message": message}]),
            "errors of {}",
            self.json
        );
    }
}

/// POSTs `body` (sent verbatim as JSON) to `path` with an optional `Idempotency-Key` and extra headers.
pub async fn post_raw(
    app: &TestApp,
    path: &str,
    key: Option<&[u8]>,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut req = app
        .http
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(key) = key {
        req = req.header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes(key).unwrap(),
        );
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    Reply::read(req.send().await.unwrap()).await
}

pub async fn post_json(app: &TestApp, path: &str, key: Option<&str>, body: &Value) -> Reply {
    post_raw(app, path, key.map(str::as_bytes), &[], &body.to_string()).await
}

/// Rows of `public.idempotency_keys` as `(scope, key, state)`, ordered.
pub async fn rows(app: &TestApp) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT scope, key, state FROM public.idempotency_keys ORDER BY scope, key")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// Polls `check` until true, or panics after a generous deadline naming `what` (no timing is asserted).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
