//! `Idempotency-Key` (api.md §0.6, data-model.md §2.11).
//!
//! Wrap a handler with [`idempotent`] (no state needed when the router is built):
//!
//! ```ignore
//! Router::new().route("/auth/register", post(idempotent(Scope::Register, register)))
//! ```
//!
//! or, when the state is at hand, use [`middleware`] as a route layer:
//! `route_layer(from_fn_with_state(Idempotency::new(state, Scope::Register), idempotency::middleware))`.
//!
//! Behaviour:
//! - no `Idempotency-Key` header: the request passes through untouched;
//! - a malformed header: 422 (`Idempotency-Key`, `invalid_format`);
//! - first use: an `in_progress` row is committed, the handler runs, its response is buffered and stored
//!   (status, `Location`, `Content-Type`, body) when [`records`] says so; otherwise — 5xx, a request
//!   rejected before it was processed, or a handler future that was dropped or panicked — the row is
//!   deleted so a retry runs again;
//! - same key and fingerprint, completed: the stored response is replayed byte for byte with
//!   `Idempotency-Replayed: true`, without running the handler;
//! - different fingerprint: 422 (`Idempotency-Key`, `invalid`); still running: 409; an `in_progress` row
//!   whose lock lapsed (its request crashed) is taken over; an expired row counts as absent.
//!
//! The fingerprint is a hex HMAC-SHA-256, keyed by a key derived from `JWT_SECRET_KEY`, over the method,
//! the path and the canonical JSON of the body (sorted object keys; raw bytes when the body is not JSON).
//! Neither the secret nor the body's plaintext is stored.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Request, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tenantry_domain::IdempotencyKey;
use tenantry_services::ServiceError;
use tenantry_store::Db;
use tenantry_store::idempotency::{self as store, IdempotencyRow, LockToken, StoredResponse};
use uuid::Uuid;

use crate::error::{ApiError, ShapedError};
use crate::state::AppState;

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set to `true` on a replayed response.
pub const IDEMPOTENCY_REPLAYED: HeaderName = HeaderName::from_static("idempotency-replayed");
/// How long a claim holds the key before another request may take it over (data-model.md §2.11).
pub const LOCK_SECS: u32 = 60;
/// The 409 detail while the first request is still running.
pub const IN_PROGRESS_DETAIL: &str = "A request with this Idempotency-Key is in progress";
/// The scope of `POST /api/v1/auth/register`.
pub const REGISTER_SCOPE: &str = "register";

/// The response headers stored and replayed besides the status and body.
const STORED_HEADERS: [HeaderName; 2] = [header::LOCATION, header::CONTENT_TYPE];
/// Claim attempts before answering 409 (a row can vanish or change between the insert and the read).
const MAX_ATTEMPTS: usize = 4;
const FINGERPRINT_CONTEXT: &[u8] = b"tenantry-idempotency";

/// What [`ProjectsResolver`] returns: `(tenant_id, user_id)`, or `None` to skip idempotency (e.g. the
/// caller is not authenticated; the handler then answers on its own).
pub type IdsFuture = Pin<Box<dyn Future<Output = Result<Option<(Uuid, Uuid)>, ApiError>> + Send>>;

/// Finds the tenant and user of a request before the handler runs, from its headers and extensions
/// (e.g. set by an authentication layer) and the state. An `Err` is answered as is.
#[derive(Clone)]
pub struct ProjectsResolver(Arc<ResolveFn>);

type ResolveFn = dyn Fn(&AppState, &Parts) -> IdsFuture + Send + Sync;

/// The namespace a key lives in (data-model.md §2.11 `scope`).
#[derive(Clone)]
pub enum Scope {
    /// `register`: one global namespace.
    Register,
    /// `projects:<tenant_id>:<user_id>`, the ids coming from the resolver.
    Projects(ProjectsResolver),
}

