//! Crashes and outages made to happen: worker processes SIGKILLed mid-step, the Temporal server stopped
//! while people register. Every registration still ends in exactly one ready tenant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::Value;
use tenantry_testkit::TestApp;

use support::{
    OwnTemporal, activity_running, free_port_block, register, scalar, sigkill, spawn_worker,
    unique, wait_for,
};

async fn provisioning(app: &TestApp, slug: &str) -> String {
    let v: Value = app
        .get(&format!("/api/v1/tenants/{slug}/provisioning"))
        .await
        .json()
        .await
        .unwrap();
    v["status"].as_str().unwrap_or_default().to_owned()
}

async fn assert_ready_once(app: &TestApp, slug: &str) {
    let pool = &app.pool;
    let (tenant_id, status): (uuid::Uuid, String) = sqlx_query_as(
        "SELECT id, status FROM public.tenants WHERE slug = $1",
        slug,
        pool,
    )
    .await;
    assert_eq!(status, "ready");
    let memberships: i64 = scalar(
        pool,
        &format!(
            "SELECT count(*) FROM public.user_tenant_membership WHERE tenant_id = '{tenant_id}'"
        ),
    )
    .await;
    assert_eq!(memberships, 1);
    let schema = format!("tenant_{}", slug.replace('-', "_"));
    let ledger: i64 = scalar(
        pool,
        &format!("SELECT count(*) FROM \"{schema}\"._tenantry_migrations"),
    )
    .await;
    assert_eq!(ledger, tenantry_store_len());
    let executions: i64 = scalar(pool, &format!(
        "SELECT count(*) FROM public.workflow_executions WHERE workflow_id = 'tenant-provision-{slug}' AND status = 'completed'"
    ))
    .await;
    assert_eq!(executions, 1);
}

fn tenantry_store_len() -> i64 {
    // The embedded tenant set, counted from the migrations folder the binary embeds.
    std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations/tenant"
    ))
    .unwrap()
    .filter(|e| {
        e.as_ref()
            .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
    })
    .count() as i64
}

async fn sqlx_query_as(sql: &str, slug: &str, pool: &sqlx_pool::PgPool) -> (uuid::Uuid, String) {
    sqlx_pool::query_pair(sql, slug, pool).await
}

/// Thin wrapper so this file needs no direct sqlx dependency of its own.
mod sqlx_pool {
    pub use tenantry_testkit::sqlx::PgPool;

    pub async fn query_pair(sql: &str, slug: &str, pool: &PgPool) -> (uuid::Uuid, String) {
        tenantry_testkit::sqlx::query_as(sql)
            .bind(slug)
            .fetch_one(pool)
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_in_every_provisioning_step_still_ends_with_one_ready_tenant() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let client = app.temporal().await;
    let steps = [
        "load_tenant",
        "create_tenant_schema",
        "migrate_tenant_schema",
        "create_admin_membership",
        "set_tenant_status",
        "complete_execution",
    ];
    let delays = steps
        .iter()
        .map(|s| format!("{s}=2500"))
        .collect::<Vec<_>>()
        .join(",");
    let slug = unique("crash-");
    let workflow_id = format!("tenant-provision-{slug}");
    let mut worker = spawn_worker(
        &app.vars,
        &[],
        &[("TENANTRY_TEST_ACTIVITY_DELAYS", &delays)],
    );
    assert_eq!(register(&app, "crash@example.com", &slug).await, 202);
    for step in steps {
        wait_for(&format!("{step} to run"), Duration::from_secs(120), || {
            activity_running(&client, &workflow_id, step)
        })
        .await;
        sigkill(&mut worker);
        worker = spawn_worker(
            &app.vars,
            &[],
            &[("TENANTRY_TEST_ACTIVITY_DELAYS", &delays)],
        );
    }
    wait_for("ready", Duration::from_secs(180), || async {
        provisioning(&app, &slug).await == "ready"
    })
    .await;
    wait_for("the completed record", Duration::from_secs(120), || async {
        scalar(&app.pool, &format!("SELECT count(*) FROM public.workflow_executions WHERE workflow_id = '{workflow_id}' AND status = 'completed'")).await == 1
    })
    .await;
    sigkill(&mut worker);
    assert_ready_once(&app, &slug).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_during_a_temporal_outage_wait_and_then_provision() {
    let port = free_port_block();
    let dir = std::env::temp_dir().join(unique("tenantry-outage-"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut temporal = OwnTemporal::start(port, dir.join("temporal.db"));
    let host = format!("127.0.0.1:{port}");
    let app = TestApp::builder()
        .env("TEMPORAL_HOST", &host)
        .spawn()
        .await
        .unwrap();
    let before = unique("before-");
    assert_eq!(register(&app, "before@example.com", &before).await, 202);
    wait_for("the first tenant", Duration::from_secs(60), || async {
        provisioning(&app, &before).await == "ready"
    })
    .await;

    temporal.stop();
    let during = unique("during-");
    assert_eq!(register(&app, "during@example.com", &during).await, 202);
    // The start waits in the outbox: still pending after several relay attempts.
    wait_for("a failed dispatch attempt", Duration::from_secs(30), || async {
        scalar(&app.pool, &format!("SELECT count(*) FROM public.workflow_start_requests WHERE workflow_id = 'tenant-provision-{during}' AND attempts > 0 AND dispatched_at IS NULL")).await == 1
    })
    .await;
    assert_eq!(provisioning(&app, &during).await, "pending");
    assert_eq!(app.get("/health").await.status(), 200);

    temporal.restart();
    wait_for(
        "the tenant registered during the outage",
        Duration::from_secs(120),
        || async { provisioning(&app, &during).await == "ready" },
    )
    .await;
    wait_for("the completed record", Duration::from_secs(60), || async {
        scalar(&app.pool, &format!("SELECT count(*) FROM public.workflow_executions WHERE workflow_id = 'tenant-provision-{during}' AND status = 'completed'")).await == 1
    })
    .await;
    assert_ready_once(&app, &during).await;
    app.shutdown().await;
    temporal.stop();
    let _ = std::fs::remove_dir_all(dir);
}
