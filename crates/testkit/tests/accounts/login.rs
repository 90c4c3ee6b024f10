//! `POST /auth/login`: every failure looks the same and costs exactly one Argon2 verification.

use serde_json::Value;
use tenantry_testkit::TestApp;

use crate::support::*;

#[tokio::test]
async fn every_login_failure_answers_alike_with_exactly_one_verification() {
    let hasher = Counting::new();
    let app = TestApp::builder()
        .without_worker()
        .hasher(hasher.clone())
        .spawn()
        .await
        .unwrap();
    let a = account(&app).await;
    // Unverified account, member of the tenant.
    let unverified = format!("{}@example.com", unique("unverified-"));
    let unverified_id = app.create_user(&unverified, PASSWORD, false).await.unwrap();
    sqlx::query("UPDATE public.users SET email_verified_at = NULL WHERE id = $1")
        .bind(unverified_id)
        .execute(&app.pool)
        .await
        .unwrap();
    join(&app, unverified_id, a.tenant_id, "member").await;
    // Verified account that is not a member of this tenant.
    let outsider = format!("{}@example.com", unique("outsider-"));
    app.create_user(&outsider, PASSWORD, false).await.unwrap();
    // Inactive member.
    let inactive = format!("{}@example.com", unique("inactive-"));
    let inactive_id = app.create_user(&inactive, PASSWORD, false).await.unwrap();
    join(&app, inactive_id, a.tenant_id, "member").await;
    sqlx::query("UPDATE public.users SET is_active = false WHERE id = $1")
        .bind(inactive_id)
        .execute(&app.pool)
        .await
        .unwrap();

    let cases = [
        ("unknown email", "nobody-here@example.com", PASSWORD),
        ("wrong password", a.email.as_str(), "wrong-password-123"),
        ("unverified", unverified.as_str(), PASSWORD),
        ("not a member", outsider.as_str(), PASSWORD),
        ("inactive", inactive.as_str(), PASSWORD),
    ];
    let mut bodies: Vec<Value> = Vec::new();
    for (case, email, password) in cases {
        let before = hasher.verifications();
        let resp = login_as(&app, &a.slug, email, password).await;
        assert_eq!(resp.status(), 401, "{case}");
        assert!(
            resp.headers().get("www-authenticate").is_none(),
            "{case}: login failures are not bearer failures"
        );
        bodies.push(body_without_request_id(resp).await);
        assert_eq!(
            hasher.verifications() - before,
            1,
            "{case}: exactly one Argon2 verification"
        );
    }
    for (body, (case, ..)) in bodies.iter().zip(cases) {
        assert_eq!(
            body,
            &serde_json::json!({"detail": "Invalid credentials"}),
            "{case}"
        );
    }

    // Success costs one verification too, and audit rows tell the cases apart for operators.
    let before = hasher.verifications();
    login(&app, &a).await;
    assert_eq!(hasher.verifications() - before, 1);
    let reasons: Vec<(Option<String>, Option<uuid::Uuid>)> = sqlx::query_as(
        "SELECT error_message, user_id FROM public.audit_logs WHERE action = 'user.login' AND status = 'failure' \
         ORDER BY created_at, id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        reasons,
        vec![
            (Some("Invalid credentials".into()), None),
            (Some("Invalid credentials".into()), Some(a.user_id)),
            (Some("Email not verified".into()), Some(unverified_id)),
            (Some("No access to tenant".into()), None),
            (Some("User inactive".into()), Some(inactive_id)),
        ]
    );
    assert_eq!(audit_count(&app, "user.login", a.user_id).await, 2);
    app.shutdown().await;
}

#[tokio::test]
async fn login_opens_a_session_bound_to_the_tenant_and_rehashes_old_parameters() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    // A hash made with weaker parameters is replaced on the next successful login.
    let weak =
        tenantry_services::passwords::Passwords::from_params(&tenantry_settings::Argon2Params {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
        .hash(PASSWORD.to_owned())
        .await
        .unwrap();
    sqlx::query("UPDATE public.users SET hashed_password = $2 WHERE id = $1")
        .bind(a.user_id)
        .bind(&weak)
        .execute(&app.pool)
        .await
        .unwrap();
    let (access, refresh_token) = login(&app, &a).await;
    assert_eq!(refresh_token.len(), 43);
    let me_resp = me(&app, &a.slug, &access).await;
    assert_eq!(me_resp.status(), 200);
    let v: Value = me_resp.json().await.unwrap();
    assert_eq!(v["email"], a.email.as_str());
    let stored: String =
        sqlx::query_scalar("SELECT hashed_password FROM public.users WHERE id = $1")
            .bind(a.user_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    // The session row: tenant, user agent, address; only the token's hash is stored.
    let (session_tenant, ua, hashes): (Option<uuid::Uuid>, Option<String>, i64) = sqlx::query_as(
        "SELECT f.tenant_id, f.user_agent, (SELECT count(*) FROM public.refresh_tokens t WHERE t.family_id = f.id \
           AND t.token_hash = encode(sha256($2::bytea), 'hex')) \
         FROM public.refresh_token_families f WHERE f.user_id = $1",
    )
    .bind(a.user_id)
    .bind(refresh_token.as_bytes())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(session_tenant, Some(a.tenant_id));
    assert!(ua.is_some());
    assert_eq!(hashes, 1);
    // The token is bound to its tenant: another tenant's header is refused.
    let (_, other_slug) = tenant(&app).await;
    let resp = me(&app, &other_slug, &access).await;
    assert_eq!(resp.status(), 403);
    app.shutdown().await;
}

#[tokio::test]
async fn login_validates_before_anything_else_and_needs_a_ready_tenant() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let resp = request(
        &app,
        reqwest::Method::POST,
        "/api/v1/auth/login",
        Some(&a.slug),
        None,
        Some(&serde_json::json!({"email": "not-an-email", "password": "short"})),
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
    assert_eq!(fields, vec!["email", "password"]);
    let resp = login_as(&app, "no-such-tenant", &a.email, PASSWORD).await;
    assert_eq!(resp.status(), 404);
    let (other, other_slug) = tenant(&app).await;
    sqlx::query("UPDATE public.tenants SET status = 'provisioning' WHERE id = $1")
        .bind(other)
        .execute(&app.pool)
        .await
        .unwrap();
    let resp = login_as(&app, &other_slug, &a.email, PASSWORD).await;
    assert_eq!(resp.status(), 503);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Tenant is provisioning");
    app.shutdown().await;
}
