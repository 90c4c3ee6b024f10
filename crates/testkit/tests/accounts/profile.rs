//! `GET/PATCH /users/me`, the caller's tenants and `GET /tenants/{slug}`.

use reqwest::Method;
use serde_json::{Value, json};
use tenantry_testkit::TestApp;

use crate::support::*;

async fn patch(app: &TestApp, a: &Account, access: &str, body: Value) -> reqwest::Response {
    request(
        app,
        Method::PATCH,
        "/api/v1/users/me",
        Some(&a.slug),
        Some(access),
        Some(&body),
    )
    .await
}

#[tokio::test]
async fn the_profile_is_read_and_renamed_with_the_contracts_rules() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let (access, _) = login(&app, &a).await;
    let v: Value = me(&app, &a.slug, &access).await.json().await.unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec![
            "created_at",
            "email",
            "full_name",
            "id",
            "is_active",
            "is_superuser"
        ]
    );

    let resp = patch(
        &app,
        &a,
        &access,
        json!({"full_name": null, "password": "x"}),
    )
    .await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["detail"],
        "password: Use POST /api/v1/users/me/password to change the password; full_name: Must not be null"
    );
    let resp = patch(&app, &a, &access, json!({})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(audit_count(&app, "user.update", a.user_id).await, 0);
    let resp = patch(&app, &a, &access, json!({"full_name": "  Ada King  "})).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["full_name"], "Ada King");
    assert_eq!(audit_count(&app, "user.update", a.user_id).await, 1);
    let tenant: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT tenant_id FROM public.audit_logs WHERE action = 'user.update'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(tenant, Some(a.tenant_id));
    app.shutdown().await;
}

/// Found by scripts/api-schema: a full name holding U+0000 reached PostgreSQL, which cannot store it (500).
#[tokio::test]
async fn a_full_name_with_a_nul_character_is_a_422_not_a_500() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let (access, _) = login(&app, &a).await;
    let resp = patch(&app, &a, &access, json!({"full_name": "Ada\u{0}"})).await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "full_name: Must not contain NUL characters");
    assert_eq!(v["errors"][0]["code"], "invalid_format");
    assert_eq!(audit_count(&app, "user.update", a.user_id).await, 0);
    app.shutdown().await;
}

#[tokio::test]
async fn tenants_lists_active_memberships_and_hides_other_tenants() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let (second, second_slug) = tenant(&app).await;
    join(&app, a.user_id, second, "member").await;
    let (inactive, _) = tenant(&app).await;
    join(&app, a.user_id, inactive, "member").await;
    sqlx::query("UPDATE public.user_tenant_membership SET is_active = false WHERE tenant_id = $1")
        .bind(inactive)
        .execute(&app.pool)
        .await
        .unwrap();
    let (deleted, deleted_slug) = tenant(&app).await;
    join(&app, a.user_id, deleted, "member").await;
    sqlx::query("UPDATE public.tenants SET status = 'deleted', is_active = false, deleted_at = now() WHERE id = $1")
        .bind(deleted)
        .execute(&app.pool)
        .await
        .unwrap();
    let (stranger_tenant, stranger_slug) = tenant(&app).await;
    let (access, _) = login(&app, &a).await;

    for path in ["/api/v1/users/me/tenants", "/api/v1/tenants"] {
        let resp = request(&app, Method::GET, path, None, Some(&access), None).await;
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        let slugs: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["slug"].as_str().unwrap())
            .collect();
        assert_eq!(slugs, vec![second_slug.as_str(), a.slug.as_str()], "{path}");
        assert_eq!(v["has_more"], false);
    }
    let get = |slug: String, token: String| {
        let app = &app;
        async move {
            request(
                app,
                Method::GET,
                &format!("/api/v1/tenants/{slug}"),
                None,
                Some(&token),
                None,
            )
            .await
        }
    };
    let resp = get(a.slug.clone(), access.clone()).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["id"], a.tenant_id.to_string());
    assert_eq!(v["deleted_at"], Value::Null);
    for slug in [
        stranger_slug.clone(),
        deleted_slug.clone(),
        "no-such-tenant".into(),
        "Bad Slug".into(),
    ] {
        let resp = get(slug.clone(), access.clone()).await;
        assert_eq!(resp.status(), 404, "{slug}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["detail"], "Tenant not found");
    }
    // Superusers see every tenant, deleted ones included.
    let root = format!("{}@example.com", unique("root-"));
    let root_id = app.create_user(&root, PASSWORD, true).await.unwrap();
    let (_, root_token) = app
        .session_token(root_id, Some(stranger_tenant))
        .await
        .unwrap();
    assert_eq!(get(stranger_slug, root_token.clone()).await.status(), 200);
    let v: Value = get(deleted_slug, root_token).await.json().await.unwrap();
    assert_eq!(v["status"], "deleted");
    app.shutdown().await;
}
