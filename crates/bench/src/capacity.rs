//! `capacity`: many tenants. Provisions N tenants through the real workflow, runs the real
//! `tenantry migrate tenants` over their schemas (nothing pending, stale summary, a migration to apply)
//! at several concurrencies, and compares a tenant-scoped read with 10 tenants and with N in the database.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt as _;
use tenantry_store::TenantMigrations;
use tenantry_testkit::{TestApp, sqlx};

use crate::http::{Target, Workspace, expect};
use crate::load::run_tag;
use crate::procs::command;
use crate::stats::{Samples, Until, drive, op};
use crate::sys::{CpuSnapshot, CpuUse};

/// The provisioning view is polled this often per registration (the brief's 500 ms).
const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
pub struct CapOpts {
    pub tenants: usize,
    /// Registrations in flight at once.
    pub in_flight: usize,
    pub migrate_concurrency: Vec<u16>,
    pub read_requests: u64,
    pub read_concurrency: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationKind {
    /// Every schema current, and `public.tenant_schema_versions` says so.
    NothingPending,
    /// Every schema current, but the summary table is one version behind, so each schema is locked and
    /// its ledger read (what a fan-out after a summary loss, or the first run of a new binary, costs).
    LedgerCheck,
    /// The newest tenant migration must be applied to every schema.
    Apply,
}

impl MigrationKind {
    pub fn short(self) -> &'static str {
        match self {
            MigrationKind::NothingPending => "nothing pending",
            MigrationKind::LedgerCheck => "nothing pending, summary stale",
            MigrationKind::Apply => "one migration to apply",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MigrationKind::NothingPending => "nothing pending",
            MigrationKind::LedgerCheck => {
                "nothing pending, summary stale (ledger checked per schema)"
            }
            MigrationKind::Apply => "one migration to apply (simulated, see below)",
        }
    }
}

#[derive(Debug, Clone)]
pub struct MigrationRun {
    pub kind: MigrationKind,
    pub concurrency: u16,
    pub schemas: usize,
    pub wall: Duration,
    pub summary: String,
}

impl MigrationRun {
    pub fn schemas_per_s(&self) -> f64 {
        self.schemas as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

pub struct CapacityRun {
    pub opts: CapOpts,
    /// The first (up to) 10 tenants, all in flight at once.
    pub first: Samples,
    /// The remaining N − 10, `in_flight` at a time.
    pub bulk: Samples,
    /// CPU used during the bulk provisioning.
    pub cpu: CpuUse,
    pub temporal_pid: Option<String>,
    /// `(tenants in the database, GET /projects latencies)`.
    pub reads: Vec<(i64, Samples)>,
    pub migrations: Vec<MigrationRun>,
    /// What the "apply" runs re-apply, in words.
    pub simulated: String,
    pub vars_note: String,
}

pub async fn run(opts: &CapOpts, bin: &Path) -> anyhow::Result<CapacityRun> {
    let app = TestApp::builder()
        .env("RUST_LOG", "error")
        .spawn()
        .await
        .context("starting tenantry")?;
    let result = run_with(&app, opts, bin).await;
    app.shutdown().await;
    let run = result?;
    print(&run);
    Ok(run)
}

fn print(run: &CapacityRun) {
    println!(
        "first {} tenants, all at once: {}",
        run.first.count(),
        run.first.line()
    );
    println!(
        "provisioned {} more, {} in flight, polling every {} ms: {:.1} tenants/min | register -> ready {}",
        run.bulk.count(),
        run.opts.in_flight,
        POLL.as_millis(),
        run.bulk.rate() * 60.0,
        run.bulk.line()
    );
    println!(
        "CPU during that: temporal dev server {} | tenantry-bench (API + relay + worker + client) {:.1} s | postgres {:.1} s | machine {:.0}% busy over {:.1} s",
        run.cpu
            .temporal
            .map_or_else(|| "not found".to_owned(), |t| format!("{t:.1} s")),
        run.cpu.ours,
        run.cpu.postgres,
        run.cpu.machine_busy * 100.0,
        run.cpu.wall.as_secs_f64()
    );
    for (n, s) in &run.reads {
        println!("GET /api/v1/projects (10) with {n} tenants: {}", s.line());
    }
    for m in &run.migrations {
        println!(
            "tenantry migrate tenants --concurrency {}: {} | {} schemas in {:.2} s = {:.0} schemas/s | {}",
            m.concurrency,
            m.kind.label(),
            m.schemas,
            m.wall.as_secs_f64(),
            m.schemas_per_s(),
            m.summary
        );
    }
}

async fn provision(
    target: &Target,
    tag: &str,
    from: usize,
    count: usize,
    in_flight: usize,
) -> anyhow::Result<Samples> {
    let (t, tag) = (target.clone(), tag.to_owned());
    drive(
        in_flight,
        Until::Count(count as u64),
        op(move |_, seq| {
            let t = t.clone();
            let slug = format!("c{tag}-{}", from as u64 + seq);
            async move {
                t.register_until_ready(&slug, POLL, Duration::from_secs(900))
                    .await?;
                Ok(())
            }
        }),
    )
    .await
}

async fn reads(target: &Target, ws: &Workspace, opts: &CapOpts) -> anyhow::Result<Samples> {
    let (t, ws) = (target.clone(), ws.clone());
    // Warm-up: every pooled connection sees the tenant once.
    drive(
        opts.read_concurrency,
        Until::Count(50),
        op({
            let (t, ws) = (t.clone(), ws.clone());
            move |_, _| expect(t.member(t.get("/api/v1/projects"), &ws), 200)
        }),
    )
    .await?;
    drive(
        opts.read_concurrency,
        Until::Count(opts.read_requests),
        op(move |_, _| expect(t.member(t.get("/api/v1/projects"), &ws), 200)),
    )
    .await
}

async fn tenant_count(app: &TestApp) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM public.tenants WHERE deleted_at IS NULL")
            .fetch_one(&app.pool)
            .await?,
    )
}

