//! Helpers of the crash and outage tests (`durability.rs`, `faults.rs`): `tenantry worker` child processes,
//! Temporal, PostgreSQL and Redis servers of a test's own, a recorder of the requests sent under load, and
//! the one-line `FAULT-REPORT:` summary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use temporalio_client::{Client, UntypedWorkflow, WorkflowDescribeOptions};
use tenantry_testkit::TestApp;
use tenantry_testkit::sqlx::{self, PgPool};

pub const PASSWORD: &str = "violet-Harbor-93-lantern";

/// `prefix` plus 12 random hex digits: unique across the concurrent requests of one burst.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

/// Polls `f` every 100 ms until it holds; panics naming `what` after `timeout`.
pub async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut f: F)
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

pub async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// `POST /auth/register` for a new tenant `slug` owned by `email`; the status, 0 when no answer came.
pub async fn register(app: &TestApp, email: &str, slug: &str) -> u16 {
    let body = json!({"email": email, "password": PASSWORD, "full_name": "Grace Hopper", "tenant_name": "Compilers", "tenant_slug": slug});
    match app
        .http
        .post(app.url("/api/v1/auth/register"))
        .json(&body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// `tenantry worker <args>` as a child process with the app's settings, so it can be SIGKILLed alone.
pub fn spawn_worker(
    vars: &HashMap<String, String>,
    args: &[&str],
    extra: &[(&str, &str)],
) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    cmd.arg("worker")
        .args(args)
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

pub fn sigkill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether the workflow's pending activity of this type has been picked up by a worker.
pub async fn activity_running(client: &Client, workflow_id: &str, activity: &str) -> bool {
    let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id.to_owned());
    let Ok(d) = handle.describe(WorkflowDescribeOptions::default()).await else {
        return false;
    };
    d.raw().pending_activities.iter().any(|p| {
        p.activity_type.as_ref().is_some_and(|t| t.name == activity)
            && p.state
                == temporalio_common::protos::temporal::api::enums::v1::PendingActivityState::Started
                    as i32
    })
}

/// A port nothing listens on right now (whoever binds it must still check).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Three consecutive free ports (Temporal's gRPC, HTTP and metrics).
pub fn free_port_block() -> u16 {
    loop {
        let p = free_port();
        if p < 60000 && (1..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok()) {
            return p;
        }
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub async fn listening(port: u16) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(("127.0.0.1", port))
        )
        .await,
        Ok(Ok(_))
    )
}

/// A Temporal dev server of this test's own, so it can be stopped and started again on its SQLite file.
pub struct OwnTemporal {
    child: Option<Child>,
    pub port: u16,
    db: PathBuf,
}

