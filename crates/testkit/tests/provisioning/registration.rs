//! `POST /auth/register` and the path to a ready tenant.

use std::time::Duration;

use serde_json::Value;
use tenantry_testkit::TestApp;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_provisions_a_ready_tenant_with_one_admin_and_a_complete_ledger() {
    let app = TestApp::spawn().await.unwrap();
    let slug = unique("acme-");
    let resp = register(&app, "Ada@Example.com ", &slug).await;
    assert_eq!(resp.status(), 202);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["workflow_id"], format!("tenant-provision-{slug}"));
    assert_eq!(v["tenant_slug"], slug);
    assert_eq!(
        v["message"],
        "Please check your email to verify your account"
    );
    assert_eq!(v["user"]["email"], "ada@example.com");
    assert_eq!(v["user"]["is_active"], true);
    let created_at = v["user"]["created_at"].as_str().unwrap();
    assert!(
        created_at.ends_with('Z') && created_at.len() == 27,
        "{created_at}"
    );

    wait_status(&app, &slug, "ready", Duration::from_secs(60)).await;
    let tenant = tenant_id(&app, &slug).await;
    let schema = format!("tenant_{}", slug.replace('-', "_"));
    assert!(schema_exists(&app, &schema).await);
    let memberships = count(&app, &format!(
        "SELECT count(*) FROM public.user_tenant_membership WHERE tenant_id = '{tenant}' AND role = 'admin' AND is_active"
    ))
    .await;
    assert_eq!(memberships, 1);
    let ledger = count(
        &app,
        &format!("SELECT count(*) FROM \"{schema}\"._tenantry_migrations"),
    )
    .await;
    let files = tenantry_store::TenantMigrations::embedded().len() as i64;
    assert_eq!(ledger, files);
    wait_execution(&app, &format!("tenant-provision-{slug}"), "completed").await;

    // The verification email is readable at once through the development mailbox, with its token.
    let mail: Value = app
        .get("/dev/mailbox?to=ADA@example.com")
        .await
        .json()
        .await
        .unwrap();
    let items = mail["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "verify_email");
    let token = items[0]["token"].as_str().unwrap();
    assert_eq!(token.len(), 43);
    assert_eq!(
        items[0]["action_url"],
        format!("http://app.test/verify-email?token={token}")
    );
    // Only the hash is stored.
    let stored = count(
        &app,
        &format!(
            "SELECT count(*) FROM public.email_verification_tokens WHERE token_hash = '{}'",
            tenantry_domain::token_hash(token)
        ),
    )
    .await;
    assert_eq!(stored, 1);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_registrations_of_one_slug_give_one_tenant_and_nineteen_conflicts() {
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    let slug = unique("race-");
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (barrier, url, http, slug) = (
            barrier.clone(),
            app.url("/api/v1/auth/register"),
            app.http.clone(),
            slug.clone(),
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let resp = http
                .post(url)
                .json(&body(&format!("user{i}@example.com"), &slug))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap();
            (status, v)
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        let (status, v) = t.await.unwrap();
        match status {
            202 => accepted += 1,
            409 => assert_eq!(
                v["detail"],
                format!("Tenant with slug '{slug}' already exists")
            ),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(accepted, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM public.users").await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM public.tenants").await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM public.workflow_start_requests WHERE workflow_type = 'TenantProvisioning'").await, 1);
    assert_eq!(
        count(&app, "SELECT count(*) FROM public.workflow_executions").await,
        1
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM public.email_outbox").await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM public.email_verification_tokens"
        )
        .await,
        1
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normalized_slug_collision_is_a_conflict() {
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    let base = unique("acme-corp");
    assert_eq!(register(&app, "a@example.com", &base).await.status(), 202);
    let other = base.replacen('-', "_", 1);
    let resp = register(&app, "b@example.com", &other).await;
    assert_eq!(resp.status(), 409);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["detail"],
        format!("Tenant with slug '{other}' already exists")
    );
    assert_eq!(count(&app, "SELECT count(*) FROM public.users").await, 1);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_email_gets_an_indistinguishable_answer_and_an_ownerless_tenant() {
    let app = TestApp::spawn().await.unwrap();
    let first = unique("first-");
    let second = unique("second-");
    let a: Value = register(&app, "same@example.com", &first)
        .await
        .json()
        .await
        .unwrap();
    let resp = register(&app, "SAME@example.com", &second).await;
    assert_eq!(resp.status(), 202);
    let b: Value = resp.json().await.unwrap();
    let keys = |v: &Value| {
        let mut k: Vec<String> = v["user"].as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&a), keys(&b));
    assert_ne!(
        a["user"]["id"], b["user"]["id"],
        "a fresh id that is never stored"
    );
    assert_eq!(count(&app, "SELECT count(*) FROM public.users").await, 1);
    let fake_id = b["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM public.users WHERE id = '{fake_id}'")
        )
        .await,
        0
    );

    // The second tenant is provisioned like any other, but with no owner.
    wait_status(&app, &second, "ready", Duration::from_secs(60)).await;
    let t2 = tenant_id(&app, &second).await;
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM public.user_tenant_membership WHERE tenant_id = '{t2}'")
        )
        .await,
        0
    );
    assert_eq!(count(&app, &format!("SELECT count(*) FROM public.tenants WHERE id = '{t2}' AND registered_by_user_id IS NULL")).await, 1);
    // The unverified owner gets a fresh verification email, never the registrant's text.
    let mail: Value = app
        .get("/dev/mailbox?to=same@example.com")
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = mail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["verify_email", "verify_email"]);
    let audit: (String, Option<String>) = sqlx::query_as(
        "SELECT status, error_message FROM public.audit_logs WHERE action = 'user.register' AND tenant_id = $1",
    )
    .bind(t2)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        audit,
        (
            "failure".to_owned(),
            Some("Email already registered".to_owned())
        )
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_registrations_list_every_problem_and_write_nothing() {
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    let resp = app
        .post_json(
            "/api/v1/auth/register",
            &serde_json::json!({"email": "nope", "password": "short", "full_name": "", "tenant_slug": "Bad Slug"}),
        )
        .await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    let fields: Vec<(&str, &str)> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert!(fields.contains(&("email", "invalid_format")), "{v}");
    assert!(fields.contains(&("tenant_name", "missing")), "{v}");
    assert!(fields.contains(&("full_name", "too_short")), "{v}");
    assert!(fields.contains(&("tenant_slug", "invalid_format")), "{v}");
    assert!(fields.contains(&("password", "too_short")), "{v}");
    let reserved = app
        .post_json(
            "/api/v1/auth/register",
            &body("x@example.com", "my-public-co"),
        )
        .await;
    assert_eq!(reserved.status(), 422);
    let r: Value = reserved.json().await.unwrap();
    assert_eq!(r["errors"][0]["code"], "reserved");
    assert_eq!(count(&app, "SELECT count(*) FROM public.users").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM public.tenants").await, 0);
    app.shutdown().await;
}

/// Found by scripts/api-schema: a full name or tenant name holding U+0000 reached PostgreSQL, which cannot
/// store it, and registration answered 500 (on the existing-email path too). Now a 422 that writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_in_registration_names_are_a_422_not_a_500() {
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    assert_eq!(
        register(&app, "taken@example.com", &unique("nul-"))
            .await
            .status(),
        202
    );
    for email in ["fresh@example.com", "taken@example.com"] {
        let mut b = body(email, &unique("nul-"));
        b["full_name"] = Value::from("Ada\u{0}");
        b["tenant_name"] = Value::from("\u{0}Engines");
        let resp = app.post_json("/api/v1/auth/register", &b).await;
        assert_eq!(resp.status(), 422, "{email}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(
            v["detail"],
            "full_name: Must not contain NUL characters; tenant_name: Must not contain NUL characters",
            "{v}"
        );
    }
    assert_eq!(count(&app, "SELECT count(*) FROM public.users").await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM public.tenants").await, 1);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_view_hides_unknown_and_malformed_slugs() {
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    for slug in ["nobody-here", "NOT_A_SLUG", "a--b"] {
        let resp = app
            .get(&format!("/api/v1/tenants/{slug}/provisioning"))
            .await;
        assert_eq!(resp.status(), 404);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["detail"], "Tenant not found");
    }
    // Before the relay hands the start to Temporal the tenant is `pending`.
    let slug = unique("pending-");
    assert_eq!(register(&app, "p@example.com", &slug).await.status(), 202);
    let v = provisioning_status(&app, &slug).await;
    assert_eq!(
        v,
        serde_json::json!({"slug": slug, "status": "pending", "error": null})
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_retried_with_its_idempotency_key_is_replayed_not_repeated() {
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    let slug = unique("idem-");
    let send = || {
        app.http
            .post(app.url("/api/v1/auth/register"))
            .header("idempotency-key", "signup-7f3a")
            .json(&body("idem@example.com", &slug))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 202);
    let first_body = first.text().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotency-replayed"], "true");
    assert_eq!(again.text().await.unwrap(), first_body);
    assert_eq!(count(&app, "SELECT count(*) FROM public.tenants").await, 1);
    assert_eq!(
        count(&app, "SELECT count(*) FROM public.email_outbox").await,
        1
    );
    let stored: i64 = count(&app, "SELECT count(*) FROM public.idempotency_keys WHERE scope = 'register' AND state = 'completed'").await;
    assert_eq!(stored, 1);
    app.shutdown().await;
}
