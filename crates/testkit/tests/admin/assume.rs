//! `POST /admin/assume-identity`: the ordered refusals, the token (acts as the target, cannot touch the
//! target's credentials or sessions, expires after `ASSUMED_IDENTITY_EXPIRE_MINUTES`), the audit trail
//! and the `assume` limit.

use reqwest::Method;
use serde_json::{Value, json};
use tenantry_services::auth::{AccessClaims, AssumedIdentity, TokenKeys};
use tenantry_testkit::TestApp;
use uuid::Uuid;

use crate::support::*;

async fn assume(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    request(
        app,
        Method::POST,
        "/api/v1/admin/assume-identity",
        None,
        Some(token),
        Some(body),
    )
    .await
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn refusals_come_in_the_contract_order() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let (op_id, op_email) = user(&app, "root-", true).await;
    let token = admin_login(&app, &op_email).await;
    let target = account(&app, "member").await;
    let (inactive_id, _) = user(&app, "inactive-", false).await;
    join(&app, inactive_id, target.tenant_id, "member").await;
    // Inactive and a superuser: inactivity is reported first.
    exec(
        &app,
        "UPDATE public.users SET is_active = false, is_superuser = true WHERE id = $1",
        inactive_id,
    )
    .await;
    let (other_su, _) = user(&app, "root2-", true).await;
    join(&app, other_su, target.tenant_id, "member").await;
    let (deleted, _) = tenant_in(&app, "deleted").await;
    join(&app, target.user_id, deleted, "member").await;
    let (failed, _) = tenant_in(&app, "failed").await;
    let (provisioning, _) = tenant_in(&app, "provisioning").await;
    let (outside, _) = tenant(&app).await;
    let (left, _) = tenant(&app).await;
    join(&app, target.user_id, left, "member").await;
    exec(
        &app,
        "UPDATE public.user_tenant_membership SET is_active = false WHERE tenant_id = $1",
        left,
    )
    .await;
    // `ready` with `is_active` false cannot exist (ck_tenants_active): "inactive" covers `failed` and
    // a tenant that is active but not ready yet.
    let missing = Uuid::now_v7();

    let cases: Vec<(&str, Uuid, Uuid, &str)> = vec![
        ("no such user", missing, missing, "Target user not found"),
        ("inactive", inactive_id, missing, "Target user is inactive"),
        (
            "another superuser",
            other_su,
            missing,
            "Cannot assume identity of another superuser",
        ),
        (
            "the operator",
            op_id,
            target.tenant_id,
            "Cannot assume identity of another superuser",
        ),
        (
            "no such tenant",
            target.user_id,
            missing,
            "Tenant not found",
        ),
        (
            "deleted tenant",
            target.user_id,
            deleted,
            "Tenant not found",
        ),
        (
            "failed tenant",
            target.user_id,
            failed,
            "Tenant is inactive",
        ),
        (
            "provisioning tenant",
            target.user_id,
            provisioning,
            "Tenant is inactive",
        ),
        (
            "not a member",
            target.user_id,
            outside,
            "Target user does not have access to this tenant",
        ),
        (
            "inactive membership",
            target.user_id,
            left,
            "Target user does not have access to this tenant",
        ),
    ];
    for (case, target_user_id, tenant_id, detail) in &cases {
        let resp = assume(
            &app,
            &token,
            &json!({ "target_user_id": target_user_id, "tenant_id": tenant_id, "reason": case }),
        )
        .await;
        assert_eq!(
            status_detail(resp).await,
            (400, (*detail).to_owned()),
            "{case}"
        );
    }
    // Only granted identities are audited: the refusals left no row.
    let rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.audit_logs WHERE action = 'identity.assumed'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows, 0);

    // Body validation (422) comes before any decision.
    let resp = assume(
        &app,
        &token,
        &json!({ "tenant_id": "nope", "reason": "x".repeat(501) }),
    )
    .await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["detail"],
        "target_user_id: Field required; tenant_id: Invalid UUID; reason: Must be at most 500 characters"
    );
    let resp = assume(
        &app,
        &token,
        &json!({ "target_user_id": target.user_id, "tenant_id": target.tenant_id, "reason": 7 }),
    )
    .await;
    assert_eq!(resp.status(), 422);
    // With every rule met, the same operator succeeds.
    let resp = assume(
        &app,
        &token,
        &json!({ "target_user_id": target.user_id, "tenant_id": target.tenant_id }),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        claims(v["access_token"].as_str().unwrap())["assumed_identity"]["reason"],
        Value::Null
    );
    // Non-superusers are refused before the body is read.
    let member_token = login(&app, &target.slug, &target.email).await;
    let resp = assume(&app, &member_token, &json!({})).await;
    assert_eq!(
        status_detail(resp).await,
        (403, "Superuser privileges required".into())
    );
    app.shutdown().await;
}

