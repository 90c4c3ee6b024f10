//! Every bearer failure of api.md §1.4, in the contract's order, with its status and detail; 401s of
//! these checks carry `WWW-Authenticate: Bearer`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use tenantry_services::auth::{AccessClaims, AssumedIdentity, TokenKeys};
use tenantry_testkit::TestApp;
use uuid::Uuid;

use crate::support::*;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(user: Uuid, tenant: Option<Uuid>, sid: Option<Uuid>) -> AccessClaims {
    AccessClaims {
        sub: Some(user.to_string()),
        tenant_id: tenant.map(|t| t.to_string()),
        sid: sid.map(|s| s.to_string()),
        token_type: Some("access".into()),
        jti: Some(Uuid::now_v7().to_string()),
        iat: now(),
        exp: now() + 600,
        iss: "tenantry".into(),
        assumed_identity: None,
    }
}

async fn expect(
    app: &TestApp,
    path: &str,
    slug: Option<&str>,
    auth: Option<&str>,
    status: u16,
    detail: &str,
) {
    let mut req = app.http.request(
        if path.ends_with("logout-all") {
            Method::POST
        } else {
            Method::GET
        },
        app.url(path),
    );
    if let Some(slug) = slug {
        req = req.header("X-Tenant-Slug", slug);
    }
    if let Some(auth) = auth {
        req = req.header("Authorization", auth);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), status, "{detail}");
    let bearer_401 = status == 401;
    assert_eq!(
        resp.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned()),
        bearer_401.then(|| "Bearer".to_owned()),
        "{detail}"
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], detail);
}

