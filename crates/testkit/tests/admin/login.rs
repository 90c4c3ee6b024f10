//! `POST /admin/login`: a console session without a tenant and without refresh tokens; every failure
//! looks the same and costs exactly one Argon2 verification.

use reqwest::Method;
use serde_json::{Value, json};
use tenantry_testkit::TestApp;
use uuid::Uuid;

use crate::support::*;

#[tokio::test]
async fn console_login_opens_a_tenantless_session_that_passes_superuser_and_fails_member_levels() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let (su_id, su_email) = user(&app, "root-", true).await;
    let member = account(&app, "admin").await;

    let resp = admin_login_as(&app, &su_email.to_uppercase(), PASSWORD).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(keys(&body), ["access_token", "expires_in", "token_type"]);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
    let token = body["access_token"].as_str().unwrap().to_owned();
    let c = claims(&token);
    assert_eq!(c["type"], "access");
    assert_eq!(c["sub"], su_id.to_string());
    assert!(c.get("tenant_id").is_none(), "no tenant claim: {c}");
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 900);
    let sid: Uuid = c["sid"].as_str().unwrap().parse().unwrap();

    // The session: no tenant, both expiries equal to the token's lifetime, no refresh token.
    let (tenant_id, idle, absolute, created): (
        Option<Uuid>,
        time::OffsetDateTime,
        time::OffsetDateTime,
        time::OffsetDateTime,
    ) = sqlx::query_as(
        "SELECT tenant_id, idle_expires_at, expires_at, created_at FROM public.refresh_token_families WHERE id = $1",
    )
    .bind(sid)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(tenant_id, None);
    assert_eq!(idle, absolute);
    let lifetime = (absolute - created).whole_seconds();
    assert!((899..=901).contains(&lifetime), "lifetime {lifetime}s");
    let refresh_tokens: i64 =
        sqlx::query_scalar("SELECT count(*) FROM public.refresh_tokens WHERE family_id = $1")
            .bind(sid)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(refresh_tokens, 0);

    // Superuser endpoints accept it.
    let resp = get(
        &app,
        &format!("/api/v1/tenants/{}/status", member.slug),
        None,
        &token,
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        get(&app, "/api/v1/admin/tenants", None, &token)
            .await
            .status(),
        200
    );
    // Member endpoints refuse it: it names no tenant.
    let resp = get(&app, "/api/v1/users/me", Some(&member.slug), &token).await;
    assert!(resp.headers().get("www-authenticate").is_some());
    assert_eq!(
        status_detail(resp).await,
        (401, "Invalid token payload".into())
    );

    // Listed among the operator's sessions, without a tenant, and revocable.
    let resp = get(&app, "/api/v1/users/me/sessions", None, &token).await;
    assert_eq!(resp.status(), 200);
    let page: Value = resp.json().await.unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], sid.to_string());
    assert_eq!(items[0]["tenant_id"], Value::Null);
    assert_eq!(items[0]["tenant_slug"], Value::Null);
    assert_eq!(items[0]["current"], true);
    assert_eq!(items[0]["user_agent"], USER_AGENT);
    assert_eq!(items[0]["ip_address"], "127.0.0.1");

    // The audit row: tenant null, success, the session named.
    let (tenant, status, changes): (Option<Uuid>, String, Value) = sqlx::query_as(
        "SELECT tenant_id, status, changes FROM public.audit_logs WHERE action = 'user.login' AND user_id = $1",
    )
    .bind(su_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((tenant, status.as_str()), (None, "success"));
    assert_eq!(changes["session_id"], sid.to_string());

    let resp = request(
        &app,
        Method::DELETE,
        &format!("/api/v1/users/me/sessions/{sid}"),
        None,
        Some(&token),
        None,
    )
    .await;
    assert_eq!(resp.status(), 204);
    let resp = get(&app, "/api/v1/admin/tenants", None, &token).await;
    assert_eq!(
        status_detail(resp).await,
        (401, "Session has been revoked".into())
    );
    app.shutdown().await;
}

