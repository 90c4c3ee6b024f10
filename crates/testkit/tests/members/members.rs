//! `GET/PATCH/DELETE /members`: roles, activation, removal and leaving, and the last-admin rule.

use reqwest::Method;
use serde_json::{Value, json};
use tenantry_testkit::TestApp;
use uuid::Uuid;

use crate::support::*;

async fn patch(
    app: &TestApp,
    a: &Account,
    token: &str,
    user: Uuid,
    body: Value,
) -> reqwest::Response {
    request(
        app,
        Method::PATCH,
        &format!("/api/v1/members/{user}"),
        Some(&a.slug),
        Some(token),
        Some(&body),
    )
    .await
}

async fn remove(app: &TestApp, a: &Account, token: &str, user: Uuid) -> reqwest::Response {
    request(
        app,
        Method::DELETE,
        &format!("/api/v1/members/{user}"),
        Some(&a.slug),
        Some(token),
        None,
    )
    .await
}

/// A second verified user in `a`'s tenant with `role`, and a session token for it.
async fn colleague(app: &TestApp, a: &Account, role: &str) -> (Uuid, String) {
    let email = format!("{}@example.com", unique("colleague-"));
    let id = app.create_user(&email, PASSWORD, false).await.unwrap();
    join(app, id, a.tenant_id, role).await;
    let (_, token) = app.session_token(id, Some(a.tenant_id)).await.unwrap();
    (id, token)
}

#[tokio::test]
async fn two_concurrent_demotions_of_the_last_two_admins_let_exactly_one_through() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    for _ in 0..5 {
        let a = account(&app).await;
        let (_, mine) = app
            .session_token(a.user_id, Some(a.tenant_id))
            .await
            .unwrap();
        let (other, theirs) = colleague(&app, &a, "admin").await;
        // Each admin demotes the other at the same moment.
        let (r1, r2) = tokio::join!(
            patch(&app, &a, &mine, other, json!({"role": "member"})),
            patch(&app, &a, &theirs, a.user_id, json!({"role": "member"})),
        );
        let mut statuses = [r1.status().as_u16(), r2.status().as_u16()];
        statuses.sort_unstable();
        // The loser is refused by the last-admin rule, or, arriving after the winner committed, as no
        // longer an admin.
        assert_eq!(statuses[0], 200, "{statuses:?}");
        assert!(matches!(statuses[1], 403 | 409), "{statuses:?}");
        let admins: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM public.user_tenant_membership WHERE tenant_id = $1 AND role = 'admin' AND is_active",
        )
        .bind(a.tenant_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(admins, 1);
    }
    app.shutdown().await;
}

#[tokio::test]
async fn roles_activation_and_removal_follow_the_rules_and_revoke_sessions() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let (access, _) = login(&app, &a).await;
    let (bob, bob_token) = colleague(&app, &a, "member").await;

    let resp = patch(&app, &a, &access, bob, json!({})).await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["detail"],
        "body: At least one of role, is_active is required"
    );
    let resp = patch(&app, &a, &access, bob, json!({"role": "owner"})).await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "role: Must be one of: admin, member");
    assert_eq!(
        patch(&app, &a, &access, Uuid::now_v7(), json!({"role": "admin"}))
            .await
            .status(),
        404
    );
    let resp = request(
        &app,
        Method::PATCH,
        "/api/v1/members/nope",
        Some(&a.slug),
        Some(&access),
        Some(&json!({"role": "admin"})),
    )
    .await;
    assert_eq!(resp.status(), 422);
    // A member cannot manage others.
    let resp = patch(&app, &a, &bob_token, a.user_id, json!({"role": "member"})).await;
    assert_eq!(resp.status(), 403);
    let resp = remove(&app, &a, &bob_token, a.user_id).await;
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Admin role required for this operation");
    // The only admin cannot demote, deactivate or remove themself.
    for body in [json!({"role": "member"}), json!({"is_active": false})] {
        let resp = patch(&app, &a, &access, a.user_id, body).await;
        assert_eq!(resp.status(), 409);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["detail"], "Cannot remove or demote the last admin");
    }
    assert_eq!(remove(&app, &a, &access, a.user_id).await.status(), 409);

    // Promote, deactivate (sessions in this tenant end), reactivate.
    let resp = patch(&app, &a, &access, bob, json!({"role": "admin"})).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["role"], "admin");
    assert_eq!(v["user_id"], bob.to_string());
    assert_eq!(me(&app, &a.slug, &bob_token).await.status(), 200);
    let resp = patch(&app, &a, &access, bob, json!({"is_active": false})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(me(&app, &a.slug, &bob_token).await.status(), 401);
    let reason: Option<String> = sqlx::query_scalar(
        "SELECT revoked_reason FROM public.refresh_token_families WHERE user_id = $1",
    )
    .bind(bob)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(reason.as_deref(), Some("member_deactivated"));
    // Inactive members are listed only for admins asking for them.
    let listed = |token: String, query: &'static str| {
        let app = &app;
        let slug = a.slug.clone();
        async move {
            let v: Value = request(
                app,
                Method::GET,
                &format!("/api/v1/members{query}"),
                Some(&slug),
                Some(&token),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
            v["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(listed(access.clone(), "").await, 1);
    assert_eq!(listed(access.clone(), "?include_inactive=true").await, 2);
    assert_eq!(
        request(
            &app,
            Method::GET,
            "/api/v1/members?include_inactive=maybe",
            Some(&a.slug),
            Some(&access),
            None
        )
        .await
        .status(),
        422
    );
    assert_eq!(
        patch(&app, &a, &access, bob, json!({"is_active": true}))
            .await
            .status(),
        200
    );
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM public.audit_logs WHERE entity_type = 'membership' AND entity_id = $1 ORDER BY created_at, id",
    )
    .bind(bob)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        actions,
        vec!["member.role_change", "member.deactivate", "member.activate"]
    );

    // With two admins, one may leave; then removal of the other is refused again.
    let (_, bob_token) = app.session_token(bob, Some(a.tenant_id)).await.unwrap();
    assert_eq!(remove(&app, &a, &bob_token, bob).await.status(), 204);
    let resp = me(&app, &a.slug, &bob_token).await;
    assert_eq!(
        resp.status(),
        401,
        "leaving ends the member's sessions in the tenant"
    );
    assert_eq!(remove(&app, &a, &access, bob).await.status(), 404);
    let row: (Option<Uuid>, String) = sqlx::query_as(
        "SELECT entity_id, action FROM public.audit_logs WHERE action = 'member.remove'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(row, (Some(bob), "member.remove".to_owned()));
    // A plain member may leave too.
    let (carol, carol_token) = colleague(&app, &a, "member").await;
    assert_eq!(remove(&app, &a, &carol_token, carol).await.status(), 204);
    app.shutdown().await;
}
