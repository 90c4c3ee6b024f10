//! Scale-out on one machine: two `tenantry serve` and two `tenantry worker` processes on one database take a
//! burst of registrations spread over both APIs. Every registration is accepted and ends in exactly one
//! `ready` tenant: one row, one schema, one outbox row and one completed provisioning workflow each, whichever
//! API took it, whichever relay dispatched it and whichever worker ran its steps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tenantry_testkit::TestApp;
use tenantry_testkit::sqlx::{self, PgPool};

const REGISTRATIONS: usize = 200;
const PASSWORD: &str = "violet-Harbor-93-lantern";

/// The `tenantry` child processes of the test, stopped (SIGTERM, then SIGKILL) when dropped, also on panic.
struct Processes {
    children: Vec<(String, Child)>,
    logs: PathBuf,
}

impl Processes {
    fn new() -> Self {
        let logs = std::env::temp_dir().join(format!(
            "tenantry-scale-out-{}",
            uuid::Uuid::now_v7().simple()
        ));
        std::fs::create_dir_all(&logs).unwrap();
        Self {
            children: Vec::new(),
            logs,
        }
    }

    /// `tenantry <args>` with the app's settings plus `extra`; its stderr goes to `<name>.log`.
    fn spawn(
        &mut self,
        name: &str,
        args: &[&str],
        vars: &HashMap<String, String>,
        extra: &[(&str, &str)],
    ) {
        let log = std::fs::File::create(self.logs.join(format!("{name}.log"))).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantry"));
        cmd.args(args)
            .env_clear()
            .envs(vars)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Ok(path) = std::env::var("PATH") {
            cmd.env("PATH", path);
        }
        cmd.envs(extra.iter().copied());
        self.children
            .push((name.to_owned(), cmd.spawn().expect("tenantry starts")));
    }

