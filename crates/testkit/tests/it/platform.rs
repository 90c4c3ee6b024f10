//! The HTTP platform through the real server: error shapes (api.md §0.2), request ids and response
//! headers (§0.4), CORS and the docs.

use axum::Json;
use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tenantry_http::json::{Fields, JsonBody};
use tenantry_http::{ApiError, AppState};
use tenantry_testkit::TestApp;

use crate::support::{DEFAULT_CSP, Reply, assert_security_headers, raw_http, send};

const PANIC_TEXT: &str = "secret panic detail 7f3a";
const UNAVAILABLE_CAUSE: &str = "pool timed out: secret cause 19c2";

async fn echo(JsonBody(body): JsonBody) -> Json<Value> {
    Json(Value::Object(body))
}

async fn several_fields(body: JsonBody) -> Result<Json<Value>, ApiError> {
    let mut f = Fields::new(body);
    let name = f.required_str("name");
    let owner = f.required_uuid("owner_id");
    let flag = f.optional_bool("flag");
    let label = f.required_str("label");
    f.finish()?;
    Ok(Json(
        json!({"name": name, "owner_id": owner, "flag": flag, "label": label}),
    ))
}

async fn boom() -> &'static str {
    panic!("{PANIC_TEXT}")
}

async fn unavailable() -> ApiError {
    ApiError::Unavailable(UNAVAILABLE_CAUSE.to_owned())
}

/// Extra `/api/v1` routes that exercise the platform.
pub fn platform_routes() -> Router<AppState> {
    Router::new()
        .route("/test/echo", post(echo))
        .route("/test/fields", post(several_fields))
        .route("/test/panic", get(boom))
        .route("/test/unavailable", get(unavailable))
}

async fn platform_app() -> TestApp {
    TestApp::builder()
        .without_worker()
        .without_relay()
        .env("MAX_BODY_BYTES", "1024")
        .routes(platform_routes())
        .spawn()
        .await
        .unwrap()
}

const MAX_BODY: usize = 1024;

fn big_json() -> String {
    json_of_len(3000)
}