#[tokio::test]
async fn every_bearer_failure_has_its_status_and_detail() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let keys = TokenKeys::from_settings(&app.settings).unwrap();
    let a = account(&app).await;
    let (sid, valid) = app
        .session_token(a.user_id, Some(a.tenant_id))
        .await
        .unwrap();
    let me = "/api/v1/users/me";
    let slug = Some(a.slug.as_str());
    let sign = |c: &AccessClaims| format!("Bearer {}", keys.sign(c).unwrap());
    let base = claims(a.user_id, Some(a.tenant_id), Some(sid));

    expect(
        &app,
        me,
        slug,
        None,
        401,
        "Missing or invalid authorization header",
    )
    .await;
    expect(
        &app,
        me,
        slug,
        Some("Basic dXNlcjpwYXNz"),
        401,
        "Missing or invalid authorization header",
    )
    .await;
    expect(
        &app,
        me,
        slug,
        Some("Bearer "),
        401,
        "Missing or invalid authorization header",
    )
    .await;
    expect(
        &app,
        me,
        slug,
        Some("Bearer not-a-jwt"),
        401,
        "Invalid or expired token",
    )
    .await;
    // A tampered signature, `alg: none`, another issuer, an expired token.
    let mut tampered = valid.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    expect(
        &app,
        me,
        slug,
        Some(&format!("Bearer {tampered}")),
        401,
        "Invalid or expired token",
    )
    .await;
    let none = format!(
        "Bearer {}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&base).unwrap())
    );
    expect(&app, me, slug, Some(&none), 401, "Invalid or expired token").await;
    let mut other_issuer = base.clone();
    other_issuer.iss = "someone-else".into();
    expect(
        &app,
        me,
        slug,
        Some(&sign(&other_issuer)),
        401,
        "Invalid or expired token",
    )
    .await;
    let mut expired = base.clone();
    expired.exp = now() - 1;
    expect(
        &app,
        me,
        slug,
        Some(&sign(&expired)),
        401,
        "Invalid or expired token",
    )
    .await;

    let mut refresh_type = base.clone();
    refresh_type.token_type = Some("refresh".into());
    expect(
        &app,
        me,
        slug,
        Some(&sign(&refresh_type)),
        401,
        "Invalid token type",
    )
    .await;
    let mut no_sub = base.clone();
    no_sub.sub = None;
    expect(
        &app,
        me,
        slug,
        Some(&sign(&no_sub)),
        401,
        "Invalid token payload",
    )
    .await;
    let mut no_sid = base.clone();
    no_sid.sid = None;
    expect(
        &app,
        me,
        slug,
        Some(&sign(&no_sid)),
        401,
        "Invalid token payload",
    )
    .await;
    let mut bad_sub = base.clone();
    bad_sub.sub = Some("42".into());
    expect(
        &app,
        me,
        slug,
        Some(&sign(&bad_sub)),
        401,
        "Invalid user_id in token",
    )
    .await;
    let mut bad_tenant = base.clone();
    bad_tenant.tenant_id = Some("acme".into());
    expect(
        &app,
        me,
        slug,
        Some(&sign(&bad_tenant)),
        401,
        "Invalid tenant_id in token",
    )
    .await;
    let ghost = claims(Uuid::now_v7(), Some(a.tenant_id), Some(sid));
    expect(
        &app,
        me,
        slug,
        Some(&sign(&ghost)),
        401,
        "User not found or inactive",
    )
    .await;
    let unknown_sid = claims(a.user_id, Some(a.tenant_id), Some(Uuid::now_v7()));
    expect(
        &app,
        me,
        slug,
        Some(&sign(&unknown_sid)),
        401,
        "Session has been revoked",
    )
    .await;

    // Assumed identities: the operator must exist, be active and still be a superuser.
    let assumed = |operator: Option<String>| {
        let mut c = claims(a.user_id, Some(a.tenant_id), None);
        c.token_type = Some("assumed_access".into());
        c.assumed_identity = Some(AssumedIdentity {
            operator_user_id: operator,
            reason: None,
            started_at: Some(now()),
        });
        c
    };
    let mut no_identity = assumed(None);
    no_identity.assumed_identity = None;
    expect(
        &app,
        me,
        slug,
        Some(&sign(&no_identity)),
        401,
        "Invalid assumed identity token",
    )
    .await;
    expect(
        &app,
        me,
        slug,
        Some(&sign(&assumed(None))),
        401,
        "Invalid assumed identity token",
    )
    .await;
    expect(
        &app,
        me,
        slug,
        Some(&sign(&assumed(Some("root".into())))),
        401,
        "Invalid operator_user_id in token",
    )
    .await;
    expect(
        &app,
        me,
        slug,
        Some(&sign(&assumed(Some(Uuid::now_v7().to_string())))),
        401,
        "Operator user not found or inactive",
    )
    .await;
    let plain = format!("{}@example.com", unique("plain-"));
    let plain_id = app.create_user(&plain, PASSWORD, false).await.unwrap();
    expect(
        &app,
        me,
        slug,
        Some(&sign(&assumed(Some(plain_id.to_string())))),
        401,
        "Assumed identity not authorized - operator is not a superuser",
    )
    .await;
    let root = format!("{}@example.com", unique("root-"));
    let root_id = app.create_user(&root, PASSWORD, true).await.unwrap();
    let as_target = sign(&assumed(Some(root_id.to_string())));
    let resp = app
        .http
        .get(app.url(me))
        .header("X-Tenant-Slug", &a.slug)
        .header("Authorization", &as_target)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "an assumed identity acts as the target");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["id"], a.user_id.to_string());
    expect(
        &app,
        "/api/v1/auth/logout-all",
        None,
        Some(&as_target),
        403,
        "Not permitted while using an assumed identity",
    )
    .await;

    // Member level.
    let bearer = format!("Bearer {valid}");
    let (_, tenantless) = app.session_token(a.user_id, None).await.unwrap();
    expect(
        &app,
        me,
        slug,
        Some(&format!("Bearer {tenantless}")),
        401,
        "Invalid token payload",
    )
    .await;
    let (other, other_slug) = tenant(&app).await;
    expect(
        &app,
        me,
        Some(&other_slug),
        Some(&bearer),
        403,
        "Token tenant does not match request tenant",
    )
    .await;
    let outsider = account(&app).await;
    let (_, outsider_token) = app
        .session_token(outsider.user_id, Some(other))
        .await
        .unwrap();
    expect(
        &app,
        me,
        Some(&other_slug),
        Some(&format!("Bearer {outsider_token}")),
        403,
        "User does not have access to this tenant",
    )
    .await;
    // Admin and superuser levels.
    join(&app, outsider.user_id, a.tenant_id, "member").await;
    let (_, member_token) = app
        .session_token(outsider.user_id, Some(a.tenant_id))
        .await
        .unwrap();
    let resp = app
        .http
        .delete(app.url(&format!("/api/v1/tenants/{}", a.slug)))
        .header("X-Tenant-Slug", &a.slug)
        .bearer_auth(&member_token)
        .json(&json!({"password": PASSWORD, "confirm": a.slug}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "Admin role required for this operation");
    expect(
        &app,
        &format!("/api/v1/tenants/{}/status", a.slug),
        None,
        Some(&bearer),
        403,
        "Superuser privileges required",
    )
    .await;
    // The session is revoked: the same token fails at once; a deactivated user too.
    sqlx::query("UPDATE public.refresh_token_families SET revoked_at = now(), revoked_reason = 'logout' WHERE id = $1")
        .bind(sid)
        .execute(&app.pool)
        .await
        .unwrap();
    expect(
        &app,
        me,
        slug,
        Some(&bearer),
        401,
        "Session has been revoked",
    )
    .await;
    sqlx::query("UPDATE public.users SET is_active = false WHERE id = $1")
        .bind(a.user_id)
        .execute(&app.pool)
        .await
        .unwrap();
    expect(
        &app,
        me,
        slug,
        Some(&bearer),
        401,
        "User not found or inactive",
    )
    .await;
    app.shutdown().await;
}