    /// Panics, with the tail of its log, if a process has exited.
    fn assert_running(&mut self) {
        for (name, child) in &mut self.children {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(self.logs.join(format!("{name}.log")))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                panic!(
                    "{name} exited ({status}); last log lines:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        }
    }

    fn stop(&mut self) {
        for (_, child) in &self.children {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        for (_, child) in &mut self.children {
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.logs);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn count(pool: &PgPool, sql: &str, prefix: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .bind(prefix)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apis_and_two_workers_turn_a_burst_of_registrations_into_one_ready_tenant_each() {
    // The in-process API of TestApp stays idle: the database, settings and Temporal queues are what is used.
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    // Hashing is not what scales out here; cheap parameters keep 200 registrations quick in debug builds.
    let cheap_hashing = [("ARGON2_MEMORY_KIB", "1024"), ("ARGON2_ITERATIONS", "1")];
    let mut procs = Processes::new();
    let mut apis = Vec::new();
    for n in 1..=2 {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut extra = vec![("BIND_ADDR", addr.as_str())];
        extra.extend(cheap_hashing);
        procs.spawn(&format!("api{n}"), &["serve"], &app.vars, &extra);
        apis.push(format!("http://{addr}"));
    }
    for n in 1..=2 {
        procs.spawn(
            &format!("worker{n}"),
            &["worker"],
            &app.vars,
            &[("WORKER_HEALTH_PORT", "0")],
        );
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let started = Instant::now();
    for api in &apis {
        loop {
            procs.assert_running();
            let ready = http
                .get(format!("{api}/ready"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{api} not ready within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // The burst: all at once, alternating between the two APIs.
    let prefix = format!("so{}-", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let burst = Instant::now();
    let sent: Vec<_> = (0..REGISTRATIONS)
        .map(|i| {
            let http = http.clone();
            let api = apis[i % 2].clone();
            let slug = format!("{prefix}{i:03}");
            tokio::spawn(async move {
                let body = json!({
                    "email": format!("{slug}@example.com"),
                    "password": PASSWORD,
                    "full_name": "Grace Hopper",
                    "tenant_name": format!("Tenant {i}"),
                    "tenant_slug": slug,
                });
                let status = http
                    .post(format!("{api}/api/v1/auth/register"))
                    .json(&body)
                    .timeout(Duration::from_secs(60))
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16());
                (i % 2, status)
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(REGISTRATIONS);
    for request in sent {
        answers.push(request.await.unwrap());
    }
    let accepted_in = burst.elapsed();
    let mut per_api: BTreeMap<(usize, u16), usize> = BTreeMap::new();
    for (api, status) in &answers {
        *per_api.entry((*api, *status)).or_default() += 1;
    }
    assert!(
        answers.iter().all(|(_, s)| *s == 202),
        "every registration is accepted; (api, status) → count: {per_api:?}"
    );

    // Everything provisions: poll the database until every tenant of the burst is ready.
    let pool = &app.pool;
    let like = format!("{prefix}%");
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        procs.assert_running();
        let ready = count(
            pool,
            "SELECT count(*) FROM public.tenants WHERE slug LIKE $1 AND status = 'ready'",
            &like,
        )
        .await;
        if ready == REGISTRATIONS as i64 {
            break;
        }
        if Instant::now() > deadline {
            let by_status: Vec<(String, i64)> = sqlx::query_as(
                "SELECT status, count(*) FROM public.tenants WHERE slug LIKE $1 GROUP BY status",
            )
            .bind(&like)
            .fetch_all(pool)
            .await
            .unwrap();
            panic!("only {ready} of {REGISTRATIONS} tenants ready after 150 s: {by_status:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all_ready = burst.elapsed();
    // The execution record is completed by the workflow's last step, after the status turned ready.
    let deadline = Instant::now() + Duration::from_secs(60);
    let completed_sql = "SELECT count(*) FROM public.workflow_executions \
         WHERE workflow_type = 'TenantProvisioning' AND workflow_id LIKE 'tenant-provision-' || $1 \
           AND status = 'completed'";
    while count(pool, completed_sql, &like).await < REGISTRATIONS as i64 {
        assert!(
            Instant::now() < deadline,
            "provisioning executions not all completed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    procs.assert_running();

    let n = REGISTRATIONS as i64;
    // Exactly one tenant row per slug, every one ready (none left provisioning, pending or failed).
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM public.tenants WHERE slug LIKE $1",
            &like
        )
        .await,
        n
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(DISTINCT slug) FROM public.tenants WHERE slug LIKE $1 AND status = 'ready' AND is_active",
            &like
        )
        .await,
        n
    );
    // One schema per tenant, each fully migrated, with its summary row.
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM public.tenants t JOIN pg_namespace s ON s.nspname = t.schema_name \
             WHERE t.slug LIKE $1",
            &like
        )
        .await,
        n
    );
    let latest = tenantry_store::TenantMigrations::embedded().latest_version();
    assert_eq!(
        count(
            pool,
            &format!(
                "SELECT count(*) FROM public.tenants t JOIN public.tenant_schema_versions v ON v.tenant_id = t.id \
                 WHERE t.slug LIKE $1 AND v.version = {latest} AND v.last_error IS NULL"
            ),
            &like
        )
        .await,
        n
    );
    // One admin membership per tenant, held by its registrant.
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM public.user_tenant_membership m JOIN public.tenants t ON t.id = m.tenant_id \
             WHERE t.slug LIKE $1 AND m.user_id = t.registered_by_user_id AND m.is_active",
            &like
        )
        .await,
        n
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM public.user_tenant_membership m JOIN public.tenants t ON t.id = m.tenant_id \
             WHERE t.slug LIKE $1",
            &like
        )
        .await,
        n
    );
    // One provisioning start request per registration, each dispatched; one completed workflow each.
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM public.workflow_start_requests \
             WHERE workflow_id LIKE 'tenant-provision-' || $1 AND workflow_type = 'TenantProvisioning' \
               AND dispatched_at IS NOT NULL",
            &like
        )
        .await,
        n
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM public.workflow_start_requests WHERE workflow_id LIKE 'tenant-provision-' || $1",
            &like
        )
        .await,
        n
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM public.workflow_executions WHERE workflow_id LIKE 'tenant-provision-' || $1",
            &like
        )
        .await,
        n
    );
    assert_eq!(count(pool, completed_sql, &like).await, n);
    // Each tenant's migration ledger holds every file once.
    let schemas: Vec<(String,)> =
        sqlx::query_as("SELECT schema_name FROM public.tenants WHERE slug LIKE $1")
            .bind(&like)
            .fetch_all(pool)
            .await
            .unwrap();
    let files = tenantry_store::TenantMigrations::embedded().len() as i64;
    for (schema,) in &schemas {
        let applied: i64 = sqlx::query_scalar(&format!(
            "SELECT count(DISTINCT version) FROM \"{schema}\"._tenantry_migrations"
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        let rows: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM \"{schema}\"._tenantry_migrations"
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!((applied, rows), (files, files), "{schema}");
    }

    println!(
        "SCALE-OUT: {REGISTRATIONS} registrations over 2 APIs ({} + {} accepted with 202) and 2 workers \
         (pooler: {}): all accepted in {:.1} s, all ready {:.1} s after the burst began",
        per_api.get(&(0, 202)).copied().unwrap_or(0),
        per_api.get(&(1, 202)).copied().unwrap_or(0),
        app.settings.database_pooler.as_str(),
        accepted_in.as_secs_f64(),
        all_ready.as_secs_f64(),
    );
    procs.stop();
    app.shutdown().await;
}