async fn run_with(app: &TestApp, opts: &CapOpts, bin: &Path) -> anyhow::Result<CapacityRun> {
    let target = Target::of(app);
    let tag = run_tag();
    let first_n = opts.tenants.min(10);
    eprintln!("capacity: provisioning the first {first_n} tenants…");
    let first = provision(&target, &tag, 0, first_n, first_n).await?;
    let ws = target.claim(&format!("c{tag}-0")).await?;
    for i in 0..10 {
        target.create_project(&ws, &format!("Project {i}")).await?;
    }
    let mut read_runs = Vec::new();
    read_runs.push((tenant_count(app).await?, reads(&target, &ws, opts).await?));

    let temporal_pid = crate::sys::temporal_server_pid(&app.settings.temporal_host);
    let before = CpuSnapshot::take(temporal_pid.as_deref(), &[]);
    let rest = opts.tenants - first_n;
    eprintln!(
        "capacity: provisioning {rest} more tenants, {} in flight…",
        opts.in_flight
    );
    let bulk = provision(&target, &tag, first_n, rest, opts.in_flight).await?;
    let after = CpuSnapshot::take(temporal_pid.as_deref(), &[]);
    anyhow::ensure!(
        bulk.errors == 0 && first.errors == 0,
        "provisioning failed: {}",
        bulk.first_error
            .as_deref()
            .or(first.first_error.as_deref())
            .unwrap_or("?")
    );
    read_runs.push((tenant_count(app).await?, reads(&target, &ws, opts).await?));

    let migrations = TenantMigrations::embedded();
    let latest = migrations
        .iter()
        .last()
        .context("no tenant migrations embedded")?;
    // Tenant migrations are embedded in the binary at compile time (`sqlx::migrate!` in
    // crates/store/src/migrate/tenant.rs) and the CLI has no directory override, so "a new migration"
    // is simulated: the newest file's ledger row is deleted and its objects dropped in every schema.
    let drop_objects = match latest.description() {
        "projects" => "DROP TABLE IF EXISTS projects CASCADE",
        other => anyhow::bail!(
            "the newest tenant migration is now {} ({other}); teach capacity.rs which objects it creates",
            latest.version()
        ),
    };
    let simulated = format!(
        "`migrations/tenant/{:04}_{}.sql` (the newest tenant migration) made pending again in every schema: its row \
         deleted from `<schema>._tenantry_migrations`, `{drop_objects}` run in the schema, and \
         `public.tenant_schema_versions.version` set to {}",
        latest.version(),
        latest.description(),
        latest.version() - 1
    );
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT t.schema_name FROM public.tenants AS t \
         JOIN pg_catalog.pg_namespace AS n ON n.nspname = t.schema_name \
         WHERE t.deleted_at IS NULL AND t.status IN ('ready', 'provisioning') ORDER BY t.created_at",
    )
    .fetch_all(&app.pool)
    .await?;

    let mut runs = Vec::new();
    for &c in &opts.migrate_concurrency {
        for kind in [
            MigrationKind::NothingPending,
            MigrationKind::LedgerCheck,
            MigrationKind::Apply,
        ] {
            match kind {
                MigrationKind::NothingPending => {}
                MigrationKind::LedgerCheck => {
                    mark_summary_behind(app, latest.version()).await?;
                }
                MigrationKind::Apply => {
                    unapply(app, &schemas, latest.version(), drop_objects).await?;
                    mark_summary_behind(app, latest.version()).await?;
                }
            }
            eprintln!(
                "capacity: tenantry migrate tenants --concurrency {c} ({})…",
                kind.label()
            );
            let run = migrate_cli(app, bin, c, kind, schemas.len()).await?;
            runs.push(run);
        }
    }

    Ok(CapacityRun {
        opts: opts.clone(),
        first,
        bulk,
        cpu: CpuUse::between(&before, &after),
        temporal_pid,
        reads: read_runs,
        migrations: runs,
        simulated,
        vars_note: format!(
            "DATABASE_URL of the benchmark's database, DATABASE_MAX_CONNECTIONS={}",
            app.settings.database_max_connections
        ),
    })
}