impl Scope {
    /// A `projects:<tenant_id>:<user_id>` scope. The closure reads what it needs from the request parts
    /// synchronously and returns a `'static` future:
    ///
    /// ```ignore
    /// Scope::projects(|_state: &AppState, parts: &Parts| {
    ///     let ids = parts.extensions.get::<Caller>().map(|c| (c.tenant_id, c.user_id));
    ///     async move { Ok(ids) }
    /// })
    /// ```
    pub fn projects<F, Fut>(resolve: F) -> Self
    where
        F: Fn(&AppState, &Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<(Uuid, Uuid)>, ApiError>> + Send + 'static,
    {
        Scope::Projects(ProjectsResolver(Arc::new(move |state, parts| {
            Box::pin(resolve(state, parts))
        })))
    }

    async fn resolve(&self, state: &AppState, parts: &Parts) -> Result<Option<String>, ApiError> {
        match self {
            Scope::Register => Ok(Some(REGISTER_SCOPE.to_owned())),
            Scope::Projects(resolver) => Ok((resolver.0)(state, parts)
                .await?
                .map(|(tenant_id, user_id)| projects_scope(tenant_id, user_id))),
        }
    }
}

/// `projects:<tenant_id>:<user_id>`.
pub fn projects_scope(tenant_id: Uuid, user_id: Uuid) -> String {
    format!(
        "projects:{}:{}",
        tenant_id.hyphenated(),
        user_id.hyphenated()
    )
}

/// Wraps `handler` so it honours `Idempotency-Key` in `scope`: `post(idempotent(Scope::Register, register))`.
pub fn idempotent<H, T>(scope: Scope, handler: H) -> Idempotent<H, T>
where
    H: Handler<T, AppState>,
{
    Idempotent {
        scope,
        handler,
        _marker: PhantomData,
    }
}

/// A handler wrapped by [`idempotent`].
pub struct Idempotent<H, T> {
    scope: Scope,
    handler: H,
    _marker: PhantomData<fn() -> T>,
}

impl<H: Clone, T> Clone for Idempotent<H, T> {
    fn clone(&self) -> Self {
        Self {
            scope: self.scope.clone(),
            handler: self.handler.clone(),
            _marker: PhantomData,
        }
    }
}

impl<H, T> Handler<T, AppState> for Idempotent<H, T>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    type Future = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn call(self, req: Request, state: AppState) -> Self::Future {
        Box::pin(async move {
            let handler = self.handler;
            let inner_state = state.clone();
            run(&state, &self.scope, req, move |req| {
                handler.call(req, inner_state)
            })
            .await
        })
    }
}

/// The state of [`middleware`].
#[derive(Clone)]
pub struct Idempotency {
    state: AppState,
    scope: Scope,
}

impl Idempotency {
    pub fn new(state: AppState, scope: Scope) -> Self {
        Self { state, scope }
    }
}

/// The same behaviour as a middleware, for `route_layer(from_fn_with_state(Idempotency::new(..), middleware))`.
pub async fn middleware(State(cfg): State<Idempotency>, req: Request, next: Next) -> Response {
    run(&cfg.state, &cfg.scope, req, |req| next.run(req)).await
}

/// Runs `inner` under the idempotency rules of `scope`.
pub async fn run<F, Fut>(state: &AppState, scope: &Scope, req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    match prepare(state, scope, req).await {
        Ok(Step::PassThrough(req)) => inner(req).await,
        Ok(Step::Replay(resp)) => resp,
        Ok(Step::Run(claim, req)) => {
            // Dropping `claim` before `finish` (cancelled future, panic) releases the key.
            let resp = inner(req).await;
            claim.finish(resp).await
        }
        Err(e) => e.into_response(),
    }
}

enum Step {
    PassThrough(Request),
    Replay(Response),
    Run(Claim, Request),
}

fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::from(ServiceError::from(e))
}

