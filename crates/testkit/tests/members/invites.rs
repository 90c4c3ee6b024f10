//! Invites: lifecycle, one pending invite per address, and the public accept flow for new and existing
//! accounts, including two concurrent accepts of one invite.

use reqwest::Method;
use serde_json::{Value, json};
use tenantry_testkit::TestApp;
use uuid::Uuid;

use crate::support::*;

async fn invite(
    app: &TestApp,
    a: &Account,
    token: &str,
    email: &str,
    role: &str,
) -> reqwest::Response {
    request(
        app,
        Method::POST,
        "/api/v1/invites",
        Some(&a.slug),
        Some(token),
        Some(&json!({"email": email, "role": role})),
    )
    .await
}

async fn accept(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post_json(&format!("/api/v1/invites/t/{token}/accept"), &body)
        .await
}

async fn pending(app: &TestApp, tenant: Uuid, email: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM public.tenant_invites WHERE tenant_id = $1 AND email = $2 AND status = 'pending'")
        .bind(tenant)
        .bind(email)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_invite_lives_pending_resent_cancelled_and_one_pending_per_address() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let (_, admin) = app
        .session_token(a.user_id, Some(a.tenant_id))
        .await
        .unwrap();
    let guest = format!("{}@example.com", unique("guest-"));

    let resp = invite(&app, &a, &admin, &guest.to_uppercase(), "member").await;
    assert_eq!(resp.status(), 201);
    let first: Value = resp.json().await.unwrap();
    assert_eq!(first["message"], "Invite sent successfully");
    assert_eq!(first["email"], guest.as_str(), "emails are normalized");
    let first_token = mailbox_token(&app, &guest, "invite").await;
    // Concurrent creates for one address: always exactly one pending invite afterwards.
    let creates = (0..5).map(|_| invite(&app, &a, &admin, &guest, "admin"));
    for r in futures::future::join_all(creates).await {
        assert_eq!(r.status(), 201);
    }
    assert_eq!(pending(&app, a.tenant_id, &guest).await, 1);
    let resp = app.get(&format!("/api/v1/invites/t/{first_token}")).await;
    assert_eq!(resp.status(), 404, "the replaced invite's link is dead");

    let list: Value = request(
        &app,
        Method::GET,
        "/api/v1/invites",
        Some(&a.slug),
        Some(&admin),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let id = items[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(items[0]["status"], "pending");
    assert_eq!(items[0]["role"], "admin");
    let all: Value = request(
        &app,
        Method::GET,
        "/api/v1/invites?status=all",
        Some(&a.slug),
        Some(&admin),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 6);
    let resp = request(
        &app,
        Method::GET,
        "/api/v1/invites?status=open",
        Some(&a.slug),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["detail"],
        "status: Must be one of: pending, accepted, cancelled, expired, all"
    );

    // Resend: a new invite replaces it.
    let resp = request(
        &app,
        Method::PUT,
        &format!("/api/v1/invites/{id}"),
        Some(&a.slug),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resent: Value = resp.json().await.unwrap();
    assert_eq!(resent["message"], "Invite resent successfully");
    assert_ne!(resent["id"], id.as_str());
    assert_eq!(pending(&app, a.tenant_id, &guest).await, 1);
    let old: Value = request(
        &app,
        Method::GET,
        &format!("/api/v1/invites/{id}"),
        Some(&a.slug),
        Some(&admin),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(old["status"], "cancelled");
    let resp = request(
        &app,
        Method::DELETE,
        &format!("/api/v1/invites/{id}"),
        Some(&a.slug),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Cannot cancel invite with status: cancelled");
    let new_id = resent["id"].as_str().unwrap();
    let resp = request(
        &app,
        Method::DELETE,
        &format!("/api/v1/invites/{new_id}"),
        Some(&a.slug),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(pending(&app, a.tenant_id, &guest).await, 0);

    // Expired invites read `expired`; other tenants' invites are not found.
    invite(&app, &a, &admin, &guest, "member").await;
    sqlx::query("UPDATE public.tenant_invites SET expires_at = now() - interval '1 second' WHERE status = 'pending'")
        .execute(&app.pool)
        .await
        .unwrap();
    let expired: Value = request(
        &app,
        Method::GET,
        "/api/v1/invites?status=expired",
        Some(&a.slug),
        Some(&admin),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(expired["items"].as_array().unwrap().len(), 1);
    let b = account(&app).await;
    let (_, b_admin) = app
        .session_token(b.user_id, Some(b.tenant_id))
        .await
        .unwrap();
    let resp = request(
        &app,
        Method::GET,
        &format!("/api/v1/invites/{new_id}"),
        Some(&b.slug),
        Some(&b_admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Invite not found");
    // Members of the tenant cannot be invited again.
    let resp = invite(&app, &a, &admin, &a.email, "member").await;
    assert_eq!(resp.status(), 409);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "User is already a member of this tenant");
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT action FROM public.audit_logs WHERE entity_type = 'invite' AND tenant_id = $1 ORDER BY 1",
    )
    .bind(a.tenant_id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        actions,
        vec!["invite.cancel", "invite.create", "invite.resend"]
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_new_account_accepts_once_even_when_two_accept_at_the_same_time() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let (_, admin) = app
        .session_token(a.user_id, Some(a.tenant_id))
        .await
        .unwrap();
    let guest = format!("{}@example.com", unique("new-"));
    invite(&app, &a, &admin, &guest, "member").await;
    let token = mailbox_token(&app, &guest, "invite").await;

    let info: Value = app
        .get(&format!("/api/v1/invites/t/{token}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["account_exists"], false);
    assert_eq!(info["tenant_slug"], a.slug.as_str());
    assert_eq!(app.get("/api/v1/invites/t/garbage").await.status(), 404);

    let resp = accept(&app, &token, json!({"email": guest, "password": PASSWORD})).await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["detail"],
        "full_name: Full name is required to create an account"
    );
    let resp = accept(
        &app,
        &token,
        json!({"email": "someone-else@example.com", "password": PASSWORD, "full_name": "X"}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Email does not match invite");
    let resp = accept(
        &app,
        &token,
        json!({"email": guest, "password": "password1", "full_name": "Lin"}),
    )
    .await;
    assert_eq!(resp.status(), 422);

    let body = json!({"email": guest, "password": PASSWORD, "full_name": "Lin Chen"});
    let (r1, r2) = tokio::join!(
        accept(&app, &token, body.clone()),
        accept(&app, &token, body.clone())
    );
    let mut statuses = [r1.status().as_u16(), r2.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400]);
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM public.users WHERE email = '{guest}'")
        )
        .await,
        1
    );
    let (user_id, verified): (Uuid, bool) = sqlx::query_as(
        "SELECT id, email_verified_at IS NOT NULL FROM public.users WHERE email = $1",
    )
    .bind(&guest)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(verified);
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM public.user_tenant_membership WHERE user_id = '{user_id}'"
            )
        )
        .await,
        1
    );
    let input: Value = sqlx::query_scalar(
        "SELECT input FROM public.workflow_start_requests WHERE workflow_id = $1",
    )
    .bind(format!("user-onboarding-{user_id}"))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(input, json!({"user_id": user_id, "tenant_id": null}));
    let resp = accept(&app, &token, body).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Invalid or expired invite token");
    // The new account logs in.
    assert_eq!(
        login_as(&app, &a.slug, &guest, PASSWORD).await.status(),
        200
    );
    assert_eq!(audit_count(&app, "invite.accept", user_id).await, 1);
    app.shutdown().await;
}

#[tokio::test]
async fn an_existing_account_proves_its_password_and_an_inactive_membership_is_reactivated() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let (_, admin) = app
        .session_token(a.user_id, Some(a.tenant_id))
        .await
        .unwrap();
    let b = account(&app).await; // b's user exists elsewhere
    join(&app, b.user_id, a.tenant_id, "member").await;
    sqlx::query("UPDATE public.user_tenant_membership SET is_active = false WHERE user_id = $1 AND tenant_id = $2")
        .bind(b.user_id)
        .bind(a.tenant_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let resp = invite(&app, &a, &admin, &b.email, "admin").await;
    assert_eq!(resp.status(), 201);
    let token = mailbox_token(&app, &b.email, "invite").await;
    let info: Value = app
        .get(&format!("/api/v1/invites/t/{token}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["account_exists"], true);
    let resp = accept(
        &app,
        &token,
        json!({"email": b.email, "password": "wrong-password-123"}),
    )
    .await;
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Invalid credentials");
    let resp = accept(
        &app,
        &token,
        json!({"email": b.email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"message": "Joined tenant successfully", "tenant_slug": a.slug, "user_id": b.user_id})
    );
    let (role, active): (String, bool) = sqlx::query_as(
        "SELECT role, is_active FROM public.user_tenant_membership WHERE user_id = $1 AND tenant_id = $2",
    )
    .bind(b.user_id)
    .bind(a.tenant_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((role.as_str(), active), ("admin", true));

    // An active member's invite stays pending and answers 409; a tenant being deleted refuses.
    let c = account(&app).await;
    let resp = invite(&app, &a, &admin, &c.email, "member").await;
    assert_eq!(resp.status(), 201);
    let c_token = mailbox_token(&app, &c.email, "invite").await;
    join(&app, c.user_id, a.tenant_id, "member").await;
    let resp = accept(
        &app,
        &c_token,
        json!({"email": c.email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(resp.status(), 409);
    assert_eq!(pending(&app, a.tenant_id, &c.email).await, 1);
    sqlx::query("DELETE FROM public.user_tenant_membership WHERE user_id = $1 AND tenant_id = $2")
        .bind(c.user_id)
        .bind(a.tenant_id)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE public.tenants SET status = 'deleting', is_active = false, deleted_at = now() WHERE id = $1")
        .bind(a.tenant_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let resp = accept(
        &app,
        &c_token,
        json!({"email": c.email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Tenant is no longer available");
    assert_eq!(
        app.get(&format!("/api/v1/invites/t/{c_token}"))
            .await
            .status(),
        404
    );
    app.shutdown().await;
}

/// Found by scripts/api-schema: a full name holding U+0000 reached PostgreSQL when a new account accepted an
/// invite, and the answer was a 500. Now a 422; the invite stays pending and no account is created.
#[tokio::test]
async fn a_new_account_with_a_nul_character_in_its_name_is_a_422_not_a_500() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let (_, admin) = app
        .session_token(a.user_id, Some(a.tenant_id))
        .await
        .unwrap();
    let guest = format!("{}@example.com", unique("nul-"));
    invite(&app, &a, &admin, &guest, "member").await;
    let token = mailbox_token(&app, &guest, "invite").await;
    let resp = accept(
        &app,
        &token,
        json!({"email": guest, "password": PASSWORD, "full_name": "Nul\u{0}"}),
    )
    .await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "full_name: Must not contain NUL characters");
    assert_eq!(pending(&app, a.tenant_id, &guest).await, 1);
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM public.users WHERE email = $1")
        .bind(&guest)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
    app.shutdown().await;
}