impl OwnTemporal {
    pub fn start(port: u16, db: PathBuf) -> Self {
        let mut s = Self {
            child: None,
            port,
            db,
        };
        s.restart();
        s
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn restart(&mut self) {
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

    pub fn stop(&mut self) {
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

/// A PostgreSQL 15 cluster of this test's own (Debian's `pg_createcluster`, trust auth, on a free port), so
/// the test can stop and restart it without disturbing the shared server other tests use. Dropped
/// (`pg_dropcluster --stop`) when this value is, also when the test fails.
pub struct PrivateCluster {
    pub name: String,
    pub port: u16,
}

const PG_VERSION: &str = "15";

fn pg_tool(tool: &str, args: &[&str]) -> std::process::Output {
    Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{tool} (postgresql-common) runs: {e}"))
}

fn pg_tool_ok(tool: &str, args: &[&str]) {
    let out = pg_tool(tool, args);
    assert!(
        out.status.success(),
        "{tool} {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PrivateCluster {
    /// Creates and starts the cluster, and waits until it accepts connections.
    pub async fn start() -> Self {
        let name = format!(
            "tenantry_faults_{}",
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        let port = free_port();
        let port_text = port.to_string();
        // Owned from here on, so a failure below still removes whatever was created.
        let cluster = Self { name, port };
        pg_tool_ok(
            "pg_createcluster",
            &[
                PG_VERSION,
                &cluster.name,
                "-p",
                &port_text,
                "--start-conf=manual",
                // Throwaway data: no fsync makes CREATE DATABASE and the checkpoints of a restart quick.
                "-o",
                "fsync=off",
                "--",
                "--auth=trust",
            ],
        );
        cluster.start_server();
        cluster
            .wait_ready("the private cluster to accept connections")
            .await;
        cluster
    }

    /// URL of its `postgres` database (for `TestApp::builder().database_server`).
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn ctl(&self, action: &str) {
        pg_tool_ok("pg_ctlcluster", &[PG_VERSION, &self.name, action]);
    }

    /// `pg_ctlcluster … stop` (fast shutdown: sessions are terminated); returns once the server is gone.
    pub fn stop(&self) {
        self.ctl("stop");
    }

    pub fn start_server(&self) {
        self.ctl("start");
    }

    /// `pg_ctlcluster … restart`.
    pub fn restart(&self) {
        self.ctl("restart");
    }

    pub async fn accepts_connections(&self) -> bool {
        let out = pg_tool(
            "pg_isready",
            &["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()],
        );
        out.status.success()
    }

    pub async fn wait_ready(&self, what: &str) {
        wait_for(what, Duration::from_secs(30), || self.accepts_connections()).await;
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let out = pg_tool("pg_dropcluster", &["--stop", PG_VERSION, &self.name]);
        if !out.status.success() {
            eprintln!(
                "pg_dropcluster --stop {PG_VERSION} {} failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A `redis-server` of this test alone (no persistence), SIGKILLed when dropped.
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    pub async fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let server = Self {
            port,
            child: Some(child),
        };
        wait_for(
            "our redis-server to answer",
            Duration::from_secs(10),
            || listening(port),
        )
        .await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, then wait until the process is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One answered (or unanswered: status 0) request.
#[derive(Debug, Clone)]
pub struct Sample {
    pub what: &'static str,
    pub sent: Instant,
    pub done: Instant,
    pub status: u16,
}

/// Every request the load tasks sent, and a switch that stops them.
#[derive(Clone, Default)]
pub struct Load {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Load {
    pub fn record(&self, what: &'static str, sent: Instant, status: u16) {
        self.samples.lock().unwrap().push(Sample {
            what,
            sent,
            done: Instant::now(),
            status,
        });
    }

    /// Runs `step` again and again, `pace` apart, until [`Load::finish`]; each step records its own samples.
    pub fn spawn<F, Fut>(&self, pace: Duration, mut step: F)
    where
        F: FnMut(Load) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let load = self.clone();
        let handle = tokio::spawn(async move {
            while !load.stop.load(Ordering::SeqCst) {
                step(load.clone()).await;
                tokio::time::sleep(pace).await;
            }
        });
        self.tasks.lock().unwrap().push(handle);
    }

    /// Stops the tasks, waits for their last requests, and returns every sample.
    pub async fn finish(&self) -> Vec<Sample> {
        self.stop.store(true, Ordering::SeqCst);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap());
        for t in tasks {
            t.await.expect("a load task panicked");
        }
        self.samples()
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap().clone()
    }
}

/// Sends `req` (30 s timeout); the status, 0 when no answer came.
pub async fn status_of(req: reqwest::RequestBuilder) -> u16 {
    match req.timeout(Duration::from_secs(30)).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// Non-2xx statuses and how often each was answered (0 = no answer).
pub fn failures(samples: &[Sample]) -> BTreeMap<u16, usize> {
    let mut out = BTreeMap::new();
    for s in samples.iter().filter(|s| !(200..300).contains(&s.status)) {
        *out.entry(s.status).or_insert(0) += 1;
    }
    out
}

/// The figures of one fault, printed as one `FAULT-REPORT:` line that `scripts/faults` collects.
pub struct Report {
    pub fault: &'static str,
    pub sent: usize,
    pub failed: BTreeMap<u16, usize>,
    pub rows_lost: usize,
    pub duplicate_rows: usize,
    pub recovery_ms: u128,
    pub notes: String,
}

impl Report {
    /// Prints the line, then asserts that nothing was lost or duplicated.
    pub fn print_and_check(&self) {
        let failed = self
            .failed
            .iter()
            .map(|(status, n)| format!("{status}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "FAULT-REPORT: {} sent={} failed={{{failed}}} rows_lost={} duplicate_rows={} recovery_ms={}{}",
            self.fault,
            self.sent,
            self.rows_lost,
            self.duplicate_rows,
            self.recovery_ms,
            if self.notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.notes)
            }
        );
        assert_eq!(self.rows_lost, 0, "{}: rows lost", self.fault);
        assert_eq!(self.duplicate_rows, 0, "{}: duplicate rows", self.fault);
    }
}
