//! `GET /admin/tenants`: every tenant (deleted ones included), a status filter, pagination, and only
//! superusers (never through an assumed identity).

use reqwest::Method;
use serde_json::{Value, json};
use tenantry_testkit::TestApp;
use uuid::Uuid;

use crate::support::*;

const STATUSES: [&str; 5] = ["provisioning", "ready", "failed", "deleting", "deleted"];

#[tokio::test]
async fn superusers_list_every_tenant_by_status_with_pages() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let (su_id, su_email) = user(&app, "root-", true).await;
    let mut created: Vec<(Uuid, String, &str)> = Vec::new();
    for status in STATUSES {
        for _ in 0..2 {
            let (id, slug) = tenant_in(&app, status).await;
            created.push((id, slug, status));
        }
    }
    let token = admin_login(&app, &su_email).await;

    // Everything, newest first, in pages that neither skip nor repeat.
    let all = all_pages(&app, "/api/v1/admin/tenants", None, &token, 3).await;
    let ids: Vec<String> = all
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = created
        .iter()
        .rev()
        .map(|(id, ..)| id.to_string())
        .collect();
    assert_eq!(ids, expected);
    for t in &all {
        assert_eq!(
            keys(t),
            [
                "created_at",
                "deleted_at",
                "id",
                "is_active",
                "name",
                "slug",
                "status"
            ]
        );
        let (_, slug, status) = created
            .iter()
            .find(|(id, ..)| id.to_string() == t["id"])
            .unwrap();
        assert_eq!(t["slug"], slug.as_str());
        assert_eq!(t["status"], *status);
        assert_eq!(
            t["deleted_at"].is_string(),
            matches!(*status, "deleting" | "deleted")
        );
    }
    let resp = get(&app, "/api/v1/admin/tenants?limit=4", None, &token).await;
    let first: Value = resp.json().await.unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 4);
    assert_eq!(first["has_more"], true);

    // One status at a time.
    for status in STATUSES {
        let items = all_pages(
            &app,
            &format!("/api/v1/admin/tenants?status={status}"),
            None,
            &token,
            50,
        )
        .await;
        assert_eq!(items.len(), 2, "{status}");
        assert!(items.iter().all(|t| t["status"] == status), "{status}");
    }

    // Invalid query parameters.
    let resp = get(&app, "/api/v1/admin/tenants?status=archived", None, &token).await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["detail"],
        "status: Must be one of: provisioning, ready, failed, deleting, deleted"
    );
    assert_eq!(v["errors"][0]["code"], "invalid_choice");
    for query in ["limit=0", "limit=101", "limit=x", "cursor=garbage"] {
        let resp = get(
            &app,
            &format!("/api/v1/admin/tenants?{query}"),
            None,
            &token,
        )
        .await;
        assert_eq!(resp.status(), 422, "{query}");
    }

    // An access token of a tenant login works too, when its user is a superuser.
    let (tenant_id, slug) = tenant(&app).await;
    join(&app, su_id, tenant_id, "member").await;
    let tenant_token = login(&app, &slug, &su_email).await;
    assert_eq!(
        get(&app, "/api/v1/admin/tenants", None, &tenant_token)
            .await
            .status(),
        200
    );
    app.shutdown().await;
}