async fn prepare(state: &AppState, scope: &Scope, req: Request) -> Result<Step, ApiError> {
    let Some(raw) = req
        .headers()
        .get(IDEMPOTENCY_KEY)
        .map(|v| v.as_bytes().to_vec())
    else {
        return Ok(Step::PassThrough(req));
    };
    let (parts, body) = req.into_parts();
    let Some(scope) = scope.resolve(state, &parts).await? else {
        return Ok(Step::PassThrough(Request::from_parts(parts, body)));
    };
    let key = IdempotencyKey::parse_bytes(&raw).map_err(ApiError::field)?;
    let bytes = read_body(body, state.settings().max_body_bytes).await?;
    let path = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.path(), |u| u.0.path())
        .to_owned();
    let fingerprint = fingerprint(
        state.settings().jwt_secret_key.expose_secret().as_bytes(),
        parts.method.as_str(),
        &path,
        &bytes,
    )?;
    let req = Request::from_parts(parts, Body::from(bytes));
    let ttl_hours = state.settings().idempotency_ttl_hours;
    let db = state.db();

    // Each attempt is one transaction, committed before any path that wrote returns or retries; paths
    // that only read drop it (a rollback). One transaction rather than bare statements, so the attempt
    // also runs behind a transaction-mode pooler (tenantry_store::Db).
    for _ in 0..MAX_ATTEMPTS {
        let mut conn = db.begin().await.map_err(db_error)?;
        let claimed = store::claim(
            &mut conn,
            &scope,
            key.as_str(),
            &fingerprint,
            LOCK_SECS,
            ttl_hours,
        )
        .await
        .map_err(db_error)?;
        if let Some(token) = claimed {
            conn.commit().await.map_err(db_error)?;
            return Ok(Step::Run(Claim::new(db, scope, key, token), req));
        }
        let Some(row) = store::find(&mut conn, &scope, key.as_str())
            .await
            .map_err(db_error)?
        else {
            continue; // released between the insert and the read
        };
        if row.expired {
            store::delete_expired(&mut conn, &scope, key.as_str())
                .await
                .map_err(db_error)?;
            conn.commit().await.map_err(db_error)?;
            continue;
        }
        if row.fingerprint != fingerprint {
            return Err(ApiError::field(IdempotencyKey::reused_error()));
        }
        if row.is_completed() {
            return replay(&row).map(Step::Replay);
        }
        if row.locked {
            return Err(ApiError::conflict(IN_PROGRESS_DETAIL));
        }
        let taken = store::take_over(
            &mut conn,
            &scope,
            key.as_str(),
            &fingerprint,
            row.locked_until,
            LOCK_SECS,
        )
        .await
        .map_err(db_error)?;
        conn.commit().await.map_err(db_error)?;
        if let Some(token) = taken {
            tracing::warn!(scope = %scope, "taking over an idempotency key whose request did not finish");
            return Ok(Step::Run(Claim::new(db, scope, key, token), req));
        }
    }
    Err(ApiError::conflict(IN_PROGRESS_DETAIL))
}

async fn read_body(body: Body, max: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::status(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body too large",
        )),
        Err(_) => Err(ApiError::bad_request("Request body could not be read")),
    }
}

/// Whether a first use's response is stored (and replayed later) rather than released.
///
/// Stored: every status below 500 except the rejections api.md §0.3 orders before idempotency handling
/// (400 unreadable body or tenant header, 401, 403, 413, 415, 422 validation, 429 rate limit): such a
/// request never got to use the key, and keeping e.g. a 429 would replay it for a whole TTL. Error
/// responses are stored only when they already have the contract's shape, so a replay needs no reshaping.
pub fn records(status: StatusCode, shaped_error: bool) -> bool {
    let rejected_before_processing =
        matches!(status.as_u16(), 400 | 401 | 403 | 413 | 415 | 422 | 429);
    !(status.is_server_error()
        || rejected_before_processing
        || (status.is_client_error() && !shaped_error))
}

/// The key held by the request that runs the handler. Dropping it unfinished releases the key.
struct Claim {
    db: Db,
    scope: String,
    key: IdempotencyKey,
    token: LockToken,
    armed: bool,
}

