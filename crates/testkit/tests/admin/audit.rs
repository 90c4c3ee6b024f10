//! `GET /audit/logs` and `GET /audit/logs/entity/{entity_type}/{entity_id}`: tenant admins read their
//! own tenant's rows only, newest first, with filters and pages.

use reqwest::Method;
use serde_json::{Value, json};
use tenantry_testkit::TestApp;
use uuid::Uuid;

use crate::support::*;

const AUDIT_LOG_READ: [&str; 14] = [
    "action",
    "assumed_by_user_id",
    "changes",
    "created_at",
    "entity_id",
    "entity_type",
    "error_message",
    "id",
    "ip_address",
    "request_id",
    "status",
    "tenant_id",
    "user_agent",
    "user_id",
];

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn page(app: &TestApp, path: &str, slug: &str, token: &str) -> Vec<Value> {
    let resp = get(app, path, Some(slug), token).await;
    assert_eq!(resp.status(), 200, "{path}");
    let v: Value = resp.json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}

async fn rejected(app: &TestApp, path: &str, slug: &str, token: &str) -> Value {
    let resp = get(app, path, Some(slug), token).await;
    assert_eq!(resp.status(), 422, "{path}");
    resp.json().await.unwrap()
}

async fn db_ids(app: &TestApp, tenant_id: Uuid) -> Vec<String> {
    sqlx::query_scalar::<_, Uuid>(
        "SELECT id FROM public.audit_logs WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC",
    )
    .bind(tenant_id)
    .fetch_all(&app.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|id| id.to_string())
    .collect()
}

