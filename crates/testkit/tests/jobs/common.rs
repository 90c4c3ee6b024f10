//! Helpers for the jobs tests.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use tenantry_domain::jobs_queue;
use tenantry_settings::Settings;
use tenantry_testkit::TestApp;
use tenantry_workflows::workflows::cleanup::{CleanupInput, CleanupOutput, TokenCleanup};
use uuid::Uuid;

pub const PASSWORD: &str = "violet-Harbor-93-lantern";

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &Uuid::now_v7().simple().to_string()[20..])
}

/// A 64-character lower-case hex string, unique per call (token hash columns require that shape).
pub fn hash() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

pub async fn register(app: &TestApp, email: &str, slug: &str) -> reqwest::Response {
    let body: Value = json!({
        "email": email,
        "password": PASSWORD,
        "full_name": "Ada Lovelace",
        "tenant_name": "Analytical Engines",
        "tenant_slug": slug,
    });
    app.post_json("/api/v1/auth/register", &body).await
}

pub async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

pub async fn exec(app: &TestApp, sql: &str) {
    sqlx::query(sql).execute(&app.pool).await.unwrap();
}

pub async fn tenant_id(app: &TestApp, slug: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM public.tenants WHERE slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

pub async fn tenant_status(app: &TestApp, id: Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM public.tenants WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Polls the tenant row until its status is `want` (panics after `timeout`).
pub async fn wait_tenant_status(app: &TestApp, id: Uuid, want: &str, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let status = tenant_status(app, id).await;
        if status == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "tenant {id} never became {want}; still {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn schema_exists(app: &TestApp, schema: &str) -> bool {
    count(
        app,
        &format!("SELECT count(*) FROM pg_namespace WHERE nspname = '{schema}'"),
    )
    .await
        == 1
}

pub async fn execution_status(app: &TestApp, workflow_id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT status FROM public.workflow_executions WHERE workflow_id = $1")
        .bind(workflow_id)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

pub async fn wait_execution(app: &TestApp, workflow_id: &str, want: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = execution_status(app, workflow_id).await;
        if status.as_deref() == Some(want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{workflow_id} never became {want}; still {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs TokenCleanup once on the app's jobs queue (as the schedule would) and returns its counts.
pub async fn run_cleanup(app: &TestApp, retention_days: u32) -> CleanupOutput {
    let client = app.temporal().await;
    let options = WorkflowStartOptions::new(
        jobs_queue(&app.settings.temporal_queue_prefix),
        unique("token-cleanup-test-"),
    )
    .build();
    let handle = client
        .start_workflow(TokenCleanup::run, CleanupInput { retention_days }, options)
        .await
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(90),
        handle.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .expect("TokenCleanup did not finish within 90 s")
    .unwrap()
}

/// The app's settings with some variables changed (e.g. another queue prefix or cron).
pub fn settings_with(app: &TestApp, changes: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = app.vars.clone();
    for (k, v) in changes {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_map(vars).unwrap()
}
