//! Sessions: listing, revoking one (its access tokens die at once), logout and logout-all.

use reqwest::Method;
use serde_json::{Value, json};
use tenantry_testkit::TestApp;

use crate::support::*;

async fn list(app: &TestApp, access: &str, query: &str) -> reqwest::Response {
    request(
        app,
        Method::GET,
        &format!("/api/v1/users/me/sessions{query}"),
        None,
        Some(access),
        None,
    )
    .await
}

#[tokio::test]
async fn sessions_are_listed_across_tenants_and_revoking_one_kills_its_access_tokens() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let (other, other_slug) = tenant(&app).await;
    join(&app, a.user_id, other, "member").await;
    let (first, _) = login(&app, &a).await;
    let (second, _) = login(&app, &a).await;
    let resp = login_as(&app, &other_slug, &a.email, PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let third: Value = resp.json().await.unwrap();
    let third = third["access_token"].as_str().unwrap().to_owned();

    let resp = list(&app, &second, "?limit=2").await;
    assert_eq!(resp.status(), 200);
    let page: Value = resp.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["items"][0]["tenant_slug"], other_slug.as_str());
    assert_eq!(page["items"][1]["current"], true);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: Value = list(&app, &second, &format!("?limit=2&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["has_more"], false);
    assert_eq!(rest["next_cursor"], Value::Null);
    let first_id = rest["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(rest["items"][0]["current"], false);
    assert!(rest["items"][0].get("expires_at").is_some());
    assert_eq!(list(&app, &second, "?cursor=tampered").await.status(), 422);
    assert_eq!(list(&app, &second, "?limit=0").await.status(), 422);

    // Revoking the first session: its access token stops working on the next request.
    let resp = request(
        &app,
        Method::DELETE,
        &format!("/api/v1/users/me/sessions/{first_id}"),
        None,
        Some(&second),
        None,
    )
    .await;
    assert_eq!(resp.status(), 204);
    let resp = me(&app, &a.slug, &first).await;
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Session has been revoked");
    assert_eq!(me(&app, &a.slug, &second).await.status(), 200);
    // Revoked, unknown or someone else's: 404.
    for id in [first_id.clone(), uuid::Uuid::now_v7().to_string()] {
        let resp = request(
            &app,
            Method::DELETE,
            &format!("/api/v1/users/me/sessions/{id}"),
            None,
            Some(&second),
            None,
        )
        .await;
        assert_eq!(resp.status(), 404);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["detail"], "Session not found");
    }
    let resp = request(
        &app,
        Method::DELETE,
        "/api/v1/users/me/sessions/not-a-uuid",
        None,
        Some(&second),
        None,
    )
    .await;
    assert_eq!(resp.status(), 422);
    let other_user = account(&app).await;
    let (stranger, _) = login(&app, &other_user).await;
    let resp = request(
        &app,
        Method::DELETE,
        &format!(
            "/api/v1/users/me/sessions/{}",
            page["items"][1]["id"].as_str().unwrap()
        ),
        None,
        Some(&stranger),
        None,
    )
    .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(me(&app, &a.slug, &second).await.status(), 200);
    assert_eq!(audit_count(&app, "session.revoke", a.user_id).await, 1);

    // Logout-all ends every session in every tenant, the caller's included.
    let resp = request(
        &app,
        Method::POST,
        "/api/v1/auth/logout-all",
        None,
        Some(&third),
        None,
    )
    .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(me(&app, &a.slug, &second).await.status(), 401);
    assert_eq!(me(&app, &other_slug, &third).await.status(), 401);
    assert_eq!(audit_count(&app, "user.logout_all", a.user_id).await, 1);
    assert_eq!(me(&app, &other_user.slug, &stranger).await.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn logout_revokes_its_own_family_and_ignores_everything_else() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let (access, refresh_token) = login(&app, &a).await;
    let (other, other_slug) = tenant(&app).await;
    join(&app, a.user_id, other, "member").await;
    let logout = |slug: String, token: String| {
        let app = &app;
        async move {
            request(
                app,
                Method::POST,
                "/api/v1/auth/logout",
                Some(&slug),
                None,
                Some(&json!({ "refresh_token": token })),
            )
            .await
            .status()
        }
    };
    assert_eq!(logout(a.slug.clone(), "garbage".into()).await, 204);
    // Another tenant's header: 204, and the session lives.
    assert_eq!(logout(other_slug.clone(), refresh_token.clone()).await, 204);
    assert_eq!(me(&app, &a.slug, &access).await.status(), 200);
    assert_eq!(logout(a.slug.clone(), refresh_token.clone()).await, 204);
    assert_eq!(me(&app, &a.slug, &access).await.status(), 401);
    assert_eq!(refresh(&app, &a.slug, &refresh_token).await.status(), 401);
    assert_eq!(logout(a.slug.clone(), refresh_token.clone()).await, 204);
    assert_eq!(audit_count(&app, "user.logout", a.user_id).await, 1);
    app.shutdown().await;
}
