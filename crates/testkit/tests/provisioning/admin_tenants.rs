//! `POST /tenants`: superuser-created tenants, with and without an owner invite.

use std::time::Duration;

use serde_json::{Value, json};
use tenantry_testkit::TestApp;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_superuser_creates_a_tenant_whose_provisioning_ends_with_an_owner_invite() {
    let app = TestApp::spawn().await.unwrap();
    let su = app
        .create_user("root@example.com", PASSWORD, true)
        .await
        .unwrap();
    let (_, token) = app.session_token(su, None).await.unwrap();
    let slug = unique("made-");
    let create = |body: Value| {
        app.http
            .post(app.url("/api/v1/tenants"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };

    let r =
        create(json!({"name": "Made By Admin", "slug": slug, "owner_email": "Boss@Example.com"}))
            .await
            .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"workflow_id": format!("tenant-provision-{slug}"), "slug": slug, "status": "provisioning"})
    );
    wait_status(&app, &slug, "ready", Duration::from_secs(60)).await;
    wait_execution(&app, &format!("tenant-provision-{slug}"), "completed").await;
    let tenant = tenant_id(&app, &slug).await;
    assert_eq!(count(&app, &format!(
        "SELECT count(*) FROM public.tenant_invites WHERE tenant_id = '{tenant}' AND email = 'boss@example.com' AND role = 'admin' AND status = 'pending' AND invited_by_user_id = '{su}'"
    )).await, 1);
    assert_eq!(count(&app, &format!("SELECT count(*) FROM public.tenants WHERE id = '{tenant}' AND origin = 'admin' AND claimed_at IS NOT NULL")).await, 1);
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM public.user_tenant_membership WHERE tenant_id = '{tenant}'"
            )
        )
        .await,
        0
    );
    // The invite email is delivered by the workflow after `ready`, with a link to the console.
    let delivered = async {
        loop {
            let mail: Value = app
                .get("/dev/mailbox?to=boss@example.com")
                .await
                .json()
                .await
                .unwrap();
            if let Some(item) = mail["items"]
                .as_array()
                .and_then(|i| i.first())
                .filter(|i| !i["sent_at"].is_null())
            {
                return item.clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let item = tokio::time::timeout(Duration::from_secs(30), delivered)
        .await
        .expect("invite delivered");
    assert_eq!(item["kind"], "invite");
    assert_eq!(item["subject"], "You've been invited to join Made By Admin");
    let token_text = item["token"].as_str().unwrap();
    assert_eq!(
        item["action_url"],
        format!("http://app.test/accept-invite?token={token_text}")
    );
    assert_eq!(count(&app, &format!("SELECT count(*) FROM public.audit_logs WHERE tenant_id = '{tenant}' AND action = 'tenant.create'")).await, 1);

    // Same slug again, and the normalized twin: 409. A plain account: 403.
    let r = create(json!({"name": "Again", "slug": slug}))
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let plain = app
        .create_user("plain@example.com", PASSWORD, false)
        .await
        .unwrap();
    let (_, plain_token) = app.session_token(plain, None).await.unwrap();
    let r = app
        .http
        .post(app.url("/api/v1/tenants"))
        .bearer_auth(&plain_token)
        .json(&json!({"name": "X", "slug": unique("x-")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_without_an_owner_is_provisioned_with_no_invite_and_no_membership() {
    let app = TestApp::spawn().await.unwrap();
    let su = app
        .create_user("root@example.com", PASSWORD, true)
        .await
        .unwrap();
    let (_, token) = app.session_token(su, None).await.unwrap();
    let slug = unique("bare-");
    let r = app
        .http
        .post(app.url("/api/v1/tenants"))
        .bearer_auth(&token)
        .json(&json!({"name": "Bare", "slug": slug}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    wait_status(&app, &slug, "ready", Duration::from_secs(60)).await;
    assert_eq!(
        count(&app, "SELECT count(*) FROM public.tenant_invites").await,
        0
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM public.user_tenant_membership").await,
        0
    );
    let r = app
        .http
        .post(app.url("/api/v1/tenants"))
        .bearer_auth(&token)
        .json(&json!({"name": "", "slug": "Bad"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"].as_array().unwrap().len(), 2, "{v}");
    app.shutdown().await;
}

/// Found by scripts/api-schema: a tenant name holding U+0000 reached PostgreSQL, which cannot store it (500).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_name_with_a_nul_character_is_a_422_not_a_500() {
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    let su = app
        .create_user("root@example.com", PASSWORD, true)
        .await
        .unwrap();
    let (_, token) = app.session_token(su, None).await.unwrap();
    let r = app
        .http
        .post(app.url("/api/v1/tenants"))
        .bearer_auth(&token)
        .json(&json!({"name": "Nul\u{0}Co", "slug": unique("nul-")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["detail"], "name: Must not contain NUL characters");
    assert_eq!(count(&app, "SELECT count(*) FROM public.tenants").await, 0);
    app.shutdown().await;
}
