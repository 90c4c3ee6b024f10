//! Tenant deletion: through the outbox and the deletion workflow, idempotent, and final for every
//! tenant-scoped request.

use std::time::Duration;

use serde_json::{Value, json};
use tenantry_testkit::TestApp;

use crate::common::*;

async fn owner_of(app: &TestApp, email: &str) -> uuid::Uuid {
    sqlx::query_scalar("SELECT id FROM public.users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn delete_own(
    app: &TestApp,
    slug: &str,
    header: &str,
    token: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    app.http
        .delete(app.url(&format!("/api/v1/tenants/{slug}")))
        .header("x-tenant-slug", header)
        .bearer_auth(token)
        .json(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_deletes_their_tenant_and_it_is_gone_for_every_tenant_request() {
    let app = TestApp::spawn().await.unwrap();
    let slug = unique("doomed-");
    assert_eq!(
        register(&app, "owner@example.com", &slug).await.status(),
        202
    );
    wait_status(&app, &slug, "ready", Duration::from_secs(60)).await;
    let tenant = tenant_id(&app, &slug).await;
    let owner = owner_of(&app, "owner@example.com").await;
    let (sid, token) = app.session_token(owner, Some(tenant)).await.unwrap();

    // Refusals first: they change nothing.
    let r = delete_own(
        &app,
        "other-slug",
        &slug,
        &token,
        &json!({"password": PASSWORD, "confirm": slug}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"],
        "Path slug does not match X-Tenant-Slug"
    );
    let r = delete_own(
        &app,
        &slug,
        &slug,
        &token,
        &json!({"password": PASSWORD, "confirm": "nope"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"],
        "confirm: Must equal the tenant slug"
    );
    let r = delete_own(
        &app,
        &slug,
        &slug,
        &token,
        &json!({"password": "wrong-password-1", "confirm": slug}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"],
        "Current password is incorrect"
    );
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/tenants/{slug}")))
        .header("x-tenant-slug", &slug)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");

    let r = delete_own(
        &app,
        &slug,
        &slug,
        &token,
        &json!({"password": PASSWORD, "confirm": slug}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"status": "deletion_started", "workflow_id": format!("tenant-deletion-{tenant}")})
    );

    // From that moment every tenant-scoped request answers 410.
    let r = delete_own(
        &app,
        &slug,
        &slug,
        &token,
        &json!({"password": PASSWORD, "confirm": slug}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 410);
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"],
        "Tenant has been deleted"
    );

    let deleted = async {
        loop {
            let s: String = sqlx::query_scalar("SELECT status FROM public.tenants WHERE id = $1")
                .bind(tenant)
                .fetch_one(&app.pool)
                .await
                .unwrap();
            if s == "deleted" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), deleted)
        .await
        .expect("tenant deleted");
    assert!(!schema_exists(&app, &format!("tenant_{}", slug.replace('-', "_"))).await);
    let revoked: Option<String> = sqlx::query_scalar(
        "SELECT revoked_reason FROM public.refresh_token_families WHERE id = $1",
    )
    .bind(sid)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(revoked.as_deref(), Some("tenant_deleted"));
    wait_execution(&app, &format!("tenant-deletion-{tenant}"), "completed").await;
    // The public view hides deleted tenants; memberships and audit history stay.
    assert_eq!(
        app.get(&format!("/api/v1/tenants/{slug}/provisioning"))
            .await
            .status(),
        404
    );
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM public.user_tenant_membership WHERE tenant_id = '{tenant}'"
            )
        )
        .await,
        1
    );
    assert_eq!(count(&app, &format!("SELECT count(*) FROM public.audit_logs WHERE tenant_id = '{tenant}' AND action = 'tenant.delete'")).await, 1);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_tenant_twice_returns_the_same_workflow_and_starts_one_deletion() {
    let mut app = TestApp::builder().without_worker().spawn().await.unwrap();
    let slug = unique("twice-");
    assert_eq!(register(&app, "t@example.com", &slug).await.status(), 202);
    let tenant = tenant_id(&app, &slug).await;
    // Ready without a worker: the deletion path does not care how the tenant got there.
    sqlx::query("UPDATE public.tenants SET status = 'ready' WHERE id = $1")
        .bind(tenant)
        .execute(&app.pool)
        .await
        .unwrap();
    let su = app
        .create_user("root@example.com", PASSWORD, true)
        .await
        .unwrap();
    let (_, token) = app.session_token(su, None).await.unwrap();
    let (http, url) = (
        app.http.clone(),
        app.url(&format!("/api/v1/admin/tenants/{tenant}")),
    );
    let del = || http.delete(&url).bearer_auth(&token).send();

    let first: Value = del().await.unwrap().json().await.unwrap();
    let second = del().await.unwrap();
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert_eq!(
        first,
        json!({"status": "deletion_started", "workflow_id": format!("tenant-deletion-{tenant}")})
    );
    assert_eq!(first, second);
    assert_eq!(count(&app, "SELECT count(*) FROM public.workflow_start_requests WHERE workflow_type = 'TenantDeletion'").await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM public.audit_logs WHERE action = 'tenant.delete'"
        )
        .await,
        1
    );

    app.start_worker().unwrap();
    wait_execution(&app, &format!("tenant-deletion-{tenant}"), "completed").await;
    let r = del().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"],
        "Tenant already deleted"
    );

    // Non-superusers and unknown or malformed ids.
    let user = app
        .create_user("plain@example.com", PASSWORD, false)
        .await
        .unwrap();
    let (_, plain) = app.session_token(user, None).await.unwrap();
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/admin/tenants/{tenant}")))
        .bearer_auth(&plain)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"],
        "Superuser privileges required"
    );
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/admin/tenants/{}", uuid::Uuid::now_v7())))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .http
        .delete(app.url("/api/v1/admin/tenants/not-a-uuid"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"],
        "tenant_id: Invalid UUID"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioning_tenant_cannot_be_deleted_and_superusers_see_its_status() {
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    let slug = unique("young-");
    assert_eq!(register(&app, "y@example.com", &slug).await.status(), 202);
    let tenant = tenant_id(&app, &slug).await;
    let su = app
        .create_user("root@example.com", PASSWORD, true)
        .await
        .unwrap();
    let (_, token) = app.session_token(su, None).await.unwrap();
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/admin/tenants/{tenant}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"],
        "Tenant is still provisioning"
    );

    let r = app
        .http
        .get(app.url(&format!("/api/v1/tenants/{slug}/status")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "provisioning");
    assert_eq!(v["tenant"], Value::Null);
    assert_eq!(
        v["workflow"]["workflow_id"],
        format!("tenant-provision-{slug}")
    );
    assert_eq!(v["workflow"]["status"], "pending");
    let r = app
        .http
        .get(app.url("/api/v1/tenants/nope/status"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"],
        "Tenant 'nope' not found"
    );
    // Tenant-scoped requests to a tenant still provisioning answer 503 with its status.
    let owner = owner_of(&app, "y@example.com").await;
    let (_, member) = app.session_token(owner, Some(tenant)).await.unwrap();
    let r = delete_own(
        &app,
        &slug,
        &slug,
        &member,
        &json!({"password": PASSWORD, "confirm": slug}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"],
        "Tenant is provisioning"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_deletion_takes_every_tenant_of_a_status_once_and_validates_its_query() {
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    let mut ready = Vec::new();
    for i in 0..3 {
        let slug = unique(&format!("bulk{i}-"));
        assert_eq!(
            register(&app, &format!("b{i}@example.com"), &slug)
                .await
                .status(),
            202
        );
        ready.push(tenant_id(&app, &slug).await);
    }
    let young = unique("bulk-young-");
    assert_eq!(
        register(&app, "young@example.com", &young).await.status(),
        202
    );
    for id in &ready {
        sqlx::query("UPDATE public.tenants SET status = 'ready' WHERE id = $1")
            .bind(id)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let su = app
        .create_user("root@example.com", PASSWORD, true)
        .await
        .unwrap();
    let (_, token) = app.session_token(su, None).await.unwrap();
    let call = |query: &str| {
        app.http
            .delete(app.url(&format!("/api/v1/admin/tenants{query}")))
            .bearer_auth(&token)
            .send()
    };

    for (query, detail) in [
        ("?confirm=true", "status: Field required"),
        (
            "?status=deleting&confirm=true",
            "status: Must be one of: ready, failed",
        ),
        ("?status=ready", "confirm: Field required"),
        ("?status=ready&confirm=yes", "confirm: Must be true"),
    ] {
        let r = call(query).await.unwrap();
        assert_eq!(r.status(), 422, "{query}");
        assert_eq!(
            r.json::<Value>().await.unwrap()["detail"],
            detail,
            "{query}"
        );
    }
    let v: Value = call("?status=ready&confirm=true")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "deletion_started");
    assert_eq!(v["count"], 3);
    assert_eq!(v["has_more"], false);
    let mut ids: Vec<String> = v["workflow_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut want: Vec<String> = ready
        .iter()
        .map(|id| format!("tenant-deletion-{id}"))
        .collect();
    want.sort();
    assert_eq!(ids, want);
    // A second call finds nothing left of that status; the provisioning tenant was never touched.
    let again: Value = call("?status=ready&confirm=true")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["count"], 0);
    assert_eq!(count(&app, "SELECT count(*) FROM public.workflow_start_requests WHERE workflow_type = 'TenantDeletion'").await, 3);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM public.audit_logs WHERE action = 'tenant.delete'"
        )
        .await,
        3
    );
    assert_eq!(provisioning_status(&app, &young).await["status"], "pending");
    app.shutdown().await;
}