/// A JSON object of exactly `len` bytes.
fn json_of_len(len: usize) -> String {
    let body = format!("{{\"pad\": \"{}\"}}", "x".repeat(len - 11));
    assert_eq!(body.len(), len);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_answer_404_not_found_with_the_request_id() {
    let app = platform_app().await;
    for path in [
        "/api/v1/no-such-thing",
        "/nowhere",
        "/api/v2/x",
        "/dev/no-such-thing",
    ] {
        let r = send(app.http.get(app.url(path))).await;
        r.assert_error(404, "Not Found");
        assert_eq!(
            r.json.as_object().unwrap().len(),
            2,
            "only detail and request_id: {}",
            r.text
        );
    }
    let r = send(
        app.http
            .post(app.url("/api/v1/no-such-thing"))
            .json(&json!({})),
    )
    .await;
    r.assert_error(404, "Not Found");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_answers_405_with_an_allow_header() {
    let app = platform_app().await;
    let r = send(app.http.post(app.url("/health"))).await;
    r.assert_error(405, "Method Not Allowed");
    let allow = r.header("allow").expect("Allow header");
    assert!(allow.contains("GET"), "Allow: {allow}");

    let r = send(app.http.delete(app.url("/api/v1/test/echo"))).await;
    r.assert_error(405, "Method Not Allowed");
    let allow = r.header("allow").expect("Allow header");
    assert!(allow.contains("POST"), "Allow: {allow}");
    assert!(!allow.contains("DELETE"), "Allow: {allow}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_max_body_bytes_by_content_length_answers_413() {
    let app = platform_app().await;
    let r = send(
        app.http
            .post(app.url("/api/v1/test/echo"))
            .header("content-type", "application/json")
            .body(big_json()),
    )
    .await;
    r.assert_error(413, "Request body too large");
    assert_security_headers(&r);

    // The size limit comes before route matching (api.md §0.3).
    let r = send(
        app.http
            .post(app.url("/api/v1/no-such-thing"))
            .header("content-type", "application/json")
            .body(big_json()),
    )
    .await;
    r.assert_error(413, "Request body too large");

    // Exactly MAX_BODY_BYTES is read; one byte more is refused.
    let post = |len: usize| {
        send(
            app.http
                .post(app.url("/api/v1/test/echo"))
                .header("content-type", "application/json")
                .body(json_of_len(len)),
        )
    };
    let r = post(MAX_BODY).await;
    assert_eq!(r.status, 200, "{}", r.text);
    post(MAX_BODY + 1)
        .await
        .assert_error(413, "Request body too large");
    app.shutdown().await;
}

fn chunked_request(path: &str, content_type: &str, body: &str) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for chunk in body.as_bytes().chunks(500) {
        req.push_str(&format!("{:x}\r\n", chunk.len()));
        req.push_str(std::str::from_utf8(chunk).unwrap());
        req.push_str("\r\n");
    }
    req.push_str("0\r\n\r\n");
    req.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_max_body_bytes_answers_413_while_reading() {
    let app = platform_app().await;
    let r = raw_http(
        app.addr,
        &chunked_request("/api/v1/test/echo", "application/json", &big_json()),
    )
    .await;
    r.assert_error(413, "Request body too large");
    assert_security_headers(&r);

    // The same framing at exactly the limit is read and echoed; one byte more is not.
    let at_limit = json_of_len(MAX_BODY);
    let r = raw_http(
        app.addr,
        &chunked_request("/api/v1/test/echo", "application/json", &at_limit),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json, serde_json::from_str::<Value>(&at_limit).unwrap());
    raw_http(
        app.addr,
        &chunked_request(
            "/api/v1/test/echo",
            "application/json",
            &json_of_len(MAX_BODY + 1),
        ),
    )
    .await
    .assert_error(413, "Request body too large");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_json_body_answers_415() {
    let app = platform_app().await;
    let r = send(
        app.http
            .post(app.url("/api/v1/test/echo"))
            .header("content-type", "text/plain")
            .body(r#"{"a": 1}"#),
    )
    .await;
    r.assert_error(415, "Unsupported media type: expected application/json");
    app.shutdown().await;
}

async fn post_echo(app: &TestApp, body: &'static str) -> Reply {
    send(
        app.http
            .post(app.url("/api/v1/test/echo"))
            .header("content-type", "application/json")
            .body(body),
    )
    .await
}

fn assert_single_body_error(r: &Reply, code: &str, message: &str) {
    r.assert_error(422, &format!("body: {message}"));
    assert_eq!(
        r.json["errors"],
        json!([{"field": "body", "code": code, "message": message}]),
        "{}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_problems_answer_422_with_field_body() {
    let app = platform_app().await;

    let r = post_echo(&app, r#"{"a": "#).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let errors = r.json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{}", r.text);
    assert_eq!(errors[0]["field"], "body");
    assert_eq!(errors[0]["code"], "json_invalid");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.starts_with("Malformed JSON: "), "{message}");
    assert!(message.len() > "Malformed JSON: ".len(), "{message}");
    r.assert_error(422, &format!("body: {message}"));

    let r = post_echo(&app, "").await;
    assert_single_body_error(&r, "missing", "Request body is required");

    let r = post_echo(&app, "[1, 2]").await;
    assert_single_body_error(&r, "type", "Expected object");
    let r = post_echo(&app, "\"text\"").await;
    assert_single_body_error(&r, "type", "Expected object");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_problem_is_listed_and_joined_in_detail() {
    let app = platform_app().await;
    let r = send(
        app.http
            .post(app.url("/api/v1/test/fields"))
            .json(&json!({"owner_id": "not-a-uuid", "flag": "yes", "label": null})),
    )
    .await;
    let expected = json!([
        {"field": "name", "code": "missing", "message": "Field required"},
        {"field": "owner_id", "code": "invalid_format", "message": "Invalid UUID"},
        {"field": "flag", "code": "type", "message": "Expected boolean"},
        {"field": "label", "code": "null", "message": "Must not be null"},
    ]);
    assert_eq!(r.json["errors"], expected, "{}", r.text);
    r.assert_error(
        422,
        "name: Field required; owner_id: Invalid UUID; flag: Expected boolean; label: Must not be null",
    );

    let r = send(
        app.http
            .post(app.url("/api/v1/test/fields"))
            .json(&json!({"name": "n", "owner_id": uuid::Uuid::now_v7(), "label": "l"})),
    )
    .await;
    assert_eq!(r.status, 200, "a valid body passes: {}", r.text);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_answers_a_generic_500_without_the_panic_text() {
    let app = platform_app().await;
    let r = send(app.http.get(app.url("/api/v1/test/panic"))).await;
    r.assert_error(500, "Internal server error");
    assert!(!r.text.contains("7f3a"), "panic text leaked: {}", r.text);
    assert!(!r.text.to_lowercase().contains("panic"), "{}", r.text);
    // The server survives the panic.
    let r = send(app.http.get(app.url("/health"))).await;
    assert_eq!(r.status, 200);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_response_still_carries_security_and_cors_headers() {
    let app = platform_app().await;
    let r = send(
        app.http
            .get(app.url("/api/v1/test/panic"))
            .header("origin", "http://localhost:3000"),
    )
    .await;
    assert_eq!(r.status, 500);
    assert_security_headers(&r);
    assert_eq!(r.header("content-security-policy"), Some(DEFAULT_CSP));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_dependency_answers_503_with_retry_after_1() {
    let app = platform_app().await;
    let r = send(app.http.get(app.url("/api/v1/test/unavailable"))).await;
    r.assert_error(503, "Service temporarily unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(!r.text.contains("19c2"), "cause leaked: {}", r.text);
    assert_security_headers(&r);
    app.shutdown().await;
}

fn assert_uuid_v7(s: &str) {
    let id = uuid::Uuid::parse_str(s).unwrap_or_else(|_| panic!("not a UUID: {s}"));
    assert_eq!(id.get_version_num(), 7, "{s}");
    assert_eq!(id.hyphenated().to_string(), s, "lower-case hyphenated: {s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_incoming_request_id_is_echoed_and_an_invalid_one_replaced() {
    let app = platform_app().await;
    let longest = "a".repeat(64);
    for valid in ["abc-123.x:y_z", longest.as_str()] {
        let r = send(
            app.http
                .get(app.url("/api/v1/nope"))
                .header("x-request-id", valid),
        )
        .await;
        r.assert_error(404, "Not Found");
        assert_eq!(r.header("x-request-id"), Some(valid));
        let r = send(
            app.http
                .get(app.url("/health"))
                .header("x-request-id", valid),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-request-id"), Some(valid));
    }
    let too_long = "a".repeat(65);
    for invalid in ["has space", too_long.as_str(), "a/b", "ünï"] {
        let r = send(
            app.http
                .get(app.url("/api/v1/nope"))
                .header("x-request-id", invalid),
        )
        .await;
        r.assert_error(404, "Not Found");
        let got = r.header("x-request-id").unwrap();
        assert_ne!(got, invalid);
        assert_uuid_v7(got);
    }
    // Without a header every response gets a fresh one.
    let a = send(app.http.get(app.url("/health"))).await;
    let b = send(app.http.get(app.url("/health"))).await;
    assert_uuid_v7(a.header("x-request-id").unwrap());
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_id_is_on_413_responses() {
    let app = platform_app().await;
    let r = send(
        app.http
            .post(app.url("/api/v1/test/echo"))
            .header("content-type", "application/json")
            .header("x-request-id", "big-body-1")
            .body(big_json()),
    )
    .await;
    r.assert_error(413, "Request body too large");
    assert_eq!(r.header("x-request-id"), Some("big-body-1"));
    let r = send(
        app.http
            .post(app.url("/api/v1/test/echo"))
            .header("content-type", "application/json")
            .header("x-request-id", "bad id")
            .body(big_json()),
    )
    .await;
    r.assert_error(413, "Request body too large");
    assert_uuid_v7(r.header("x-request-id").unwrap());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_are_on_normal_404_and_413_responses() {
    let app = platform_app().await;
    let ok = send(app.http.get(app.url("/health"))).await;
    let not_found = send(app.http.get(app.url("/api/v1/nope"))).await;
    let too_large = send(
        app.http
            .post(app.url("/api/v1/test/echo"))
            .header("content-type", "application/json")
            .body(big_json()),
    )
    .await;
    let echoed = send(
        app.http
            .post(app.url("/api/v1/test/echo"))
            .json(&json!({"a": 1})),
    )
    .await;
    assert_eq!(
        (ok.status, not_found.status, too_large.status, echoed.status),
        (200, 404, 413, 200)
    );
    for r in [&ok, &not_found, &too_large, &echoed] {
        assert_security_headers(r);
        assert_eq!(r.header("content-security-policy"), Some(DEFAULT_CSP));
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_paths_are_not_cached_and_health_is_not_marked() {
    let app = platform_app().await;
    // Whatever these answer (no such route here, or a 4xx of a real endpoint), it is never cached.
    for path in [
        "/api/v1/auth/no-such-endpoint",
        "/api/v1/users/me/no-such-endpoint",
        "/api/v1/tenants/acme/provisioning",
        "/api/v1/invites/t/abc",
        "/dev/mailbox",
    ] {
        let r = send(app.http.get(app.url(path))).await;
        assert!(
            (400..500).contains(&r.status) || r.status == 200,
            "{path}: {}",
            r.status
        );
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(r.header("pragma"), Some("no-cache"), "{path}");
    }
    for path in ["/health", "/api/v1/nope", "/api/v1/tenants/acme"] {
        let r = send(app.http.get(app.url(path))).await;
        assert_ne!(r.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(r.header("pragma"), None, "{path}");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_have_their_own_csp_and_openapi_is_3_1() {
    let app = platform_app().await;
    let r = send(app.http.get(app.url("/docs/"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.header("content-type").unwrap().starts_with("text/html"),
        "{:?}",
        r.header("content-type")
    );
    assert!(r.text.to_lowercase().contains("<html"), "an HTML page");
    let csp = r.header("content-security-policy").unwrap();
    assert_ne!(csp, DEFAULT_CSP);
    assert!(
        csp.contains("script-src"),
        "the docs CSP permits its scripts: {csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"));

    let r = send(app.http.get(app.url("/openapi.json"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let version = r.json["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1"), "{version}");
    assert!(r.json["paths"]["/health"].is_object(), "{}", r.text);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_docs_page_gets_the_relaxed_csp() {
    let app = platform_app().await;
    let r = send(app.http.get(app.url("/openapi.json"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-security-policy"), Some(DEFAULT_CSP));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_allows_configured_origins_only() {
    let app = platform_app().await;
    let preflight = |origin: &'static str| {
        send(
            app.http
                .request(reqwest::Method::OPTIONS, app.url("/api/v1/test/echo"))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "content-type,x-tenant-slug,idempotency-key",
                ),
        )
    };
    let r = preflight("http://localhost:3000").await;
    assert!(r.status == 200 || r.status == 204, "{}", r.status);
    assert!(
        r.header("x-request-id").is_some(),
        "every response has a request id"
    );
    assert_security_headers(&r);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    let methods = r
        .header("access-control-allow-methods")
        .unwrap()
        .to_uppercase();
    for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    let headers = r
        .header("access-control-allow-headers")
        .unwrap()
        .to_lowercase();
    for h in [
        "authorization",
        "content-type",
        "x-tenant-slug",
        "x-request-id",
        "idempotency-key",
    ] {
        assert!(headers.contains(h), "{headers}");
    }

    let r = preflight("http://evil.example").await;
    assert_eq!(r.header("access-control-allow-origin"), None);

    // A real request from an allowed origin sees the exposed headers, on errors too.
    let r = send(
        app.http
            .post(app.url("/api/v1/test/echo"))
            .header("origin", "http://localhost:3000")
            .header("content-type", "application/json")
            .body(big_json()),
    )
    .await;
    assert_eq!(r.status, 413);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap()
        .to_lowercase();
    for h in ["x-request-id", "retry-after", "ratelimit-remaining"] {
        assert!(exposed.contains(h), "{exposed}");
    }
    app.shutdown().await;
}