#[tokio::test]
async fn only_superusers_pass_and_never_through_an_assumed_identity() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let (_, su_email) = user(&app, "root-", true).await;
    let member = account(&app, "admin").await;
    let member_token = login(&app, &member.slug, &member.email).await;

    let resp = get(&app, "/api/v1/admin/tenants", None, &member_token).await;
    assert_eq!(
        status_detail(resp).await,
        (403, "Superuser privileges required".into())
    );
    let resp = app.get("/api/v1/admin/tenants").await;
    assert_eq!(
        status_detail(resp).await,
        (401, "Missing or invalid authorization header".into())
    );

    // An assumed identity of the member…
    let su_token = admin_login(&app, &su_email).await;
    let resp = request(
        &app,
        Method::POST,
        "/api/v1/admin/assume-identity",
        None,
        Some(&su_token),
        Some(&json!({ "target_user_id": member.user_id, "tenant_id": member.tenant_id })),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let assumed = v["access_token"].as_str().unwrap().to_owned();
    let resp = get(&app, "/api/v1/admin/tenants", None, &assumed).await;
    assert_eq!(
        status_detail(resp).await,
        (403, "Superuser privileges required".into())
    );
    // …stays refused even if the target becomes a superuser while the token lives.
    exec(
        &app,
        "UPDATE public.users SET is_superuser = true WHERE id = $1",
        member.user_id,
    )
    .await;
    for path in [
        "/api/v1/admin/tenants",
        &format!("/api/v1/tenants/{}/status", member.slug),
    ] {
        let resp = get(&app, path, None, &assumed).await;
        assert_eq!(
            status_detail(resp).await,
            (403, "Superuser privileges required".into()),
            "{path}"
        );
    }
    let resp = request(
        &app,
        Method::POST,
        "/api/v1/admin/assume-identity",
        None,
        Some(&assumed),
        Some(&json!({ "target_user_id": member.user_id, "tenant_id": member.tenant_id })),
    )
    .await;
    assert_eq!(resp.status(), 403);
    // The member's own token now passes: superuser rights are read on every request.
    assert_eq!(
        get(&app, "/api/v1/admin/tenants", None, &member_token)
            .await
            .status(),
        200
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_admin_and_audit_endpoints() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let resp = app.get("/openapi.json").await;
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.unwrap();
    let paths = &doc["paths"];
    assert!(paths["/api/v1/admin/login"]["post"].is_object());
    assert!(paths["/api/v1/admin/tenants"]["get"].is_object());
    assert!(
        paths["/api/v1/admin/tenants"]["delete"].is_object(),
        "the bulk deletion stays documented beside the list"
    );
    assert!(paths["/api/v1/admin/assume-identity"]["post"].is_object());
    assert!(paths["/api/v1/audit/logs"]["get"].is_object());
    assert!(paths["/api/v1/audit/logs/entity/{entity_type}/{entity_id}"]["get"].is_object());
    let schemas = &doc["components"]["schemas"];
    for name in [
        "AuditLogRead",
        "AuditLogPage",
        "ConsoleToken",
        "AssumeIdentityRequest",
        "AssumedIdentityToken",
    ] {
        assert!(schemas[name].is_object(), "{name}");
    }
    app.shutdown().await;
}

/// Found by scripts/api-schema: a path parameter whose percent-decoding is not UTF-8 got axum's own 400 (a
/// status none of these endpoints documents), and a slug holding U+0000 made `GET /tenants/{slug}/status`
/// fail its query with a 500. Both are now malformed values with the contract's answers; likewise an
/// `X-Tenant-Slug` that is not text is a slug no tenant has (404), not a missing header (400).
#[tokio::test]
async fn malformed_path_parameters_and_tenant_headers_get_the_contracts_answers() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let (_, su_email) = user(&app, "root-", true).await;
    let su = admin_login(&app, &su_email).await;
    let member = account(&app, "admin").await;
    let token = login(&app, &member.slug, &member.email).await;
    let cases: Vec<(&str, Option<&str>, &str, (u16, String))> = vec![
        ("/api/v1/tenants/a%00b/status", None, &su, (404, "Tenant 'a\u{0}b' not found".into())),
        ("/api/v1/tenants/%FF/status", None, &su, (404, "Tenant '\u{FFFD}' not found".into())),
        ("/api/v1/tenants/%FF", None, &su, (404, "Tenant not found".into())),
        ("/api/v1/tenants/%FF%FE/provisioning", None, &su, (404, "Tenant not found".into())),
        ("/api/v1/invites/t/%C3%28", None, &su, (404, "Invalid or expired invite".into())),
        ("/api/v1/projects/%FF", Some(&member.slug), &token, (422, "project_id: Invalid UUID".into())),
        (
            "/api/v1/audit/logs/entity/%FF/%FF",
            Some(&member.slug),
            &token,
            (422, "entity_type: Must be one of: user, tenant, membership, invite, project, token, session; entity_id: Invalid UUID".into()),
        ),
    ];
    for (path, slug, bearer, want) in cases {
        let resp = get(&app, path, slug, bearer).await;
        assert_eq!(status_detail(resp).await, want, "{path}");
    }
    let resp = request(
        &app,
        Method::DELETE,
        "/api/v1/admin/tenants/%FF",
        None,
        Some(&su),
        None,
    )
    .await;
    assert_eq!(
        status_detail(resp).await,
        (422, "tenant_id: Invalid UUID".into())
    );

    let resp = app
        .http
        .get(app.url("/api/v1/users/me"))
        .bearer_auth(&token)
        .header(
            "X-Tenant-Slug",
            reqwest::header::HeaderValue::from_bytes(b"acme\xff").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(status_detail(resp).await, (404, "Tenant not found".into()));
    app.shutdown().await;
}
