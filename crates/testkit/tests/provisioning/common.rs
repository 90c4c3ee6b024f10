//! Helpers for the provisioning tests.

use std::time::Duration;

use serde_json::{Value, json};
use tenantry_testkit::TestApp;

pub const PASSWORD: &str = "violet-Harbor-93-lantern";

pub fn body(email: &str, slug: &str) -> Value {
    json!({
        "email": email,
        "password": PASSWORD,
        "full_name": "Ada Lovelace",
        "tenant_name": "Analytical Engines",
        "tenant_slug": slug,
    })
}

pub async fn register(app: &TestApp, email: &str, slug: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/register", &body(email, slug))
        .await
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

pub async fn provisioning_status(app: &TestApp, slug: &str) -> Value {
    let resp = app
        .get(&format!("/api/v1/tenants/{slug}/provisioning"))
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// Polls the public provisioning view until it reports `want` (panics after `timeout`).
pub async fn wait_status(app: &TestApp, slug: &str, want: &str, timeout: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let v = provisioning_status(app, slug).await;
        if v["status"] == want {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{slug} never became {want}; last {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

pub async fn tenant_id(app: &TestApp, slug: &str) -> uuid::Uuid {
    sqlx::query_scalar("SELECT id FROM public.tenants WHERE slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

pub async fn schema_exists(app: &TestApp, schema: &str) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_namespace WHERE nspname = $1")
        .bind(schema)
        .fetch_one(&app.pool)
        .await
        .unwrap()
        == 1
}

pub async fn execution(app: &TestApp, workflow_id: &str) -> (String, Option<String>) {
    sqlx::query_as(
        "SELECT status, error_message FROM public.workflow_executions WHERE workflow_id = $1",
    )
    .bind(workflow_id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// The execution record is written after the tenant status, so tests wait for it.
pub async fn wait_execution(app: &TestApp, workflow_id: &str, want: &str) -> Option<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, error) = execution(app, workflow_id).await;
        if status == want {
            return error;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{workflow_id} never became {want}; still {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
