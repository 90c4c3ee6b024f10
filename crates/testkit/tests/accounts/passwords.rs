//! Password change and reset: who keeps a session, and single-use reset tokens under concurrency.

use reqwest::Method;
use serde_json::{Value, json};
use tenantry_testkit::TestApp;

use crate::support::*;

async fn change(app: &TestApp, access: &str, current: &str, new: &str) -> reqwest::Response {
    request(
        app,
        Method::POST,
        "/api/v1/users/me/password",
        None,
        Some(access),
        Some(&json!({ "current_password": current, "new_password": new })),
    )
    .await
}

async fn live_sessions(app: &TestApp, user: uuid::Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM public.refresh_token_families WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_password_change_revokes_every_other_session_and_keeps_the_callers() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let (mine, my_refresh) = login(&app, &a).await;
    let (other_a, _) = login(&app, &a).await;
    let (other_b, _) = login(&app, &a).await;

    let resp = change(&app, &mine, "not-my-password", NEW_PASSWORD).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Current password is incorrect");
    let resp = change(&app, &mine, PASSWORD, PASSWORD).await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["detail"],
        "new_password: New password must differ from the current password"
    );
    let resp = change(&app, &mine, PASSWORD, "password1").await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "weak_password");
    // The account's own words make a weak password.
    let local = a.email.split('@').next().unwrap().to_owned();
    let resp = change(&app, &mine, PASSWORD, &format!("{local}{local}")).await;
    assert_eq!(resp.status(), 422);

    let resp = change(&app, &mine, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"message": "Password changed", "revoked_sessions": 2})
    );
    assert_eq!(me(&app, &a.slug, &mine).await.status(), 200);
    assert_eq!(me(&app, &a.slug, &other_a).await.status(), 401);
    assert_eq!(me(&app, &a.slug, &other_b).await.status(), 401);
    assert_eq!(refresh(&app, &a.slug, &my_refresh).await.status(), 200);
    assert_eq!(live_sessions(&app, a.user_id).await, 1);
    assert_eq!(
        login_as(&app, &a.slug, &a.email, PASSWORD).await.status(),
        401
    );
    assert_eq!(
        login_as(&app, &a.slug, &a.email, NEW_PASSWORD)
            .await
            .status(),
        200
    );
    assert_eq!(audit_count(&app, "password.change", a.user_id).await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM public.email_outbox WHERE kind = 'password_changed'"
        )
        .await,
        1
    );
    app.shutdown().await;
}

async fn forgot(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/forgot-password", &json!({ "email": email }))
        .await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/auth/reset-password",
        &json!({ "token": token, "new_password": password }),
    )
    .await
}

#[tokio::test]
async fn a_reset_revokes_every_session_and_its_token_works_once_even_ten_at_a_time() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let (access, _) = login(&app, &a).await;
    let (access_2, _) = login(&app, &a).await;

    // Unknown addresses get the same answer and no email.
    let unknown = forgot(&app, "nobody-here@example.com").await;
    assert_eq!(unknown.status(), 200);
    let unknown: Value = unknown.json().await.unwrap();
    let known = forgot(&app, &a.email).await;
    assert_eq!(known.status(), 200);
    let known: Value = known.json().await.unwrap();
    assert_eq!(unknown, known);
    assert_eq!(
        known["message"],
        "If an account exists with this email, a password reset link has been sent"
    );
    let first_token = mailbox_token(&app, &a.email, "password_reset").await;
    // A second request replaces the first link.
    forgot(&app, &a.email).await;
    let token = mailbox_token(&app, &a.email, "password_reset").await;
    assert_ne!(token, first_token);
    assert_eq!(reset(&app, &first_token, NEW_PASSWORD).await.status(), 400);

    let resp = reset(&app, &token, "password1").await;
    assert_eq!(
        resp.status(),
        422,
        "strength is checked before the token is spent"
    );
    let attempts = (0..10).map(|_| reset(&app, &token, NEW_PASSWORD));
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        9,
        "{statuses:?}"
    );
    let again = reset(&app, &token, NEW_PASSWORD).await;
    assert_eq!(again.status(), 400);
    let v: Value = again.json().await.unwrap();
    assert_eq!(v["detail"], "Invalid or expired reset token");

    assert_eq!(me(&app, &a.slug, &access).await.status(), 401);
    assert_eq!(me(&app, &a.slug, &access_2).await.status(), 401);
    assert_eq!(live_sessions(&app, a.user_id).await, 0);
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT revoked_reason FROM public.refresh_token_families WHERE user_id = $1",
    )
    .bind(a.user_id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(reasons, vec!["password_reset".to_owned()]);
    assert_eq!(
        login_as(&app, &a.slug, &a.email, NEW_PASSWORD)
            .await
            .status(),
        200
    );
    assert_eq!(audit_count(&app, "password.reset", a.user_id).await, 1);
    assert_eq!(
        audit_count(&app, "password.reset_request", a.user_id).await,
        2
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_reset_verifies_an_unverified_address_and_claims_its_registration() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    sqlx::query("UPDATE public.users SET email_verified_at = NULL WHERE id = $1")
        .bind(a.user_id)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE public.tenants SET origin = 'registration', claimed_at = NULL, registered_by_user_id = $2 WHERE id = $1")
        .bind(a.tenant_id)
        .bind(a.user_id)
        .execute(&app.pool)
        .await
        .unwrap();
    forgot(&app, &a.email).await;
    let token = mailbox_token(&app, &a.email, "password_reset").await;
    assert_eq!(reset(&app, &token, NEW_PASSWORD).await.status(), 200);
    let verified: bool =
        sqlx::query_scalar("SELECT email_verified_at IS NOT NULL FROM public.users WHERE id = $1")
            .bind(a.user_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(verified);
    let claimed: bool =
        sqlx::query_scalar("SELECT claimed_at IS NOT NULL FROM public.tenants WHERE id = $1")
            .bind(a.tenant_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(claimed);
    let input: Value = sqlx::query_scalar(
        "SELECT input FROM public.workflow_start_requests WHERE workflow_id = $1",
    )
    .bind(format!("user-onboarding-{}", a.user_id))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(input["tenant_id"], a.tenant_id.to_string());
    app.shutdown().await;
}