impl Claim {
    fn new(db: &Db, scope: String, key: IdempotencyKey, token: LockToken) -> Self {
        Self {
            db: db.clone(),
            scope,
            key,
            token,
            armed: true,
        }
    }

    async fn finish(mut self, resp: Response) -> Response {
        let (parts, body) = resp.into_parts();
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                self.release().await;
                return ApiError::internal(format!("reading the response body: {e}"))
                    .into_response();
            }
        };
        let shaped = parts.extensions.get::<ShapedError>().is_some();
        if records(parts.status, shaped) {
            self.armed = false;
            let headers = stored_headers(&parts.headers);
            let stored = StoredResponse {
                status: i32::from(parts.status.as_u16()),
                headers: &headers,
                body: &bytes,
            };
            let outcome = async {
                let mut tx = self.db.begin().await?;
                let stored =
                    store::complete(&mut tx, &self.scope, self.key.as_str(), self.token, &stored)
                        .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(stored)
            }
            .await;
            match outcome {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    scope = %self.scope,
                    "idempotency key was taken over before its response could be stored"
                ),
                // The handler's effects happened: keep the row locked rather than invite an immediate rerun.
                Err(e) => {
                    tracing::error!(scope = %self.scope, error = %e, "storing an idempotent response")
                }
            }
        } else {
            self.release().await;
        }
        Response::from_parts(parts, Body::from(bytes))
    }

    async fn release(&mut self) {
        self.armed = false;
        release(
            self.db.clone(),
            self.scope.clone(),
            self.key.clone(),
            self.token,
        )
        .await;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let fut = release(
            self.db.clone(),
            std::mem::take(&mut self.scope),
            self.key.clone(),
            self.token,
        );
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(fut);
            }
            Err(_) => tracing::error!("no runtime to release an abandoned idempotency key"),
        }
    }
}

/// Releases a key whose request will not store a response. When that fails (usually because the database is
/// away, the very reason the request failed), it is tried again in the background every
/// [`RELEASE_RETRY_INTERVAL`] until the database is back, so a client's retry runs again as api.md §0.6
/// promises instead of meeting "in progress" until the lock lapses. The release is guarded by the lock token:
/// a late one never touches a key that someone has taken over since.
async fn release(db: Db, scope: String, key: IdempotencyKey, token: LockToken) {
    let Err(e) = release_once(&db, &scope, &key, token).await else {
        return;
    };
    tracing::warn!(scope = %scope, error = %e, "releasing an idempotency key failed; retrying in the background");
    let retry = async move {
        let deadline =
            tokio::time::Instant::now() + std::time::Duration::from_secs(LOCK_SECS.into());
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(RELEASE_RETRY_INTERVAL).await;
            match release_once(&db, &scope, &key, token).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::debug!(scope = %scope, error = %e, "releasing an idempotency key")
                }
            }
        }
        // The lock has lapsed by now: the next retry takes the key over.
        tracing::error!(scope = %scope, "an idempotency key could not be released before its lock lapsed");
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(retry);
        }
        Err(_) => tracing::error!("no runtime to retry releasing an idempotency key"),
    }
}

/// Pause between attempts to release a key while the database is unavailable.
const RELEASE_RETRY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

async fn release_once(
    db: &Db,
    scope: &str,
    key: &IdempotencyKey,
    token: LockToken,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    store::release(&mut tx, scope, key.as_str(), token).await?;
    tx.commit().await
}

fn stored_headers(headers: &HeaderMap) -> Value {
    let mut out = Map::new();
    for name in STORED_HEADERS {
        if let Some(v) = headers.get(&name).and_then(|v| v.to_str().ok()) {
            out.insert(name.as_str().to_owned(), Value::from(v));
        }
    }
    Value::Object(out)
}

