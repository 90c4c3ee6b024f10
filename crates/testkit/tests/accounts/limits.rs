//! Per-endpoint rate limits (api.md §0.7): checked after validation and before any password hashing,
//! with Redis and with the in-process fallback.

use std::net::TcpListener;

use serde_json::Value;
use tenantry_testkit::TestApp;

use crate::support::*;

async fn sixth_login_is_refused_before_hashing(app: &TestApp, hasher: &Counting) {
    let a = account(app).await;
    for i in 0..5 {
        let resp = login_as(app, &a.slug, &a.email, "wrong-password-123").await;
        assert_eq!(resp.status(), 401, "attempt {i}");
        assert!(
            resp.headers().get("ratelimit-limit").is_none(),
            "failures carry no limit headers"
        );
    }
    let (verified, hashed) = (hasher.verifications(), hasher.hash_count());
    let resp = login_as(app, &a.slug, &a.email, PASSWORD).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(
        (hasher.verifications(), hasher.hash_count()),
        (verified, hashed),
        "no hash was computed for a refused request"
    );
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_eq!(resp.headers()["ratelimit-remaining"], "0");
    assert_eq!(resp.headers()["ratelimit-limit"], "5");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Too many requests");
    assert_eq!(v["retry_after"], retry);
    // The budget is per (email, IP): another account from the same address still gets in.
    let b = account(app).await;
    let resp = login_as(app, &b.slug, &b.email, PASSWORD).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("ratelimit-remaining").is_some());
}

#[tokio::test]
async fn the_sixth_login_for_one_email_and_ip_is_refused_before_any_hash() {
    let hasher = Counting::new();
    let app = TestApp::builder()
        .without_worker()
        .env("RATE_LIMIT_ENABLED", "true")
        .hasher(hasher.clone())
        .spawn()
        .await
        .unwrap();
    sixth_login_is_refused_before_hashing(&app, &hasher).await;
    app.shutdown().await;
}

#[tokio::test]
async fn the_same_holds_with_redis_stopped() {
    // A Redis of this test's own, stopped before the first request: the limiter falls back in-process.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server is installed");
    let hasher = Counting::new();
    let app = TestApp::builder()
        .without_worker()
        .env("RATE_LIMIT_ENABLED", "true")
        .env("REDIS_URL", &format!("redis://127.0.0.1:{port}"))
        .hasher(hasher.clone())
        .spawn()
        .await
        .unwrap();
    redis.kill().unwrap();
    redis.wait().unwrap();
    sixth_login_is_refused_before_hashing(&app, &hasher).await;
    app.shutdown().await;
}

#[tokio::test]
async fn password_and_reset_endpoints_have_their_budgets() {
    let hasher = Counting::new();
    let app = TestApp::builder()
        .without_worker()
        .env("RATE_LIMIT_ENABLED", "true")
        .hasher(hasher.clone())
        .spawn()
        .await
        .unwrap();
    let a = account(&app).await;
    let (access, _) = login(&app, &a).await;
    let body =
        serde_json::json!({"current_password": "wrong-password-123", "new_password": NEW_PASSWORD});
    for _ in 0..5 {
        let resp = request(
            &app,
            reqwest::Method::POST,
            "/api/v1/users/me/password",
            None,
            Some(&access),
            Some(&body),
        )
        .await;
        assert_eq!(resp.status(), 400);
    }
    let before = hasher.verifications();
    let resp = request(
        &app,
        reqwest::Method::POST,
        "/api/v1/users/me/password",
        None,
        Some(&access),
        Some(&body),
    )
    .await;
    assert_eq!(resp.status(), 429, "user budget: 5 per 15 minutes");
    assert_eq!(hasher.verifications(), before);
    for i in 0..3 {
        let resp = app
            .post_json(
                "/api/v1/auth/forgot-password",
                &serde_json::json!({"email": a.email}),
            )
            .await;
        assert_eq!(resp.status(), 200, "forgot {i}");
    }
    let resp = app
        .post_json(
            "/api/v1/auth/forgot-password",
            &serde_json::json!({"email": a.email}),
        )
        .await;
    assert_eq!(resp.status(), 429, "email budget: 3 per hour");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM public.email_outbox WHERE kind = 'password_reset'"
        )
        .await,
        3
    );
    app.shutdown().await;
}
