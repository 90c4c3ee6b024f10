//! The fault-injection suite (issue 7): a worker SIGKILLed while it deletes a tenant, Temporal stopped and
//! restarted during a burst of registrations, PostgreSQL stopped and restarted under a steady request load,
//! Redis killed and restarted under load with rate limiting on. Each test drives real services, asserts
//! that nothing is lost, duplicated or stuck, and prints one `FAULT-REPORT:` line with its figures
//! (`scripts/faults` runs this binary and collects them). PostgreSQL faults use a private cluster
//! (`pg_createcluster`, root needed), never the shared server the other tests use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use temporalio_client::WorkflowExecutionStatus;
use tenantry_testkit::sqlx::{self, Connection as _, PgPool};
use tenantry_testkit::{TestApp, TestAppBuilder};
use uuid::Uuid;

use support::*;

/// Fault tests are about faults, not hashing: the cheapest Argon2 parameters the settings accept keep a
/// burst of registrations from queueing behind the hasher on two cores.
fn app() -> TestAppBuilder {
    TestApp::builder()
        .env("ARGON2_MEMORY_KIB", "8")
        .env("ARGON2_ITERATIONS", "1")
}

/// A request against the app, with the tenant header and bearer token when given.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    slug: String,
    token: String,
}

impl Api {
    fn new(app: &TestApp, slug: &str, token: &str) -> Self {
        Self {
            http: app.http.clone(),
            base: app.url(""),
            slug: slug.to_owned(),
            token: token.to_owned(),
        }
    }