#[tokio::test]
async fn an_assumed_identity_acts_as_the_target_within_limits_and_expires() {
    let app = TestApp::builder()
        .without_worker()
        .env("ASSUMED_IDENTITY_EXPIRE_MINUTES", "1")
        .spawn()
        .await
        .unwrap();
    let (op_id, op_email) = user(&app, "root-", true).await;
    let op_token = admin_login(&app, &op_email).await;
    let target = account(&app, "admin").await;
    let target_token = login(&app, &target.slug, &target.email).await;
    let reason = "Ticket 4711: invoices page broken";

    let resp = assume(
        &app,
        &op_token,
        &json!({ "target_user_id": target.user_id, "tenant_id": target.tenant_id, "reason": reason }),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["pragma"], "no-cache");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        keys(&body),
        [
            "access_token",
            "assumed_user_email",
            "assumed_user_id",
            "expires_in",
            "tenant_id",
            "tenant_slug",
            "token_type"
        ]
    );
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 60);
    assert_eq!(body["assumed_user_id"], target.user_id.to_string());
    assert_eq!(body["assumed_user_email"], target.email.as_str());
    assert_eq!(body["tenant_id"], target.tenant_id.to_string());
    assert_eq!(body["tenant_slug"], target.slug.as_str());
    let assumed = body["access_token"].as_str().unwrap().to_owned();

    // The claims: an assumed-access token for the target, no session, one minute.
    let c = claims(&assumed);
    assert_eq!(c["type"], "assumed_access");
    assert_eq!(c["sub"], target.user_id.to_string());
    assert_eq!(c["tenant_id"], target.tenant_id.to_string());
    assert!(c.get("sid").is_none(), "{c}");
    assert!(c["jti"].is_string());
    assert_eq!(c["iss"], "tenantry");
    let iat = c["iat"].as_u64().unwrap();
    assert_eq!(c["exp"].as_u64().unwrap(), iat + 60);
    assert!(iat.abs_diff(now()) <= 5);
    assert_eq!(c["assumed_identity"]["operator_user_id"], op_id.to_string());
    assert_eq!(c["assumed_identity"]["reason"], reason);
    assert_eq!(c["assumed_identity"]["started_at"], iat);

    // The `identity.assumed` row: operator, target, body tenant.
    let (tenant_id, user_id, entity_type, entity_id, status, changes, assumed_by): (
        Option<Uuid>,
        Option<Uuid>,
        String,
        Option<Uuid>,
        String,
        Value,
        Option<Uuid>,
    ) = sqlx::query_as(
        "SELECT tenant_id, user_id, entity_type, entity_id, status, changes, assumed_by_user_id \
         FROM public.audit_logs WHERE action = 'identity.assumed'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(tenant_id, Some(target.tenant_id));
    assert_eq!(user_id, Some(op_id));
    assert_eq!(entity_type, "user");
    assert_eq!(entity_id, Some(target.user_id));
    assert_eq!(status, "success");
    assert_eq!(assumed_by, None);
    assert_eq!(
        changes,
        json!({
            "assumed_user_id": target.user_id,
            "tenant_id": target.tenant_id,
            "reason": reason,
            "expires_in_seconds": 60,
        })
    );

    // It acts as the target in the target's tenant.
    let resp = get(&app, "/api/v1/users/me", Some(&target.slug), &assumed).await;
    assert_eq!(resp.status(), 200);
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["id"], target.user_id.to_string());
    assert_eq!(me["email"], target.email.as_str());
    let resp = get(&app, "/api/v1/audit/logs", Some(&target.slug), &assumed).await;
    assert_eq!(
        resp.status(),
        200,
        "admin endpoints follow the target's role"
    );

    // Every row it causes names the operator.
    let resp = request(
        &app,
        Method::PATCH,
        "/api/v1/users/me",
        Some(&target.slug),
        Some(&assumed),
        Some(&json!({ "full_name": "Renamed By Support" })),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (user_id, tenant_id, assumed_by, changes): (
        Option<Uuid>,
        Option<Uuid>,
        Option<Uuid>,
        Value,
    ) = sqlx::query_as(
        "SELECT user_id, tenant_id, assumed_by_user_id, changes FROM public.audit_logs \
             WHERE action = 'user.update'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(user_id, Some(target.user_id));
    assert_eq!(tenant_id, Some(target.tenant_id));
    assert_eq!(assumed_by, Some(op_id));
    assert_eq!(
        changes["_assumed_identity"],
        json!({ "operator_user_id": op_id, "reason": reason })
    );

    // Credentials and sessions of the target are out of reach.
    let forbidden = "Not permitted while using an assumed identity";
    let resp = request(
        &app,
        Method::POST,
        "/api/v1/users/me/password",
        None,
        Some(&assumed),
        Some(&json!({ "current_password": PASSWORD, "new_password": "quartz-Meadow-71-compass" })),
    )
    .await;
    assert_eq!(status_detail(resp).await, (403, forbidden.into()));
    let resp = get(&app, "/api/v1/users/me/sessions", None, &assumed).await;
    assert_eq!(status_detail(resp).await, (403, forbidden.into()));
    let target_sid = claims(&target_token)["sid"].as_str().unwrap().to_owned();
    let resp = request(
        &app,
        Method::DELETE,
        &format!("/api/v1/users/me/sessions/{target_sid}"),
        None,
        Some(&assumed),
        None,
    )
    .await;
    assert_eq!(status_detail(resp).await, (403, forbidden.into()));
    let resp = request(
        &app,
        Method::POST,
        "/api/v1/auth/logout-all",
        None,
        Some(&assumed),
        None,
    )
    .await;
    assert_eq!(status_detail(resp).await, (403, forbidden.into()));
    // Nothing happened to the target's own session.
    assert_eq!(
        get(&app, "/api/v1/users/me", Some(&target.slug), &target_token)
            .await
            .status(),
        200
    );
    // Bound to its tenant: another tenant of the target is refused.
    let (other, other_slug) = tenant(&app).await;
    join(&app, target.user_id, other, "member").await;
    let resp = get(&app, "/api/v1/users/me", Some(&other_slug), &assumed).await;
    assert_eq!(
        status_detail(resp).await,
        (403, "Token tenant does not match request tenant".into())
    );

    // Expiry: the same claims signed with an `exp` in the past are refused (no leeway).
    let keys = TokenKeys::from_settings(&app.settings).unwrap();
    let t = now();
    let expired = AccessClaims {
        sub: Some(target.user_id.to_string()),
        tenant_id: Some(target.tenant_id.to_string()),
        sid: None,
        token_type: Some("assumed_access".into()),
        jti: Some(Uuid::now_v7().to_string()),
        iat: t - 61,
        exp: t - 1,
        iss: app.settings.jwt_issuer.clone(),
        assumed_identity: Some(AssumedIdentity {
            operator_user_id: Some(op_id.to_string()),
            reason: Some(reason.into()),
            started_at: Some(t - 61),
        }),
    };
    let expired = keys.sign(&expired).unwrap();
    let resp = get(&app, "/api/v1/users/me", Some(&target.slug), &expired).await;
    assert_eq!(
        status_detail(resp).await,
        (401, "Invalid or expired token".into())
    );

    // The operator losing superuser rights ends the assumed identity at once.
    exec(
        &app,
        "UPDATE public.users SET is_superuser = false WHERE id = $1",
        op_id,
    )
    .await;
    let resp = get(&app, "/api/v1/users/me", Some(&target.slug), &assumed).await;
    assert_eq!(
        status_detail(resp).await,
        (
            401,
            "Assumed identity not authorized - operator is not a superuser".into()
        )
    );
    app.shutdown().await;
}

/// Found by scripts/api-schema: a `reason` holding U+0000 went into the audit row's jsonb `changes`, which
/// cannot hold it, and the request answered 500. Now a 422 before anything is decided or written.
#[tokio::test]
async fn a_reason_with_a_nul_character_is_a_422_not_a_500() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let (_, op_email) = user(&app, "root-", true).await;
    let token = admin_login(&app, &op_email).await;
    let target = account(&app, "member").await;
    let body = json!({"target_user_id": target.user_id, "tenant_id": target.tenant_id, "reason": "ticket\u{0}42"});
    let resp = assume(&app, &token, &body).await;
    assert_eq!(
        status_detail(resp).await,
        (422, "reason: Must not contain NUL characters".to_owned())
    );
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.audit_logs WHERE action = 'identity.assumed'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(n, 0);
    app.shutdown().await;
}