async fn mark_summary_behind(app: &TestApp, latest: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE public.tenant_schema_versions SET version = $1")
        .bind(latest - 1)
        .execute(&app.pool)
        .await?;
    Ok(())
}

/// Makes version `latest` pending again in every schema (ledger row deleted, objects dropped).
async fn unapply(
    app: &TestApp,
    schemas: &[String],
    latest: i64,
    drop_objects: &str,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(schemas.iter().cloned())
        .map(|schema| {
            let pool = app.pool.clone();
            async move {
                let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
                let mut tx = pool.begin().await?;
                sqlx::query(&format!(
                    "DELETE FROM {quoted}.{} WHERE version = $1",
                    tenantry_store::migrate::LEDGER_TABLE
                ))
                .persistent(false)
                .bind(latest)
                .execute(&mut *tx)
                .await?;
                sqlx::query("SELECT set_config('search_path', $1, true)")
                    .bind(&quoted)
                    .execute(&mut *tx)
                    .await?;
                sqlx::raw_sql(drop_objects).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    for r in results {
        r?;
    }
    eprintln!(
        "capacity: made v{latest} pending in {} schemas in {:.1} s",
        schemas.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `tenantry migrate tenants --concurrency c`, timed from spawn to exit.
async fn migrate_cli(
    app: &TestApp,
    bin: &Path,
    concurrency: u16,
    kind: MigrationKind,
    schemas: usize,
) -> anyhow::Result<MigrationRun> {
    let c = concurrency.to_string();
    let started = Instant::now();
    let out = command(
        bin,
        &["migrate", "tenants", "--concurrency", &c],
        &app.vars,
        &[],
    )
    .output()
    .await
    .context("running tenantry migrate tenants")?;
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("migrated "))
        .unwrap_or("")
        .to_owned();
    anyhow::ensure!(
        out.status.success(),
        "tenantry migrate tenants --concurrency {c} exited with {}: {}\n{}",
        out.status,
        summary,
        String::from_utf8_lossy(&out.stderr)
    );
    if kind == MigrationKind::Apply {
        anyhow::ensure!(
            summary.starts_with(&format!("migrated {schemas},")),
            "expected every schema migrated, got `{summary}`"
        );
    }
    Ok(MigrationRun {
        kind,
        concurrency,
        schemas,
        wall,
        summary,
    })
}