#[tokio::test]
async fn every_console_login_failure_answers_alike_with_exactly_one_verification() {
    let hasher = Counting::new();
    let app = TestApp::builder()
        .without_worker()
        .hasher(hasher.clone())
        .spawn()
        .await
        .unwrap();
    let (su_id, su_email) = user(&app, "root-", true).await;
    let (inactive_id, inactive) = user(&app, "inactive-", true).await;
    exec(
        &app,
        "UPDATE public.users SET is_active = false WHERE id = $1",
        inactive_id,
    )
    .await;
    let (unverified_id, unverified) = user(&app, "unverified-", true).await;
    exec(
        &app,
        "UPDATE public.users SET email_verified_at = NULL WHERE id = $1",
        unverified_id,
    )
    .await;
    // A tenant admin with a correct password is still not a superuser.
    let member = account(&app, "admin").await;

    let cases = [
        ("unknown email", "nobody-here@example.com", PASSWORD),
        ("wrong password", su_email.as_str(), "wrong-password-123"),
        ("inactive", inactive.as_str(), PASSWORD),
        ("unverified", unverified.as_str(), PASSWORD),
        ("not a superuser", member.email.as_str(), PASSWORD),
    ];
    for (case, email, password) in cases {
        let before = hasher.verifications();
        let resp = admin_login_as(&app, email, password).await;
        assert_eq!(resp.status(), 401, "{case}");
        assert!(
            resp.headers().get("www-authenticate").is_none(),
            "{case}: login failures are not bearer failures"
        );
        assert_eq!(
            body_without_request_id(resp).await,
            json!({ "detail": "Invalid credentials" }),
            "{case}"
        );
        assert_eq!(
            hasher.verifications() - before,
            1,
            "{case}: exactly one Argon2 verification"
        );
    }
    let before = hasher.verifications();
    admin_login(&app, &su_email).await;
    assert_eq!(hasher.verifications() - before, 1);

    let rows: Vec<(Option<Uuid>, Option<Uuid>, String, Option<String>)> = sqlx::query_as(
        "SELECT tenant_id, user_id, status, error_message FROM public.audit_logs \
         WHERE action = 'user.login' ORDER BY created_at, id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let failure = |user: Option<Uuid>, reason: &str| {
        (None, user, "failure".to_owned(), Some(reason.to_owned()))
    };
    assert_eq!(
        rows,
        vec![
            failure(None, "Invalid credentials"),
            failure(Some(su_id), "Invalid credentials"),
            failure(Some(inactive_id), "User inactive"),
            failure(Some(unverified_id), "Email not verified"),
            failure(Some(member.user_id), "Not a superuser"),
            (None, Some(su_id), "success".to_owned(), None),
        ]
    );
    // No session was opened by a failure.
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM public.refresh_token_families")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 1);

    // Validation comes first and costs nothing.
    let before = hasher.verifications();
    let resp = request(
        &app,
        Method::POST,
        "/api/v1/admin/login",
        None,
        None,
        Some(&json!({ "email": "not-an-email", "password": "short" })),
    )
    .await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password"]);
    assert_eq!(hasher.verifications(), before);
    app.shutdown().await;
}

#[tokio::test]
async fn console_login_shares_the_login_limit_with_tenant_login() {
    let hasher = Counting::new();
    let app = TestApp::builder()
        .without_worker()
        .env("RATE_LIMIT_ENABLED", "true")
        .hasher(hasher.clone())
        .spawn()
        .await
        .unwrap();
    let (su_id, su_email) = user(&app, "root-", true).await;
    let (tenant_id, slug) = tenant(&app).await;
    join(&app, su_id, tenant_id, "member").await;
    // Five failed tenant logins spend the (email, IP) budget of 5 per 15 minutes…
    for i in 0..5 {
        let resp = request(
            &app,
            Method::POST,
            "/api/v1/auth/login",
            Some(&slug),
            None,
            Some(&json!({ "email": su_email, "password": "wrong-password-123" })),
        )
        .await;
        assert_eq!(resp.status(), 401, "attempt {i}");
    }
    // …so the console login with the right password is refused before any hashing.
    let before = hasher.verifications();
    let resp = admin_login_as(&app, &su_email, PASSWORD).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["ratelimit-limit"], "5");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Too many requests");
    assert!(v["retry_after"].as_u64().unwrap() >= 1);
    assert_eq!(hasher.verifications(), before);
    // Another account from the same address is unaffected, and the answer carries the limit headers.
    let (_, other) = user(&app, "root2-", true).await;
    let resp = admin_login_as(&app, &other, PASSWORD).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("ratelimit-remaining").is_some());
    app.shutdown().await;
}
