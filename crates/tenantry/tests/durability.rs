//! Crashes and outages made to happen: worker processes SIGKILLed mid-step, the Temporal server stopped
//! while people register. Every registration still ends in exactly one ready tenant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use temporalio_client::{Client, UntypedWorkflow, WorkflowDescribeOptions};
use tenantry_testkit::TestApp;

const PASSWORD: &str = "violet-Harbor-93-lantern";

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &uuid_tail())
}

fn uuid_tail() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}", t & 0xffff_ffff_ffff)
}

/// `tenantry worker` as a child process with the app's settings, so it can be SIGKILLed alone.
fn spawn_worker(vars: &HashMap<String, String>, extra: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    cmd.arg("worker")
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.env("WORKER_HEALTH_PORT", "0").env("RUST_LOG", "warn");
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().expect("worker starts")
}

fn sigkill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

async fn register(app: &TestApp, email: &str, slug: &str) -> u16 {
    let body = json!({"email": email, "password": PASSWORD, "full_name": "Grace Hopper", "tenant_name": "Compilers", "tenant_slug": slug});
    app.post_json("/api/v1/auth/register", &body)
        .await
        .status()
        .as_u16()
}

async fn provisioning(app: &TestApp, slug: &str) -> String {
    let v: Value = app
        .get(&format!("/api/v1/tenants/{slug}/provisioning"))
        .await
        .json()
        .await
        .unwrap();
    v["status"].as_str().unwrap_or_default().to_owned()
}

async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether the workflow's pending activity of this type has been picked up by a worker.
async fn activity_running(client: &Client, workflow_id: &str, activity: &str) -> bool {
    let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id.to_owned());
    let Ok(d) = handle.describe(WorkflowDescribeOptions::default()).await else {
        return false;
    };
    d.raw().pending_activities.iter().any(|p| {
        p.activity_type.as_ref().is_some_and(|t| t.name == activity)
            && p.state == temporalio_common::protos::temporal::api::enums::v1::PendingActivityState::Started as i32
    })
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

async fn scalar(pool: &sqlx_pool::PgPool, sql: &str) -> i64 {
    sqlx_pool::query_scalar(sql, pool).await
}

async fn sqlx_query_as(sql: &str, slug: &str, pool: &sqlx_pool::PgPool) -> (uuid::Uuid, String) {
    sqlx_pool::query_pair(sql, slug, pool).await
}

/// Thin wrappers so this file needs no direct sqlx dependency of its own.
mod sqlx_pool {
    pub use tenantry_testkit::sqlx::PgPool;

    pub async fn query_scalar(sql: &str, pool: &PgPool) -> i64 {
        tenantry_testkit::sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .unwrap()
    }

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
    let mut worker = spawn_worker(&app.vars, &[("TENANTRY_TEST_ACTIVITY_DELAYS", &delays)]);
    assert_eq!(register(&app, "crash@example.com", &slug).await, 202);
    for step in steps {
        wait_for(&format!("{step} to run"), Duration::from_secs(120), || {
            activity_running(&client, &workflow_id, step)
        })
        .await;
        sigkill(&mut worker);
        worker = spawn_worker(&app.vars, &[("TENANTRY_TEST_ACTIVITY_DELAYS", &delays)]);
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

/// A Temporal dev server of this test's own, so it can be stopped and started again on its SQLite file.
struct OwnTemporal {
    child: Option<Child>,
    port: u16,
    db: std::path::PathBuf,
}

impl OwnTemporal {
    fn start(port: u16, db: std::path::PathBuf) -> Self {
        let mut s = Self {
            child: None,
            port,
            db,
        };
        s.restart();
        s
    }

    fn restart(&mut self) {
        let bin = std::env::var("TEMPORAL_BIN").unwrap_or_else(|_| "temporal".to_owned());
        let child = Command::new(bin)
            .args([
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--log-level",
                "error",
            ])
            .args([
                "--port",
                &self.port.to_string(),
                "--http-port",
                &(self.port + 1).to_string(),
            ])
            .args(["--metrics-port", &(self.port + 2).to_string()])
            .arg("--db-filename")
            .arg(&self.db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("temporal CLI on PATH or TEMPORAL_BIN");
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = c.wait();
        }
    }
}

impl Drop for OwnTemporal {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port_block() -> u16 {
    // Three consecutive free ports (grpc, http, metrics).
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        drop(l);
        if p < 60000 && (1..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok()) {
            return p;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_during_a_temporal_outage_wait_and_then_provision() {
    let port = free_port_block();
    let dir = std::env::temp_dir().join(format!("tenantry-outage-{}", uuid_tail()));
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