#[tokio::test]
async fn the_eleventh_assumption_in_a_minute_is_refused() {
    let app = TestApp::builder()
        .without_worker()
        .env("RATE_LIMIT_ENABLED", "true")
        .spawn()
        .await
        .unwrap();
    let (_, op_email) = user(&app, "root-", true).await;
    let (_, other_email) = user(&app, "root2-", true).await;
    let target = account(&app, "member").await;
    let op = admin_login(&app, &op_email).await;
    let other = admin_login(&app, &other_email).await;
    let body = json!({ "target_user_id": target.user_id, "tenant_id": target.tenant_id });
    for i in 0..10 {
        let resp = assume(&app, &op, &body).await;
        assert_eq!(resp.status(), 200, "call {i}");
        assert_eq!(resp.headers()["ratelimit-limit"], "10");
        assert_eq!(
            resp.headers()["ratelimit-remaining"],
            (9 - i).to_string().as_str()
        );
    }
    let resp = assume(&app, &op, &body).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Too many requests");
    // The budget is the operator's: another superuser is unaffected.
    assert_eq!(assume(&app, &other, &body).await.status(), 200);
    // Refused calls decide nothing and write nothing.
    let rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.audit_logs WHERE action = 'identity.assumed'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows, 11);
    app.shutdown().await;
}
