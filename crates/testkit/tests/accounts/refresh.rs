//! `POST /auth/refresh`: rotation, reuse detection with its grace window, and concurrency.

use serde_json::Value;
use tenantry_testkit::TestApp;

use crate::support::*;

async fn rotate(app: &TestApp, slug: &str, token: &str) -> (String, String) {
    let resp = refresh(app, slug, token).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let v: Value = resp.json().await.unwrap();
    (
        v["access_token"].as_str().unwrap().to_owned(),
        v["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn family_revoked(app: &TestApp, user: uuid::Uuid) -> Option<String> {
    sqlx::query_scalar(
        "SELECT revoked_reason FROM public.refresh_token_families WHERE user_id = $1",
    )
    .bind(user)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn assert_invalid(resp: reqwest::Response) {
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("www-authenticate").is_none());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Invalid or expired refresh token");
}

#[tokio::test]
async fn a_replay_outside_the_grace_window_revokes_the_whole_family_at_once() {
    let app = TestApp::builder()
        .without_worker()
        .env("REFRESH_REUSE_GRACE_SECONDS", "0")
        .spawn()
        .await
        .unwrap();
    let a = account(&app).await;
    let (_, first) = login(&app, &a).await;
    let (access, newest) = rotate(&app, &a.slug, &first).await;
    assert_eq!(me(&app, &a.slug, &access).await.status(), 200);

    // The stolen first token is replayed: the family dies, with its newest token and access tokens.
    assert_invalid(refresh(&app, &a.slug, &first).await).await;
    assert_eq!(
        family_revoked(&app, a.user_id).await.as_deref(),
        Some("reuse_detected")
    );
    assert_invalid(refresh(&app, &a.slug, &newest).await).await;
    let resp = me(&app, &a.slug, &access).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Session has been revoked");
    let (action, entity): (String, Option<uuid::Uuid>) = sqlx::query_as(
        "SELECT action, entity_id FROM public.audit_logs WHERE action = 'token.reuse_detected'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(action, "token.reuse_detected");
    let sid: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM public.refresh_token_families WHERE user_id = $1")
            .bind(a.user_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(entity, Some(sid));
    app.shutdown().await;
}

#[tokio::test]
async fn a_replay_within_the_grace_window_is_refused_but_the_family_survives() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let (_, first) = login(&app, &a).await;
    let (_, second) = rotate(&app, &a.slug, &first).await;
    // Two tabs raced with `first`: the loser gets 401, nothing is revoked, no token is handed out.
    assert_invalid(refresh(&app, &a.slug, &first).await).await;
    assert_eq!(family_revoked(&app, a.user_id).await, None);
    let (access, third) = rotate(&app, &a.slug, &second).await;
    assert_eq!(me(&app, &a.slug, &access).await.status(), 200);
    // An older token than the most recently used one is always reuse, grace window or not.
    assert_invalid(refresh(&app, &a.slug, &first).await).await;
    assert_eq!(
        family_revoked(&app, a.user_id).await.as_deref(),
        Some("reuse_detected")
    );
    assert_invalid(refresh(&app, &a.slug, &third).await).await;
    app.shutdown().await;
}

#[tokio::test]
async fn ten_concurrent_refreshes_of_one_token_give_exactly_one_pair() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let (_, token) = login(&app, &a).await;
    let attempts = (0..10).map(|_| refresh(&app, &a.slug, &token));
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
        statuses.iter().filter(|s| **s == 401).count(),
        9,
        "{statuses:?}"
    );
    // The losers replayed within the grace window: the family lives on.
    assert_eq!(family_revoked(&app, a.user_id).await, None);
    assert_eq!(
        count(&app, "SELECT count(*) FROM public.refresh_tokens").await,
        2,
        "one login token and one child"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn refresh_refuses_garbage_other_tenants_expiry_and_lost_access() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    assert_invalid(refresh(&app, &a.slug, "garbage").await).await;
    let (access, token) = login(&app, &a).await;
    assert_invalid(refresh(&app, &a.slug, &access).await).await;
    // Another tenant's header: refused, and the family is not touched.
    let (other, other_slug) = tenant(&app).await;
    join(&app, a.user_id, other, "member").await;
    assert_invalid(refresh(&app, &other_slug, &token).await).await;
    assert_eq!(family_revoked(&app, a.user_id).await, None);
    // Past the family's absolute expiry.
    sqlx::query("UPDATE public.refresh_token_families SET expires_at = now() - interval '1 second' WHERE user_id = $1")
        .bind(a.user_id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_invalid(refresh(&app, &a.slug, &token).await).await;
    // A fresh session, then the membership is deactivated: the next refresh revokes it (access lost).
    let (_, token) = login(&app, &a).await;
    sqlx::query("UPDATE public.user_tenant_membership SET is_active = false WHERE user_id = $1 AND tenant_id = $2")
        .bind(a.user_id)
        .bind(a.tenant_id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_invalid(refresh(&app, &a.slug, &token).await).await;
    let reasons: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT revoked_reason FROM public.refresh_token_families WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(a.user_id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(reasons, vec![None, Some("access_lost".to_owned())]);
    assert!(
        count(&app, "SELECT count(*) FROM public.audit_logs WHERE action = 'token.refresh' AND status = 'failure'").await
            >= 4
    );
    app.shutdown().await;
}
