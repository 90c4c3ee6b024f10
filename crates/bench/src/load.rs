//! `load`: HTTP scenarios at fixed concurrency for a fixed time against a running Tenantry — either the
//! API, relay and worker in this process (a `TestApp`), or the real binary as separate `tenantry serve`
//! and `tenantry worker` processes with the same settings — with their resident memory.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use tenantry_testkit::{TestApp, sqlx};

use crate::http::{Target, Workspace, expect};
use crate::procs::{Child, free_port};
use crate::stats::{Samples, Until, drive, op};
use crate::sys::{CpuSnapshot, CpuUse, Memory};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Where {
    /// API, relay and worker inside the bench process.
    InProcess,
    /// `tenantry serve` and `tenantry worker` as child processes.
    Process,
    /// Both, one after the other.
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    InProcess,
    Process,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::InProcess => "in-process",
            Mode::Process => "separate processes",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoadOpts {
    pub seconds: u64,
    pub concurrency: usize,
    /// Registrations one at a time (unloaded register → ready latency, 20 ms polling).
    pub sequential: usize,
    /// Registrations driven concurrently (100 ms polling).
    pub registrations: usize,
    pub registration_concurrency: usize,
}

pub struct Scenario {
    /// File-name friendly key, e.g. `projects-list`.
    pub key: &'static str,
    pub name: &'static str,
    pub samples: Samples,
    /// Resident memory of the process serving the API right after the scenario.
    pub api_rss_after: Memory,
}

/// Resident memory of one process at the three moments of a run.
pub struct MemRow {
    pub process: String,
    /// Started, `/health` answering, nothing done yet.
    pub started: Memory,
    /// After the setup (tenants provisioned, projects created) and a short pause.
    pub idle: Memory,
    /// At the end of the load phase; its `hwm` is the peak over the whole run.
    pub loaded: Memory,
}

pub struct LoadRun {
    pub mode: Mode,
    pub opts: LoadOpts,
    pub argon2: String,
    pub argon2_raw: f64,
    pub pool_size: String,
    pub select1: Samples,
    pub scenarios: Vec<Scenario>,
    pub sequential: Samples,
    pub registrations: Samples,
    pub memory: Vec<MemRow>,
    pub cpu: CpuUse,
}

impl LoadRun {
    /// Where it ran, for tables and plot legends.
    pub fn label(&self) -> String {
        self.mode.label().to_owned()
    }
}

pub async fn run(
    opts: &LoadOpts,
    place: Where,
    bin: Option<&Path>,
) -> anyhow::Result<Vec<LoadRun>> {
    let modes: &[Mode] = match place {
        Where::InProcess => &[Mode::InProcess],
        Where::Process => &[Mode::Process],
        Where::Both => &[Mode::InProcess, Mode::Process],
    };
    let mut runs = Vec::new();
    for &mode in modes {
        println!("== load, {} ==", mode.label());
        let run = run_mode(opts, mode, bin).await?;
        print(&run);
        runs.push(run);
    }
    Ok(runs)
}

fn print(run: &LoadRun) {
    println!(
        "raw argon2id verify ({}), all cores: {:.1}/s",
        run.argon2, run.argon2_raw
    );
    println!(
        "SELECT 1 on the app's pool ({} connections), concurrency {}: {}",
        run.pool_size,
        run.opts.concurrency,
        run.select1.line()
    );
    for s in &run.scenarios {
        println!(
            "{:<28} {} | API RSS after {:.1} MiB",
            s.name,
            s.samples.line(),
            s.api_rss_after.rss_mib()
        );
    }
    println!(
        "register -> ready, one at a time (n={}): {}",
        run.opts.sequential,
        run.sequential.line()
    );
    println!(
        "register -> ready, {} at concurrency {}: {} ({:.0} completions/min)",
        run.opts.registrations,
        run.opts.registration_concurrency,
        run.registrations.line(),
        run.registrations.rate() * 60.0
    );
    for m in &run.memory {
        println!(
            "RSS {}: started {:.1} MiB | idle {:.1} MiB | end of load {:.1} MiB | peak {:.1} MiB",
            m.process,
            m.started.rss_mib(),
            m.idle.rss_mib(),
            m.loaded.rss_mib(),
            m.loaded.hwm_mib()
        );
    }
}

/// A short random tag: Temporal remembers workflow ids (derived from slugs) across runs.
pub fn run_tag() -> String {
    uuid::Uuid::now_v7().simple().to_string()[24..].to_owned()
}

async fn run_mode(opts: &LoadOpts, mode: Mode, bin: Option<&Path>) -> anyhow::Result<LoadRun> {
    let builder = TestApp::builder().env("RUST_LOG", "error");
    let builder = match mode {
        Mode::InProcess => builder,
        // The separate processes do this work; the app only provides the database and settings.
        Mode::Process => builder.without_worker().without_relay(),
    };
    let app = builder.spawn().await.context("starting tenantry")?;
    let mut children = Vec::new();
    let result = run_with(&app, opts, mode, bin, &mut children).await;
    for c in children {
        c.stop(Duration::from_secs(10)).await;
    }
    if mode == Mode::Process {
        // The separate worker created the app's cleanup schedule on the shared Temporal server.
        if let Some(client) = app.connection.get() {
            let _ =
                tenantry_workflows::schedule::delete_cleanup_schedule(&client, &app.settings).await;
        }
    }
    app.shutdown().await;
    result
}

async fn run_with(
    app: &TestApp,
    opts: &LoadOpts,
    mode: Mode,
    bin: Option<&Path>,
    children: &mut Vec<Child>,
) -> anyhow::Result<LoadRun> {
    let duration = Duration::from_secs(opts.seconds);
    let target = match mode {
        Mode::InProcess => Target::of(app),
        Mode::Process => {
            let bin = bin.context("separate processes need the tenantry binary")?;
            let port = free_port()?;
            let bind = format!("127.0.0.1:{port}");
            children.push(Child::spawn(
                bin,
                &["serve"],
                &app.vars,
                &[("BIND_ADDR", bind.as_str())],
            )?);
            children.push(Child::spawn(
                bin,
                &["worker"],
                &app.vars,
                &[("WORKER_HEALTH_PORT", "0")],
            )?);
            let target = Target::new(format!("http://{bind}"))?;
            if let Err(e) = target.wait_healthy(Duration::from_secs(30)).await {
                for c in children.iter_mut() {
                    c.check_alive()?;
                }
                return Err(e);
            }
            target
        }
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = memory(mode, children);

    let tag = run_tag();
    let reader = target.workspace(&format!("lr{tag}")).await?;
    let writer = target.workspace(&format!("lw{tag}")).await?;
    for i in 0..50 {
        target
            .create_project(&reader, &format!("Project {i:02}"))
            .await?;
    }
    // Warm-up: connections, tenant cache, prepared statements.
    for _ in 0..3 {
        expect(target.get("/health"), 200).await?;
        expect(target.member(target.get("/api/v1/users/me"), &reader), 200).await?;
        expect(target.member(target.get("/api/v1/projects"), &reader), 200).await?;
    }
    for c in children.iter_mut() {
        c.check_alive()?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = memory(mode, children);

    let temporal_pid = crate::sys::temporal_server_pid(&app.settings.temporal_host);
    let pids: Vec<u32> = children.iter().map(Child::pid).collect();
    let cpu_before = CpuSnapshot::take(temporal_pid.as_deref(), &pids);

    let mut scenarios = Vec::new();
    let health = {
        let t = target.clone();
        drive(
            opts.concurrency,
            Until::Elapsed(duration),
            op(move |_, _| expect(t.get("/health"), 200)),
        )
        .await?
    };
    scenarios.push(Scenario {
        key: "health",
        name: "GET /health",
        samples: health,
        api_rss_after: api_memory(mode, children),
    });
    let login = crate::login::logins(
        &target,
        &reader.slug,
        &reader.email,
        opts.concurrency,
        duration,
    )
    .await?;
    scenarios.push(Scenario {
        key: "login",
        name: "POST /api/v1/auth/login",
        samples: login,
        api_rss_after: api_memory(mode, children),
    });
    let me = member_get(
        &target,
        &reader,
        "/api/v1/users/me",
        opts.concurrency,
        duration,
    )
    .await?;
    scenarios.push(Scenario {
        key: "users-me",
        name: "GET /api/v1/users/me",
        samples: me,
        api_rss_after: api_memory(mode, children),
    });
    let list = member_get(
        &target,
        &reader,
        "/api/v1/projects",
        opts.concurrency,
        duration,
    )
    .await?;
    scenarios.push(Scenario {
        key: "projects-list",
        name: "GET /api/v1/projects (50)",
        samples: list,
        api_rss_after: api_memory(mode, children),
    });
    let create = {
        let (t, ws, tag) = (target.clone(), writer.clone(), tag.clone());
        drive(
            opts.concurrency,
            Until::Elapsed(duration),
            op(move |_, seq| {
                let req = t
                    .member(t.post("/api/v1/projects"), &ws)
                    .json(&json!({ "name": format!("Load {tag} {seq}") }));
                expect(req, 201)
            }),
        )
        .await?
    };
    scenarios.push(Scenario {
        key: "projects-create",
        name: "POST /api/v1/projects",
        samples: create,
        api_rss_after: api_memory(mode, children),
    });

    let sequential = {
        let t = target.clone();
        let tag = tag.clone();
        drive(
            1,
            Until::Count(opts.sequential as u64),
            op(move |_, seq| {
                let (t, slug) = (t.clone(), format!("rs{tag}-{seq}"));
                async move {
                    t.register_until_ready(
                        &slug,
                        Duration::from_millis(20),
                        Duration::from_secs(120),
                    )
                    .await?;
                    Ok(())
                }
            }),
        )
        .await?
    };
    let registrations = {
        let t = target.clone();
        drive(
            opts.registration_concurrency,
            Until::Count(opts.registrations as u64),
            op(move |_, seq| {
                let (t, slug) = (t.clone(), format!("rc{tag}-{seq}"));
                async move {
                    t.register_until_ready(
                        &slug,
                        Duration::from_millis(100),
                        Duration::from_secs(300),
                    )
                    .await?;
                    Ok(())
                }
            }),
        )
        .await?
    };
    for c in children.iter_mut() {
        c.check_alive()?;
    }
    let loaded = memory(mode, children);
    let cpu_after = CpuSnapshot::take(temporal_pid.as_deref(), &pids);

    // The references run last, so the memory and CPU figures above are the API's alone (in-process, the
    // raw Argon2id threads would otherwise count as the API's memory).
    let argon2_raw = crate::login::raw_argon2_rate(app, duration).await?;
    let select1 = {
        let pool = app.pool.clone();
        drive(
            opts.concurrency,
            Until::Elapsed(duration),
            op(move |_, _| {
                let pool = pool.clone();
                async move {
                    sqlx::query("SELECT 1").execute(&pool).await?;
                    Ok(())
                }
            }),
        )
        .await?
    };

    let memory = started
        .into_iter()
        .zip(idle)
        .zip(loaded)
        .map(|(((process, started), (_, idle)), (_, loaded))| MemRow {
            process,
            started,
            idle,
            loaded,
        })
        .collect();
    let p = &app.settings.argon2;
    Ok(LoadRun {
        mode,
        opts: opts.clone(),
        argon2: format!(
            "m={} KiB, t={}, p={}",
            p.memory_kib, p.iterations, p.parallelism
        ),
        argon2_raw,
        pool_size: app.settings.database_max_connections.to_string(),
        select1,
        scenarios,
        sequential,
        registrations,
        memory,
        cpu: CpuUse::between(&cpu_before, &cpu_after),
    })
}

async fn member_get(
    target: &Target,
    ws: &Workspace,
    path: &'static str,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Samples> {
    let (t, ws) = (target.clone(), ws.clone());
    drive(
        concurrency,
        Until::Elapsed(duration),
        op(move |_, _| expect(t.member(t.get(path), &ws), 200)),
    )
    .await
}

fn api_memory(mode: Mode, children: &[Child]) -> Memory {
    match mode {
        Mode::InProcess => Memory::current(),
        Mode::Process => children.first().map(Child::memory).unwrap_or_default(),
    }
}

fn memory(mode: Mode, children: &[Child]) -> Vec<(String, Memory)> {
    match mode {
        Mode::InProcess => vec![(
            "tenantry-bench (API + relay + worker + load client)".to_owned(),
            Memory::current(),
        )],
        Mode::Process => children
            .iter()
            .map(|c| (c.name.clone(), c.memory()))
            .collect(),
    }
}