    fn public(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    fn scoped(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.public(method, path)
            .header("x-tenant-slug", &self.slug)
            .bearer_auth(&self.token)
    }

    async fn register(&self, email: &str, slug: &str) -> u16 {
        let body = json!({"email": email, "password": PASSWORD, "full_name": "Grace Hopper", "tenant_name": "Compilers", "tenant_slug": slug});
        status_of(
            self.public(Method::POST, "/api/v1/auth/register")
                .json(&body),
        )
        .await
    }
}

async fn tenant_of(pool: &PgPool, slug: &str) -> (Uuid, Uuid) {
    sqlx::query_as(
        "SELECT id, registered_by_user_id FROM public.tenants WHERE slug = $1 AND registered_by_user_id IS NOT NULL",
    )
    .bind(slug)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn tenant_status(pool: &PgPool, slug: &str) -> Option<String> {
    sqlx::query_scalar("SELECT status FROM public.tenants WHERE slug = $1")
        .bind(slug)
        .fetch_optional(pool)
        .await
        .unwrap()
}

async fn execution_status(pool: &PgPool, workflow_id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT status FROM public.workflow_executions WHERE workflow_id = $1")
        .bind(workflow_id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// Waits until `slug` is ready and its provisioning is recorded as completed.
async fn wait_provisioned(app: &TestApp, slug: &str, timeout: Duration) {
    wait_for(&format!("{slug} to be ready"), timeout, || async {
        tenant_status(&app.pool, slug).await.as_deref() == Some("ready")
            && execution_status(&app.pool, &format!("tenant-provision-{slug}"))
                .await
                .as_deref()
                == Some("completed")
    })
    .await;
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

// ---------------------------------------------------------------------------------------------------------
// 1. A worker SIGKILLed in the middle of tenant deletion

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_during_tenant_deletion_still_deletes_it_exactly_once() {
    let app = app().without_worker().spawn().await.unwrap();
    let client = app.temporal().await;
    let tenant_workload: &[&str] = &["--workload", "tenant"];

    // A ready tenant with data, two live sessions and a pending invite.
    let slug = unique("doomed-");
    let email = format!("{}@example.com", unique("owner-"));
    let mut worker = spawn_worker(&app.vars, tenant_workload, &[]);
    assert_eq!(register(&app, &email, &slug).await, 202);
    wait_provisioned(&app, &slug, Duration::from_secs(60)).await;
    let (tenant, owner) = tenant_of(&app.pool, &slug).await;
    let (sid, token) = app.session_token(owner, Some(tenant)).await.unwrap();
    let (other_sid, _) = app.session_token(owner, Some(tenant)).await.unwrap();
    let api = Api::new(&app, &slug, &token);
    let created = status_of(
        api.scoped(Method::POST, "/api/v1/projects")
            .json(&json!({"name": "Analytical Engine"})),
    )
    .await;
    assert_eq!(created, 201);
    sqlx::query(
        "INSERT INTO public.tenant_invites (id, tenant_id, email, token_hash, invited_by_user_id, expires_at) \
         VALUES ($1, $2, 'invitee@example.com', $3, $4, now() + interval '7 days')",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(format!("{:064x}", Uuid::now_v7().as_u128()))
    .bind(owner)
    .execute(&app.pool)
    .await
    .unwrap();

    // From here on the worker dawdles in the deletion steps whose timeouts let a test wait them out (10 s
    // each; the others are 30 and 60 s), so it can be killed while one runs.
    sigkill(&mut worker);
    let steps = [
        "soft_delete_tenant",
        "set_tenant_status",
        "complete_execution",
    ];
    let delays = steps
        .iter()
        .map(|s| format!("{s}=3000"))
        .collect::<Vec<_>>()
        .join(",");
    let delayed = [("TENANTRY_TEST_ACTIVITY_DELAYS", delays.as_str())];
    worker = spawn_worker(&app.vars, tenant_workload, &delayed);

    // Meanwhile clients keep asking: the tenant is gone for them the moment the API accepts the deletion.
    let load = Load::default();
    let probe = api.clone();
    load.spawn(Duration::from_millis(200), move |l| {
        let api = probe.clone();
        async move {
            let sent = Instant::now();
            l.record(
                "me",
                sent,
                status_of(api.scoped(Method::GET, "/api/v1/users/me")).await,
            );
            let sent = Instant::now();
            let path = format!("/api/v1/tenants/{}/provisioning", api.slug);
            l.record(
                "provisioning",
                sent,
                status_of(api.public(Method::GET, &path)).await,
            );
        }
    });

    let sent = Instant::now();
    let deleted = status_of(
        api.scoped(Method::DELETE, &format!("/api/v1/tenants/{slug}"))
            .json(&json!({"password": PASSWORD, "confirm": slug})),
    )
    .await;
    load.record("delete", sent, deleted);
    assert_eq!(deleted, 202);
    let accepted_at = Instant::now();
    let workflow_id = format!("tenant-deletion-{tenant}");

    let mut kills = 0;
    for step in steps {
        wait_for(&format!("{step} to run"), Duration::from_secs(60), || {
            activity_running(&client, &workflow_id, step)
        })
        .await;
        sigkill(&mut worker);
        kills += 1;
        worker = spawn_worker(&app.vars, tenant_workload, &delayed);
    }
    let restarted = Instant::now();
    wait_for(
        "the tenant to be deleted",
        Duration::from_secs(60),
        || async {
            tenant_status(&app.pool, &slug).await.as_deref() == Some("deleted")
                && execution_status(&app.pool, &workflow_id).await.as_deref() == Some("completed")
        },
    )
    .await;
    let recovery = restarted.elapsed();
    let temporal_status =
        tenantry_testkit::temporal::wait_closed(&client, &workflow_id, Duration::from_secs(30))
            .await;
    let samples = load.finish().await;
    sigkill(&mut worker);

    // The end state of workflows.md §4.2: the tenant row kept as `deleted`, its schema and schema summary
    // gone, sessions revoked, invites cancelled, memberships, audit and the registrant kept.
    let pool = &app.pool;
    let q = |sql: String| async move { scalar(pool, &sql).await };
    assert_eq!(temporal_status, Some(WorkflowExecutionStatus::Completed));
    let tenant_rows = q(format!(
        "SELECT count(*) FROM public.tenants WHERE slug = '{slug}'"
    ))
    .await;
    assert_eq!(
        q(format!("SELECT count(*) FROM public.tenants WHERE id = '{tenant}' AND status = 'deleted' AND deleted_at IS NOT NULL AND NOT is_active")).await,
        1
    );
    let schema = format!("tenant_{}", slug.replace('-', "_"));
    assert_eq!(
        q(format!(
            "SELECT count(*) FROM pg_namespace WHERE nspname = '{schema}'"
        ))
        .await,
        0,
        "the schema is dropped"
    );
    assert_eq!(
        q(format!(
            "SELECT count(*) FROM public.tenant_schema_versions WHERE tenant_id = '{tenant}'"
        ))
        .await,
        0
    );
    assert_eq!(
        q(format!("SELECT count(*) FROM public.refresh_token_families WHERE id IN ('{sid}', '{other_sid}') AND revoked_at IS NOT NULL AND revoked_reason = 'tenant_deleted'")).await,
        2,
        "both sessions revoked"
    );
    assert_eq!(
        q(format!("SELECT count(*) FROM public.tenant_invites WHERE tenant_id = '{tenant}' AND status = 'cancelled' AND cancelled_at IS NOT NULL")).await,
        1
    );
    assert_eq!(
        q(format!("SELECT count(*) FROM public.tenant_invites WHERE tenant_id = '{tenant}' AND status = 'pending'")).await,
        0
    );
    let memberships = q(format!(
        "SELECT count(*) FROM public.user_tenant_membership WHERE tenant_id = '{tenant}'"
    ))
    .await;
    let registrant = q(format!(
        "SELECT count(*) FROM public.users WHERE id = '{owner}'"
    ))
    .await;
    let audits = q(format!("SELECT count(*) FROM public.audit_logs WHERE tenant_id = '{tenant}' AND action = 'tenant.delete'")).await;
    let executions = q(format!(
        "SELECT count(*) FROM public.workflow_executions WHERE workflow_id = '{workflow_id}'"
    ))
    .await;
    let starts = q(format!("SELECT count(*) FROM public.workflow_start_requests WHERE workflow_id = '{workflow_id}' AND dispatched_at IS NOT NULL")).await;
    // Nothing left half-way anywhere in this database.
    assert_eq!(
        q(
            "SELECT count(*) FROM public.tenants WHERE status IN ('provisioning', 'deleting')"
                .into()
        )
        .await,
        0
    );
    assert_eq!(
        q("SELECT count(*) FROM public.workflow_executions WHERE status NOT IN ('completed', 'failed')".into())
            .await,
        0
    );
    assert_eq!(
        q(
            "SELECT count(*) FROM public.workflow_start_requests WHERE dispatched_at IS NULL"
                .into()
        )
        .await,
        0
    );

    // Once the deletion was accepted, clients saw the tenant as gone (410) and hidden (404) throughout.
    let probes_after = samples.iter().filter(|s| s.sent >= accepted_at).count();
    assert!(
        probes_after >= 10,
        "clients kept asking during the deletion"
    );
    for s in samples.iter().filter(|s| s.sent >= accepted_at) {
        match s.what {
            "me" => assert_eq!(s.status, 410, "GET /users/me on a deleted tenant"),
            "provisioning" => {
                assert_eq!(s.status, 404, "the provisioning view of a deleted tenant")
            }
            _ => {}
        }
    }
    let expected_once = [
        tenant_rows,
        memberships,
        registrant,
        audits,
        executions,
        starts,
    ];
    Report {
        fault: "worker-sigkill-during-deletion",
        sent: samples.len(),
        failed: failures(&samples),
        rows_lost: expected_once.iter().filter(|&&n| n < 1).count(),
        duplicate_rows: expected_once.iter().map(|&n| (n - 1).max(0) as usize).sum(),
        recovery_ms: ms(recovery),
        notes: format!(
            "{kills} kills in {}; recovery = last restart to deleted",
            steps.join("/")
        ),
    }
    .print_and_check();
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// 2. Temporal stopped and restarted during a burst of registrations

/// Registers `n` new tenants at once, recording each answer in `load`; `(slug, status)` of each.
async fn burst(api: &Api, load: &Load, n: usize, prefix: &str) -> Vec<(String, u16)> {
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (api, load, slug) = (api.clone(), load.clone(), unique(prefix));
            tokio::spawn(async move {
                let sent = Instant::now();
                let status = api.register(&format!("{slug}@example.com"), &slug).await;
                load.record("register", sent, status);
                (slug, status)
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for h in handles {
        out.push(h.await.expect("a registration task panicked"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_burst_across_a_temporal_restart_provisions_every_tenant_once() {
    const BEFORE: usize = 15;
    const DURING: usize = 20;
    const AFTER: usize = 15;
    let dir = std::env::temp_dir().join(unique("tenantry-faults-temporal-"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut temporal = OwnTemporal::start(free_port_block(), dir.join("temporal.db"));
    wait_for(
        "our Temporal server to listen",
        Duration::from_secs(30),
        || listening(temporal.port),
    )
    .await;
    let app = app()
        .env("TEMPORAL_HOST", &temporal.host())
        .spawn()
        .await
        .unwrap();
    let api = Api::new(&app, "", "");
    let load = Load::default();
    let mut registrations = Vec::new();

    registrations.extend(burst(&api, &load, BEFORE, "before-").await);

    temporal.stop();
    let stopped = Instant::now();
    let down = burst(&api, &load, DURING, "during-").await;
    // The starts wait in the outbox: the relay has tried and failed, and the API still serves.
    wait_for(
        "a failed dispatch attempt during the outage",
        Duration::from_secs(30),
        || async {
            scalar(&app.pool, "SELECT count(*) FROM public.workflow_start_requests WHERE attempts > 0 AND dispatched_at IS NULL").await > 0
        },
    )
    .await;
    for path in ["/health", "/ready"] {
        let sent = Instant::now();
        let status = status_of(api.public(Method::GET, path)).await;
        load.record("probe", sent, status);
        assert_eq!(status, 200, "{path} while Temporal is down");
    }
    let pending_during_outage = scalar(
        &app.pool,
        "SELECT count(*) FROM public.workflow_start_requests WHERE workflow_type = 'TenantProvisioning' AND dispatched_at IS NULL",
    )
    .await;
    registrations.extend(down);

    temporal.restart();
    let restarted = Instant::now();
    let outage = restarted - stopped;
    let restarted_db: f64 = sqlx::query_scalar("SELECT extract(epoch FROM now())::float8")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let port = temporal.port;
    let listening_again = tokio::spawn(async move {
        while !listening(port).await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        restarted.elapsed()
    });
    registrations.extend(burst(&api, &load, AFTER, "after-").await);

    // Every 202 ends in exactly one ready tenant; nothing stays provisioning.
    let accepted: Vec<&String> = registrations
        .iter()
        .filter(|(_, s)| *s == 202)
        .map(|(slug, _)| slug)
        .collect();
    assert_eq!(
        accepted.len(),
        BEFORE + DURING + AFTER,
        "every registration is accepted: {registrations:?}"
    );
    wait_for(
        "every provisioning start to be dispatched",
        Duration::from_secs(90),
        || async {
            scalar(&app.pool, "SELECT count(*) FROM public.workflow_start_requests WHERE workflow_type = 'TenantProvisioning' AND dispatched_at IS NULL").await == 0
        },
    )
    .await;
    let dispatched = restarted.elapsed();
    let first_dispatch: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM min(dispatched_at))::float8 - $1 FROM public.workflow_start_requests \
         WHERE workflow_type = 'TenantProvisioning' AND dispatched_at >= to_timestamp($1)",
    )
    .bind(restarted_db)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let listening_again = listening_again.await.unwrap();
    wait_for(
        "every tenant of the burst to be provisioned",
        Duration::from_secs(90),
        || async {
            scalar(&app.pool, "SELECT count(*) FROM public.workflow_executions WHERE workflow_type = 'TenantProvisioning' AND status IN ('completed', 'failed')").await
                == accepted.len() as i64
        },
    )
    .await;
    let provisioned = restarted.elapsed();
    let client = app.temporal().await;
    let mut rows_lost = 0;
    let mut duplicate_rows = 0;
    let mut failed_tenants = 0;
    for slug in &accepted {
        let workflow_id = format!("tenant-provision-{slug}");
        let tenants = scalar(
            &app.pool,
            &format!("SELECT count(*) FROM public.tenants WHERE slug = '{slug}'"),
        )
        .await;
        let status = tenant_status(&app.pool, slug).await;
        match status.as_deref() {
            Some("ready") => {
                let (tenant, _) = tenant_of(&app.pool, slug).await;
                let memberships = scalar(&app.pool, &format!("SELECT count(*) FROM public.user_tenant_membership WHERE tenant_id = '{tenant}'")).await;
                rows_lost += usize::from(memberships < 1);
                duplicate_rows += (memberships - 1).max(0) as usize;
                assert_eq!(
                    execution_status(&app.pool, &workflow_id).await.as_deref(),
                    Some("completed")
                );
            }
            Some("failed") => {
                failed_tenants += 1;
                assert_eq!(
                    execution_status(&app.pool, &workflow_id).await.as_deref(),
                    Some("failed"),
                    "a failed tenant has its failure recorded"
                );
            }
            other => panic!("{slug} ended {other:?}"),
        }
        rows_lost += usize::from(tenants < 1);
        duplicate_rows += (tenants - 1).max(0) as usize;
        let users = scalar(
            &app.pool,
            &format!("SELECT count(*) FROM public.users WHERE email = '{slug}@example.com'"),
        )
        .await;
        rows_lost += usize::from(users < 1);
        duplicate_rows += (users - 1).max(0) as usize;
        let starts = scalar(&app.pool, &format!("SELECT count(*) FROM public.workflow_start_requests WHERE workflow_id = '{workflow_id}' AND dispatched_at IS NOT NULL")).await;
        assert_eq!(starts, 1, "one dispatched start request for {slug}");
        assert_eq!(
            tenantry_testkit::temporal::status(&client, &workflow_id).await,
            Some(WorkflowExecutionStatus::Completed),
            "one completed workflow for {slug}"
        );
    }
    assert_eq!(
        failed_tenants, 0,
        "an outage of the workflow engine fails no provisioning"
    );
    assert_eq!(
        scalar(
            &app.pool,
            "SELECT count(*) FROM public.tenants WHERE status = 'provisioning'"
        )
        .await,
        0,
        "no tenant left provisioning"
    );
    assert_eq!(
        scalar(&app.pool, "SELECT count(*) FROM public.tenants").await,
        accepted.len() as i64,
        "one tenant per accepted registration, none for refused ones"
    );
    assert!(
        pending_during_outage >= DURING as i64,
        "the registrations of the outage waited in the outbox ({pending_during_outage})"
    );

    let samples = load.samples();
    Report {
        fault: "temporal-restart-during-registration-burst",
        sent: samples.len(),
        failed: failures(&samples),
        rows_lost,
        duplicate_rows,
        recovery_ms: ms(dispatched),
        notes: format!(
            "{BEFORE} before, {DURING} during the {} ms outage ({pending_during_outage} provisioning starts waiting in the outbox), {AFTER} after; recovery = Temporal restart to the outbox drained (server listening after {} ms, relay dispatching again after {} ms, one start at a time); all {} tenants ready {} ms after the restart",
            ms(outage),
            ms(listening_again),
            (first_dispatch * 1000.0).round(),
            accepted.len(),
            ms(provisioned)
        ),
    }
    .print_and_check();
    app.shutdown().await;
    temporal.stop();
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------------------------------------------------
// 3. PostgreSQL stopped, started and restarted under a steady request load (a private cluster: the shared
//    server at 5432 serves every other test)

/// Requests whose whole life fell inside `[from, to]`.
fn within(samples: &[Sample], from: Instant, to: Instant) -> Vec<&Sample> {
    samples
        .iter()
        .filter(|s| s.sent >= from && s.done <= to)
        .collect()
}

/// Answered as the contract says for a healthy database: a success, or the 409 of a retried create or
/// registration whose Idempotency-Key is held.
fn served(s: &Sample) -> bool {
    (200..300).contains(&s.status) || (s.status == 409 && matches!(s.what, "create" | "register"))
}

/// Time from `issued` (the command that ends or causes the fault) until clients are served again: the later
/// of the first success and the last failure answered after `issued`, among requests sent before `until`.
fn recovery_after(samples: &[Sample], issued: Instant, until: Instant) -> Duration {
    let answered: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.done >= issued && s.sent < until)
        .collect();
    let first_success = answered.iter().filter(|s| served(s)).map(|s| s.done).min();
    let last_failure = answered.iter().filter(|s| !served(s)).map(|s| s.done).max();
    let served_again = first_success
        .expect("no request succeeded after the fault")
        .max(last_failure.unwrap_or(issued));
    served_again - issued
}

/// The last answer to a request retried with one Idempotency-Key.
#[derive(Debug, Clone)]
struct Outcome {
    status: u16,
    body: serde_json::Value,
    attempts: usize,
}

impl Outcome {
    fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }

    /// 409 because another request with the key holds it (the first attempt, or one whose 503 could not
    /// release the key while the database was away).
    fn in_progress(&self) -> bool {
        self.status == 409 && self.detail().contains("Idempotency-Key is in progress")
    }

    /// 409 because an earlier attempt already created the thing (its answer was lost to the fault).
    fn already_exists(&self) -> bool {
        self.status == 409 && self.detail().contains("already exists")
    }
}

const RETRY_ATTEMPTS: usize = 15;

/// Sends the request built by `build` until the answer is final: retried after a second (the `Retry-After`
/// of a 503) on 503 and on "in progress", at most [`RETRY_ATTEMPTS`] times. Every attempt is recorded.
async fn retrying(
    load: &Load,
    what: &'static str,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Outcome {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let sent = Instant::now();
        let (status, body) = match build().timeout(Duration::from_secs(30)).send().await {
            Ok(r) => (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            ),
            Err(_) => (0, serde_json::Value::Null),
        };
        load.record(what, sent, status);
        let outcome = Outcome {
            status,
            body,
            attempts,
        };
        if !(status == 503 || outcome.in_progress()) || attempts == RETRY_ATTEMPTS {
            return outcome;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Runs a blocking `pg_ctlcluster` call without stalling the runtime the API under test shares.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_and_restarted_under_load_answers_503_and_recovers_by_itself() {
    const DOWN: Duration = Duration::from_secs(10);
    // `/ready` may answer from its cache for up to 1 s (api.md §8).
    const READY_CACHE: Duration = Duration::from_millis(1500);
    const SETTLE: Duration = Duration::from_secs(8);
    let cluster = PrivateCluster::start().await;
    let app = app()
        .database_server(&cluster.admin_url())
        .spawn()
        .await
        .unwrap();
    let slug = unique("steady-");
    assert_eq!(
        register(&app, &format!("{slug}@example.com"), &slug).await,
        202
    );
    wait_provisioned(&app, &slug, Duration::from_secs(60)).await;
    let (tenant, owner) = tenant_of(&app.pool, &slug).await;
    let (_, token) = app.session_token(owner, Some(tenant)).await.unwrap();
    let api = Api::new(&app, &slug, &token);
    // Verified, so the owner can also log in and refresh under load.
    sqlx::query("UPDATE public.users SET email_verified_at = now() WHERE id = $1")
        .bind(owner)
        .execute(&app.pool)
        .await
        .unwrap();

    let load = Load::default();
    let projects: Arc<Mutex<Vec<(String, Outcome)>>> = Arc::default();
    let signups: Arc<Mutex<Vec<(String, Outcome)>>> = Arc::default();
    {
        let api = api.clone();
        let email = format!("{slug}@example.com");
        load.spawn(Duration::from_millis(300), move |l| {
            let (api, email) = (api.clone(), email.clone());
            async move {
                let sent = Instant::now();
                let login = api
                    .public(Method::POST, "/api/v1/auth/login")
                    .header("x-tenant-slug", &api.slug)
                    .json(&json!({"email": email, "password": PASSWORD}))
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await;
                let (status, refresh) = match login {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body: serde_json::Value = r.json().await.unwrap_or_default();
                        (status, body["refresh_token"].as_str().map(str::to_owned))
                    }
                    Err(_) => (0, None),
                };
                l.record("login", sent, status);
                if let Some(refresh) = refresh {
                    let sent = Instant::now();
                    let status = status_of(
                        api.public(Method::POST, "/api/v1/auth/refresh")
                            .header("x-tenant-slug", &api.slug)
                            .json(&json!({"refresh_token": refresh})),
                    )
                    .await;
                    l.record("refresh", sent, status);
                }
            }
        });
    }
    for _ in 0..2 {
        let api = api.clone();
        load.spawn(Duration::from_millis(50), move |l| {
            let api = api.clone();
            async move {
                let sent = Instant::now();
                l.record(
                    "me",
                    sent,
                    status_of(api.scoped(Method::GET, "/api/v1/users/me")).await,
                );
            }
        });
    }
    {
        let (api, projects) = (api.clone(), projects.clone());
        load.spawn(Duration::from_millis(100), move |l| {
            let (api, projects) = (api.clone(), projects.clone());
            async move {
                // A careful client: one Idempotency-Key per project, retried while the answer says to.
                let name = unique("project-");
                let key = unique("create-");
                let outcome = retrying(&l, "create", || {
                    api.scoped(Method::POST, "/api/v1/projects")
                        .header("idempotency-key", &key)
                        .json(&json!({"name": name}))
                })
                .await;
                projects.lock().unwrap().push((name, outcome));
                let sent = Instant::now();
                l.record(
                    "list",
                    sent,
                    status_of(api.scoped(Method::GET, "/api/v1/projects")).await,
                );
            }
        });
    }
    {
        let (api, signups) = (api.clone(), signups.clone());
        load.spawn(Duration::from_millis(400), move |l| {
            let (api, signups) = (api.clone(), signups.clone());
            async move {
                let slug = unique("signup-");
                let key = unique("signup-");
                let body = json!({"email": format!("{slug}@example.com"), "password": PASSWORD, "full_name": "Ada Lovelace", "tenant_name": "Engines", "tenant_slug": slug});
                let outcome = retrying(&l, "register", || {
                    api.public(Method::POST, "/api/v1/auth/register")
                        .header("idempotency-key", &key)
                        .json(&body)
                })
                .await;
                signups.lock().unwrap().push((slug, outcome));
            }
        });
    }
    {
        let api = api.clone();
        load.spawn(Duration::from_millis(250), move |l| {
            let api = api.clone();
            async move {
                let sent = Instant::now();
                l.record(
                    "ready",
                    sent,
                    status_of(api.public(Method::GET, "/ready")).await,
                );
            }
        });
    }

    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stopping = Instant::now();
    blocking(|| cluster.stop());
    let down = Instant::now();
    tokio::time::sleep(DOWN).await;
    let starting = Instant::now();
    blocking(|| cluster.start_server());
    let up = Instant::now();
    tokio::time::sleep(SETTLE).await;
    let restarting = Instant::now();
    blocking(|| cluster.restart());
    let restarted = Instant::now();
    tokio::time::sleep(SETTLE).await;
    let samples = load.finish().await;
    let ended = Instant::now();

    // Never a 500 or a dropped connection: a failure is a 503, and only while the database is away. (A 409
    // is the answer to a retry whose key is still held; the outcomes below account for each of those.)
    for s in &samples {
        assert!(
            served(s) || s.status == 503,
            "{} answered {} at {:?}",
            s.what,
            s.status,
            s.sent - started
        );
    }
    let before = within(&samples, started, stopping);
    assert!(before.len() > 20, "load ran before the fault");
    assert!(
        before.iter().all(|s| (200..300).contains(&s.status)),
        "everything succeeds before the fault"
    );
    let outage = within(&samples, down + READY_CACHE, starting);
    assert!(
        outage.len() >= 5,
        "requests were answered while the database was down"
    );
    for s in &outage {
        assert_eq!(s.status, 503, "{} while the database is down", s.what);
    }
    assert!(
        outage.iter().any(|s| s.what == "ready"),
        "/ready was asked while the database was down"
    );
    let after_start = recovery_after(&samples, starting, restarting);
    let after_restart = recovery_after(&samples, restarting, ended);
    for (fault, recovery) in [("start", after_start), ("restart", after_restart)] {
        assert!(
            recovery < Duration::from_secs(10),
            "clients were served again only {recovery:?} after the {fault}"
        );
    }
    // And the last seconds before each next step were all served.
    for (what, to) in [("start", restarting), ("restart", ended)] {
        let tail = within(&samples, to - Duration::from_secs(3), to);
        assert!(tail.len() > 10, "load ran after the {what}");
        for s in &tail {
            assert!(
                served(s),
                "{} answered {} after the {what}",
                s.what,
                s.status
            );
        }
    }

    // Every write a client was told about is there exactly once, and nothing a client gave up on was half done.
    let projects = projects.lock().unwrap().clone();
    let signups = signups.lock().unwrap().clone();
    let schema = format!("tenant_{}", slug.replace('-', "_"));
    let stored: Vec<(Uuid, String)> =
        sqlx::query_as(&format!("SELECT id, name FROM \"{schema}\".projects"))
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let mut stored_ids: HashMap<&str, Vec<Uuid>> = HashMap::new();
    for (id, name) in &stored {
        stored_ids.entry(name.as_str()).or_default().push(*id);
    }
    let mut rows_lost = 0;
    let mut duplicate_rows: usize = stored_ids.values().map(|ids| ids.len() - 1).sum();
    let mut answers_lost = 0;
    for (name, outcome) in &projects {
        let ids = stored_ids.get(name.as_str()).cloned().unwrap_or_default();
        match outcome.status {
            201 => {
                let id: Uuid = outcome.body["id"].as_str().unwrap().parse().unwrap();
                rows_lost += usize::from(!ids.contains(&id));
            }
            // An attempt committed but its answer was lost with the connection: the key stays held (rather than
            // invite a second run) until it lapses; the project exists once.
            409 if outcome.in_progress() || outcome.already_exists() => {
                assert_eq!(ids.len(), 1, "{name}: {outcome:?} without its project");
                answers_lost += 1;
            }
            _ => panic!("{name} ended with {outcome:?}"),
        }
    }
    let accepted: Vec<&String> = signups
        .iter()
        .filter(|(_, o)| o.status == 202)
        .map(|(slug, _)| slug)
        .collect();
    assert!(!accepted.is_empty());
    wait_for(
        "no tenant left provisioning",
        Duration::from_secs(60),
        || async {
            scalar(
                &app.pool,
                "SELECT count(*) FROM public.tenants WHERE status = 'provisioning'",
            )
            .await
                == 0
        },
    )
    .await;
    for (signup, outcome) in &signups {
        let tenants = scalar(
            &app.pool,
            &format!("SELECT count(*) FROM public.tenants WHERE slug = '{signup}'"),
        )
        .await;
        let ready = tenant_status(&app.pool, signup).await.as_deref() == Some("ready");
        match outcome.status {
            202 => rows_lost += usize::from(!ready),
            409 if outcome.in_progress() || outcome.already_exists() => {
                assert!(ready, "{signup}: {outcome:?} without a ready tenant");
                answers_lost += 1;
            }
            _ => panic!("{signup} ended with {outcome:?}"),
        }
        duplicate_rows += (tenants - 1).max(0) as usize;
    }
    duplicate_rows += scalar(
        &app.pool,
        "SELECT count(*) FROM (SELECT 1 FROM public.workflow_executions GROUP BY entity_id, workflow_type HAVING count(*) > 1) d",
    )
    .await as usize;
    duplicate_rows += scalar(
        &app.pool,
        "SELECT count(*) FROM (SELECT 1 FROM public.user_tenant_membership GROUP BY tenant_id HAVING count(*) > 1) d",
    )
    .await as usize;
    let retried = projects
        .iter()
        .chain(&signups)
        .filter(|(_, o)| o.attempts > 1)
        .count();

    Report {
        fault: "postgres-stop-start-and-restart-under-load",
        sent: samples.len(),
        failed: failures(&samples),
        rows_lost,
        duplicate_rows,
        recovery_ms: ms(after_start.max(after_restart)),
        notes: format!(
            "stopped {} ms ({} answers inside the outage, all 503); served again {} ms after `pg_ctlcluster start` ({} ms to start), {} ms after `pg_ctlcluster restart` ({} ms to restart); {} projects and {} registrations, {retried} retried with their Idempotency-Key, {answers_lost} answers lost but the write done once",
            ms(starting - stopping),
            outage.len(),
            ms(after_start),
            ms(up - starting),
            ms(after_restart),
            ms(restarted - restarting),
            projects.len(),
            signups.len()
        ),
    }
    .print_and_check();
    app.shutdown().await;
    drop(cluster);
}

/// Regression: a create that had claimed its Idempotency-Key and was cut off by the database going away
/// answered 503, but the key could not be released while the database was down, so every retry after it
/// came back met 409 "in progress" until the lock lapsed (60 s), against api.md §0.6 ("on a 5xx the key is
/// released so a retry runs again").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_create_cut_off_by_a_database_stop_runs_again_once_it_is_back() {
    let cluster = PrivateCluster::start().await;
    let app = app()
        .database_server(&cluster.admin_url())
        .spawn()
        .await
        .unwrap();
    let slug = unique("cutoff-");
    assert_eq!(
        register(&app, &format!("{slug}@example.com"), &slug).await,
        202
    );
    wait_provisioned(&app, &slug, Duration::from_secs(60)).await;
    let (tenant, owner) = tenant_of(&app.pool, &slug).await;
    let (_, token) = app.session_token(owner, Some(tenant)).await.unwrap();
    let api = Api::new(&app, &slug, &token);
    let schema = format!("tenant_{}", slug.replace('-', "_"));

    // Hold the table so the create blocks inside its handler, after it has claimed the key.
    let mut holder = tenantry_testkit::sqlx::PgConnection::connect(&app.database.url)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query(&format!(
        "LOCK TABLE \"{schema}\".projects IN ACCESS EXCLUSIVE MODE"
    ))
    .execute(&mut holder)
    .await
    .unwrap();
    let key = unique("cutoff-");
    let create = {
        let (api, key) = (api.clone(), key.clone());
        move || {
            api.scoped(Method::POST, "/api/v1/projects")
                .header("idempotency-key", &key)
                .json(&json!({"name": "Difference Engine"}))
        }
    };
    let first = tokio::spawn(status_of(create()));
    wait_for(
        "the create to wait for the table",
        Duration::from_secs(10),
        || async { scalar(&app.pool, "SELECT count(*) FROM pg_locks WHERE NOT granted").await > 0 },
    )
    .await;
    assert_eq!(
        scalar(
            &app.pool,
            &format!("SELECT count(*) FROM public.idempotency_keys WHERE key = '{key}'")
        )
        .await,
        1,
        "the key is claimed"
    );

    blocking(|| cluster.stop());
    assert_eq!(first.await.unwrap(), 503, "cut off by the stop");
    drop(holder);
    blocking(|| cluster.start_server());

    let load = Load::default();
    let outcome = retrying(&load, "create", create).await;
    assert_eq!(
        outcome.status, 201,
        "the retry runs again once the database is back: {outcome:?}"
    );
    assert_eq!(
        scalar(
            &app.pool,
            &format!("SELECT count(*) FROM \"{schema}\".projects")
        )
        .await,
        1
    );
    app.shutdown().await;
    drop(cluster);
}

// ---------------------------------------------------------------------------------------------------------
// 4. Redis killed and restarted under load, with rate limiting on

const BACKEND_REDIS: &str = "tenantry_rate_limit_backend{backend=\"redis\"} ";
const BACKEND_MEMORY: &str = "tenantry_rate_limit_backend{backend=\"memory\"} ";

/// Which backend `/metrics` reports in use (`None` when it cannot be read).
async fn backend_in_use(api: &Api) -> Option<&'static str> {
    let page = api
        .public(Method::GET, "/metrics")
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let value = |series: &str| {
        page.lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    if value(BACKEND_REDIS) == Some(1.0) {
        Some("redis")
    } else if value(BACKEND_MEMORY) == Some(1.0) {
        Some("memory")
    } else {
        None
    }
}

async fn redis_keys(url: &str, pattern: &str) -> Vec<String> {
    let attempt = async {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("KEYS")
            .arg(pattern)
            .query_async::<Vec<String>>(&mut conn)
            .await
    };
    match tokio::time::timeout(Duration::from_secs(5), attempt).await {
        Ok(Ok(keys)) => keys,
        _ => Vec::new(),
    }
}

/// Allowed (non-429) answers among requests sent in `[from, to)`, and how many were limited.
fn admitted(samples: &[Sample], from: Instant, to: Instant) -> (usize, usize) {
    let window = samples.iter().filter(|s| s.sent >= from && s.sent < to);
    window.fold((0, 0), |(ok, limited), s| {
        if s.status == 429 {
            (ok, limited + 1)
        } else {
            (ok + 1, limited)
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_under_load_keeps_limits_and_returns_to_redis() {
    const BURST: usize = 20;
    const RATE: usize = 10;
    let mut redis = OwnRedis::start_on(free_port()).await;
    let app = app()
        .env("RATE_LIMIT_ENABLED", "true")
        .env("GLOBAL_RATE_LIMIT_BURST", &BURST.to_string())
        .env("GLOBAL_RATE_LIMIT_PER_SECOND", &RATE.to_string())
        .env("REDIS_URL", &redis.url())
        .spawn()
        .await
        .unwrap();
    let slug = unique("limited-");
    assert_eq!(
        register(&app, &format!("{slug}@example.com"), &slug).await,
        202
    );
    wait_provisioned(&app, &slug, Duration::from_secs(60)).await;
    let (tenant, owner) = tenant_of(&app.pool, &slug).await;
    let (_, token) = app.session_token(owner, Some(tenant)).await.unwrap();
    let api = Api::new(&app, &slug, &token);
    let prefix = app.vars["RATE_LIMIT_KEY_PREFIX"].clone();
    assert_eq!(backend_in_use(&api).await, Some("redis"));

    // Three clients behind one address, together several times the refill rate.
    let load = Load::default();
    let projects: Arc<Mutex<Vec<(String, u16)>>> = Arc::default();
    {
        let api = api.clone();
        load.spawn(Duration::from_millis(40), move |l| {
            let api = api.clone();
            async move {
                let sent = Instant::now();
                l.record(
                    "me",
                    sent,
                    status_of(api.scoped(Method::GET, "/api/v1/users/me")).await,
                );
            }
        });
    }
    {
        let api = api.clone();
        load.spawn(Duration::from_millis(40), move |l| {
            let api = api.clone();
            async move {
                let sent = Instant::now();
                l.record(
                    "list",
                    sent,
                    status_of(api.scoped(Method::GET, "/api/v1/projects")).await,
                );
            }
        });
    }
    {
        let (api, projects) = (api.clone(), projects.clone());
        load.spawn(Duration::from_millis(40), move |l| {
            let (api, projects) = (api.clone(), projects.clone());
            async move {
                let name = unique("project-");
                let sent = Instant::now();
                let status = status_of(
                    api.scoped(Method::POST, "/api/v1/projects")
                        .json(&json!({"name": name})),
                )
                .await;
                l.record("create", sent, status);
                projects.lock().unwrap().push((name, status));
            }
        });
    }

    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !redis_keys(&redis.url(), &format!("{prefix}*"))
            .await
            .is_empty(),
        "the buckets live in our Redis"
    );
    let killed = Instant::now();
    redis.kill();
    wait_for(
        "the limiter to fall back to memory",
        Duration::from_secs(10),
        || async { backend_in_use(&api).await == Some("memory") },
    )
    .await;
    let failover = killed.elapsed();
    // Redis is optional for readiness: reported down, the API stays ready.
    wait_for(
        "/ready to report Redis down",
        Duration::from_secs(10),
        || async {
            let Ok(r) = api.public(Method::GET, "/ready").send().await else {
                return false;
            };
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            assert_eq!(status, 200, "/ready with Redis down: {body}");
            body["checks"]["redis"]["status"] == "down"
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(4).saturating_sub(killed.elapsed())).await;

    let revived_at = Instant::now();
    let revived = OwnRedis::start_on(redis.port).await;
    wait_for(
        "the limiter to return to Redis",
        Duration::from_secs(20),
        || async {
            backend_in_use(&api).await == Some("redis")
                && !redis_keys(&revived.url(), &format!("{prefix}*"))
                    .await
                    .is_empty()
        },
    )
    .await;
    let recovery = revived_at.elapsed();
    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let samples = load.finish().await;
    let ended = Instant::now();

    // No 5xx, nothing unanswered: only successes and 429s.
    for s in &samples {
        assert!(
            matches!(s.status, 200 | 201 | 429),
            "{} answered {} at {:?}",
            s.what,
            s.status,
            s.sent - started
        );
    }
    // The limit holds in every phase (at most the burst, plus the refill, plus what a fresh store grants),
    // yet lets the refill through (a fallback that refused everything would be an outage too).
    // A request sent just before a window closes may take tokens that refilled while it waited.
    let slack = 5;
    let phases = [
        ("redis", started, killed, BURST),
        ("memory", killed, revived_at, BURST),
        // the memory bucket's remainder until the switch, then a fresh bucket in the empty Redis
        ("back to redis", revived_at, ended, 2 * BURST),
    ];
    let mut figures = Vec::new();
    for (name, from, to, fresh) in phases {
        let (allowed, limited) = admitted(&samples, from, to);
        let secs = (to - from).as_secs_f64();
        let most = fresh + (RATE as f64 * secs).ceil() as usize + slack;
        // (half of what refilled, or of what was asked for should the load have fallen short of that)
        let least = ((RATE as f64 * secs).min((allowed + limited) as f64) / 2.0) as usize;
        assert!(
            allowed <= most,
            "{name}: {allowed} allowed in {secs:.1} s, at most {most} possible"
        );
        assert!(
            allowed >= least,
            "{name}: only {allowed} allowed in {secs:.1} s"
        );
        assert!(limited > 0, "{name}: nothing was limited");
        figures.push(format!(
            "{name} {allowed} allowed/{limited} limited in {secs:.1} s"
        ));
    }
    let (_, limited_after_back) = admitted(&samples, back, ended);
    assert!(limited_after_back > 0, "limited again once back on Redis");

    // Writes: exactly the created (201) projects exist; a limited request wrote nothing.
    let projects = projects.lock().unwrap().clone();
    let schema = format!("tenant_{}", slug.replace('-', "_"));
    let stored: Vec<String> =
        sqlx::query_scalar(&format!("SELECT name FROM \"{schema}\".projects"))
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let created: Vec<&String> = projects
        .iter()
        .filter(|(_, s)| *s == 201)
        .map(|(n, _)| n)
        .collect();
    let rows_lost = created.iter().filter(|n| !stored.contains(n)).count();
    let distinct: HashSet<&String> = stored.iter().collect();
    let duplicate_rows = stored.len() - distinct.len();
    let unexpected: Vec<&&String> = distinct.iter().filter(|n| !created.contains(n)).collect();
    assert!(
        unexpected.is_empty(),
        "projects stored without a 201: {unexpected:?}"
    );
    Report {
        fault: "redis-kill-and-restart-under-load",
        sent: samples.len(),
        failed: failures(&samples),
        rows_lost,
        duplicate_rows,
        recovery_ms: ms(recovery),
        notes: format!(
            "failover to memory {} ms; {}; recovery = Redis restart to buckets back in Redis",
            ms(failover),
            figures.join(", ")
        ),
    }
    .print_and_check();
    app.shutdown().await;
}