fn replay(row: &IdempotencyRow) -> Result<Response, ApiError> {
    let status = row
        .response_status
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| ApiError::internal("completed idempotency row without a valid status"))?;
    let mut resp = Response::new(Body::from(row.response_body.clone().unwrap_or_default()));
    *resp.status_mut() = status;
    if let Some(Value::Object(stored)) = &row.response_headers {
        for name in STORED_HEADERS {
            if let Some(v) = stored
                .get(name.as_str())
                .and_then(Value::as_str)
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                resp.headers_mut().insert(name, v);
            }
        }
    }
    resp.headers_mut()
        .insert(IDEMPOTENCY_REPLAYED, HeaderValue::from_static("true"));
    if status.is_client_error() {
        // Only shaped error bodies are stored (see `records`).
        resp.extensions_mut().insert(ShapedError);
    }
    Ok(resp)
}

/// The request fingerprint: hex HMAC-SHA-256 keyed with SHA-256("tenantry-idempotency" ‖ secret), over
/// the length-prefixed method, path, body kind and body (canonical JSON, or the raw bytes).
pub fn fingerprint(
    secret: &[u8],
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<String, ApiError> {
    let key = Sha256::new()
        .chain_update(FINGERPRINT_CONTEXT)
        .chain_update(secret)
        .finalize();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(ApiError::internal)?;
    let canonical = serde_json::from_slice::<Value>(body).ok().map(|v| {
        let mut out = String::with_capacity(body.len());
        canonical_json(&v, &mut out);
        out
    });
    let (kind, content): (&[u8], &[u8]) = match &canonical {
        Some(json) => (b"json", json.as_bytes()),
        None => (b"raw", body),
    };
    for part in [method.as_bytes(), path.as_bytes(), kind, content] {
        let len = u64::try_from(part.len()).unwrap_or(u64::MAX);
        mac.update(&len.to_be_bytes());
        mac.update(part);
    }
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// JSON with object members sorted by key and no insignificant whitespace.
pub fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(k.as_str()).to_string());
                out.push(':');
                canonical_json(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        let mut out = String::new();
        canonical_json(&serde_json::from_str(s).unwrap(), &mut out);
        out
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        assert_eq!(
            canon(r#"{ "b": 1, "a": {"z": [3, {"y": true, "x": null}], "c": "é\"" } }"#),
            r#"{"a":{"c":"é\"","z":[3,{"x":null,"y":true}]},"b":1}"#
        );
    }

    #[test]
    fn fingerprint_ignores_member_order_and_whitespace_but_not_values() {
        let s = b"0123456789abcdef0123456789abcdef";
        let f = |m: &str, p: &str, b: &[u8]| fingerprint(s, m, p, b).unwrap();
        let a = f("POST", "/x", br#"{"a":1,"b":"p"}"#);
        assert_eq!(a, f("POST", "/x", b" {\"b\" : \"p\", \"a\":1}"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, f("POST", "/x", br#"{"a":2,"b":"p"}"#));
        assert_ne!(a, f("PUT", "/x", br#"{"a":1,"b":"p"}"#));
        assert_ne!(a, f("POST", "/y", br#"{"a":1,"b":"p"}"#));
        assert_ne!(
            a,
            fingerprint(
                b"another-secret-another-secret-xx",
                "POST",
                "/x",
                br#"{"a":1,"b":"p"}"#
            )
            .unwrap()
        );
        assert_eq!(f("POST", "/x", b"not json"), f("POST", "/x", b"not json"));
        assert_ne!(f("POST", "/x", b"not json"), f("POST", "/x", b"not json "));
    }

    #[test]
    fn recording_policy() {
        let shaped = |s: u16| records(StatusCode::from_u16(s).unwrap(), true);
        for s in [200, 201, 202, 204, 302, 404, 409, 410] {
            assert!(shaped(s), "{s}");
        }
        for s in [400, 401, 403, 413, 415, 422, 429, 500, 502, 503] {
            assert!(!shaped(s), "{s}");
        }
        assert!(!records(StatusCode::CONFLICT, false));
        assert!(records(StatusCode::CREATED, false));
    }
}