async fn patch_me(app: &TestApp, slug: &str, token: &str, full_name: &str, request_id: &str) {
    let resp = app
        .http
        .patch(app.url("/api/v1/users/me"))
        .header("User-Agent", USER_AGENT)
        .header("X-Tenant-Slug", slug)
        .header("X-Request-ID", request_id)
        .bearer_auth(token)
        .json(&json!({ "full_name": full_name }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn admins_read_their_tenants_rows_only_with_filters_and_pages() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app, "admin").await;
    let b = account(&app, "admin").await;
    // `a` is also a plain member of b's tenant, where their rows must stay invisible from a's tenant.
    join(&app, a.user_id, b.tenant_id, "member").await;
    let (m_id, m_email) = user(&app, "plain-", false).await;
    join(&app, m_id, a.tenant_id, "member").await;

    let a_token = login(&app, &a.slug, &a.email).await;
    let resp = request(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        Some(&a.slug),
        None,
        Some(&json!({ "email": a.email, "password": "wrong-password-123" })),
    )
    .await;
    assert_eq!(resp.status(), 401);
    patch_me(&app, &a.slug, &a_token, "Alice in A", "audit-req-a").await;
    let a_in_b = login(&app, &b.slug, &a.email).await;
    patch_me(&app, &b.slug, &a_in_b, "Alice in B", "audit-req-b").await;
    let b_token = login(&app, &b.slug, &b.email).await;
    let m_token = login(&app, &a.slug, &m_email).await;
    // An account-level row (no tenant) about `a`: never part of a tenant's log.
    sqlx::query(
        "INSERT INTO public.audit_logs (id, tenant_id, user_id, action, entity_type, entity_id) \
         VALUES ($1, NULL, $2, 'password.change', 'user', $2)",
    )
    .bind(Uuid::now_v7())
    .bind(a.user_id)
    .execute(&app.pool)
    .await
    .unwrap();

    // Everything of tenant A, newest first, and nothing else.
    let all = page(&app, "/api/v1/audit/logs", &a.slug, &a_token).await;
    assert_eq!(ids(&all), db_ids(&app, a.tenant_id).await);
    let summary: Vec<(String, String, String)> = all
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
                r["user_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let (au, mu) = (a.user_id.to_string(), m_id.to_string());
    assert_eq!(
        summary,
        vec![
            ("user.login".into(), "success".into(), mu.clone()),
            ("user.update".into(), "success".into(), au.clone()),
            ("user.login".into(), "failure".into(), au.clone()),
            ("user.login".into(), "success".into(), au.clone()),
        ]
    );
    for r in &all {
        assert_eq!(keys(r), AUDIT_LOG_READ);
        assert_eq!(r["tenant_id"], a.tenant_id.to_string());
        assert_eq!(r["ip_address"], "127.0.0.1", "a plain address, no mask");
        assert_eq!(r["user_agent"], USER_AGENT);
        assert_eq!(r["assumed_by_user_id"], Value::Null);
        let at = r["created_at"].as_str().unwrap();
        assert!(
            at.len() == 27 && at.ends_with('Z') && &at[19..20] == ".",
            "{at}"
        );
    }
    let update = &all[1];
    assert_eq!(update["entity_type"], "user");
    assert_eq!(update["entity_id"], au);
    assert_eq!(update["request_id"], "audit-req-a");
    assert_eq!(update["error_message"], Value::Null);
    assert!(update["changes"].is_object());
    assert_eq!(all[2]["error_message"], "Invalid credentials");

    // Pages of one follow the same order without skipping or repeating.
    let paged = all_pages(&app, "/api/v1/audit/logs", Some(&a.slug), &a_token, 1).await;
    assert_eq!(ids(&paged), ids(&all));

    // Filters, alone and together.
    let updates = page(
        &app,
        "/api/v1/audit/logs?action=user.update",
        &a.slug,
        &a_token,
    )
    .await;
    assert_eq!(ids(&updates), [ids(&all)[1].clone()]);
    let by_m = page(
        &app,
        &format!("/api/v1/audit/logs?user_id={m_id}"),
        &a.slug,
        &a_token,
    )
    .await;
    assert_eq!(ids(&by_m), [ids(&all)[0].clone()]);
    let by_a = page(
        &app,
        &format!("/api/v1/audit/logs?user_id={}", a.user_id),
        &a.slug,
        &a_token,
    )
    .await;
    assert_eq!(by_a.len(), 3);
    let failures = page(&app, "/api/v1/audit/logs?status=failure", &a.slug, &a_token).await;
    assert_eq!(ids(&failures), [ids(&all)[2].clone()]);
    let logins = page(
        &app,
        &format!(
            "/api/v1/audit/logs?action=user.login&status=success&user_id={}",
            a.user_id
        ),
        &a.slug,
        &a_token,
    )
    .await;
    assert_eq!(ids(&logins), [ids(&all)[3].clone()]);
    let none = page(
        &app,
        "/api/v1/audit/logs?action=project.create",
        &a.slug,
        &a_token,
    )
    .await;
    assert!(none.is_empty());

    // Invalid filters.
    let v = rejected(
        &app,
        "/api/v1/audit/logs?action=user.delete",
        &a.slug,
        &a_token,
    )
    .await;
    assert_eq!(
        v["errors"],
        json!([{ "field": "action", "code": "invalid_choice", "message": "Unknown action" }])
    );
    assert_eq!(v["detail"], "action: Unknown action");
    let v = rejected(
        &app,
        "/api/v1/audit/logs?user_id=not-a-uuid",
        &a.slug,
        &a_token,
    )
    .await;
    assert_eq!(v["detail"], "user_id: Invalid UUID");
    let v = rejected(&app, "/api/v1/audit/logs?status=ok", &a.slug, &a_token).await;
    assert_eq!(v["detail"], "status: Must be one of: success, failure");
    assert_eq!(v["errors"][0]["code"], "invalid_choice");
    let v = rejected(
        &app,
        "/api/v1/audit/logs?cursor=garbage&limit=500",
        &a.slug,
        &a_token,
    )
    .await;
    assert_eq!(v["errors"].as_array().unwrap().len(), 2);

    // Entity history: this tenant's rows of the entity, never another tenant's.
    let history = page(
        &app,
        &format!("/api/v1/audit/logs/entity/user/{}", a.user_id),
        &a.slug,
        &a_token,
    )
    .await;
    assert_eq!(ids(&history), ids(&all)[1..].to_vec());
    let in_b = page(
        &app,
        &format!("/api/v1/audit/logs/entity/user/{}", a.user_id),
        &b.slug,
        &b_token,
    )
    .await;
    assert_eq!(in_b.len(), 2);
    assert!(
        in_b.iter()
            .all(|r| r["tenant_id"] == b.tenant_id.to_string())
    );
    assert_eq!(in_b[0]["request_id"], "audit-req-b");
    // b's own rows are not visible from A, even by their entity id.
    let foreign = page(
        &app,
        &format!("/api/v1/audit/logs/entity/user/{}", b.user_id),
        &a.slug,
        &a_token,
    )
    .await;
    assert!(foreign.is_empty());
    let b_all = page(&app, "/api/v1/audit/logs", &b.slug, &b_token).await;
    assert_eq!(ids(&b_all), db_ids(&app, b.tenant_id).await);
    assert!(ids(&b_all).iter().all(|id| !ids(&all).contains(id)));
    let paged = all_pages(
        &app,
        &format!("/api/v1/audit/logs/entity/user/{}", a.user_id),
        Some(&a.slug),
        &a_token,
        2,
    )
    .await;
    assert_eq!(ids(&paged), ids(&history));

    let v = rejected(
        &app,
        &format!("/api/v1/audit/logs/entity/account/{}", a.user_id),
        &a.slug,
        &a_token,
    )
    .await;
    assert_eq!(
        v["detail"],
        "entity_type: Must be one of: user, tenant, membership, invite, project, token, session"
    );
    assert_eq!(v["errors"][0]["code"], "invalid_choice");
    let v = rejected(
        &app,
        "/api/v1/audit/logs/entity/user/nope",
        &a.slug,
        &a_token,
    )
    .await;
    assert_eq!(v["detail"], "entity_id: Invalid UUID");
    let v = rejected(
        &app,
        "/api/v1/audit/logs/entity/thing/nope?limit=0",
        &a.slug,
        &a_token,
    )
    .await;
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["entity_type", "entity_id", "limit"]);

    // Admins only, of the header tenant.
    let history_path = format!("/api/v1/audit/logs/entity/user/{}", a.user_id);
    for path in ["/api/v1/audit/logs", history_path.as_str()] {
        let resp = get(&app, path, Some(&a.slug), &m_token).await;
        assert_eq!(
            status_detail(resp).await,
            (403, "Admin role required for this operation".into()),
            "{path}"
        );
        let resp = get(&app, path, Some(&b.slug), &a_in_b).await;
        assert_eq!(
            status_detail(resp).await,
            (403, "Admin role required for this operation".into()),
            "{path}"
        );
        let resp = get(&app, path, Some(&b.slug), &a_token).await;
        assert_eq!(
            status_detail(resp).await,
            (403, "Token tenant does not match request tenant".into()),
            "{path}"
        );
        let resp = request(&app, Method::GET, path, None, Some(&a_token), None).await;
        assert_eq!(
            status_detail(resp).await,
            (400, "X-Tenant-Slug header is required".into()),
            "{path}"
        );
        let resp = request(&app, Method::GET, path, Some(&a.slug), None, None).await;
        assert_eq!(resp.status(), 401, "{path}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn rows_caused_through_an_assumed_identity_show_the_operator() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let (op_id, op_email) = user(&app, "root-", true).await;
    let a = account(&app, "admin").await;
    let op_token = admin_login(&app, &op_email).await;
    let resp = request(
        &app,
        Method::POST,
        "/api/v1/admin/assume-identity",
        None,
        Some(&op_token),
        Some(
            &json!({ "target_user_id": a.user_id, "tenant_id": a.tenant_id, "reason": "support" }),
        ),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let assumed = v["access_token"].as_str().unwrap().to_owned();
    patch_me(
        &app,
        &a.slug,
        &assumed,
        "Changed By Support",
        "audit-assumed",
    )
    .await;

    let a_token = login(&app, &a.slug, &a.email).await;
    let all = page(&app, "/api/v1/audit/logs", &a.slug, &a_token).await;
    let actions: Vec<&str> = all.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["user.login", "user.update", "identity.assumed"]);
    let update = &all[1];
    assert_eq!(update["user_id"], a.user_id.to_string());
    assert_eq!(update["assumed_by_user_id"], op_id.to_string());
    assert_eq!(
        update["changes"]["_assumed_identity"],
        json!({ "operator_user_id": op_id, "reason": "support" })
    );
    let assumed_row = &all[2];
    assert_eq!(assumed_row["user_id"], op_id.to_string());
    assert_eq!(assumed_row["entity_type"], "user");
    assert_eq!(assumed_row["entity_id"], a.user_id.to_string());
    assert_eq!(assumed_row["changes"]["expires_in_seconds"], 900);
    let filtered = page(
        &app,
        "/api/v1/audit/logs?action=identity.assumed",
        &a.slug,
        &a_token,
    )
    .await;
    assert_eq!(filtered.len(), 1);
    app.shutdown().await;
}
