//! `report`: runs `load` (in-process and separate processes) and `capacity`, then writes `BENCHMARKS.md`
//! at the repository root and one SVG plot per scenario under `docs/bench/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tenantry_testkit::sqlx;

use crate::capacity::{self, CapOpts, CapacityRun, MigrationKind};
use crate::load::{self, LoadOpts, LoadRun, Mode, Where};
use crate::plot;
use crate::stats::{Samples, ms};
use crate::sys::{self, Machine};

struct Sizes {
    load: LoadOpts,
    capacity: CapOpts,
}

fn sizes(quick: bool, tenants: Option<usize>) -> Sizes {
    let (load, mut capacity) = if quick {
        (
            LoadOpts {
                seconds: 3,
                concurrency: 16,
                sequential: 3,
                registrations: 10,
                registration_concurrency: 5,
            },
            CapOpts {
                tenants: 50,
                in_flight: 50,
                migrate_concurrency: vec![1, 4, 8],
                read_requests: 500,
                read_concurrency: 8,
            },
        )
    } else {
        (
            LoadOpts {
                seconds: 10,
                concurrency: 16,
                sequential: 10,
                registrations: 50,
                registration_concurrency: 10,
            },
            CapOpts {
                tenants: 1000,
                in_flight: 50,
                migrate_concurrency: vec![1, 4, 8],
                read_requests: 2000,
                read_concurrency: 8,
            },
        )
    };
    if let Some(n) = tenants {
        capacity.tenants = n.max(1);
    }
    Sizes { load, capacity }
}

async fn postgres_version() -> String {
    use sqlx::Connection as _;
    let url = tenantry_testkit::db::admin_url();
    match sqlx::postgres::PgConnection::connect(&url).await {
        Ok(mut conn) => {
            let v: Result<String, _> = sqlx::query_scalar("SELECT version()")
                .fetch_one(&mut conn)
                .await;
            let _ = conn.close().await;
            v.map(|v| v.split(" on ").next().unwrap_or(&v).to_owned())
                .unwrap_or_else(|_| "unknown".to_owned())
        }
        Err(_) => "unknown".to_owned(),
    }
}

pub async fn run(quick: bool, tenants: Option<usize>, out: Option<PathBuf>) -> anyhow::Result<()> {
    let root = out.unwrap_or_else(crate::procs::repo_root);
    let sizes = sizes(quick, tenants);
    let date = sys::command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let machine = Machine::describe(&crate::procs::repo_root());
    let postgres = postgres_version().await;
    let bin = crate::procs::tenantry_bin()?;
    let started = Instant::now();
    let jiffies_start = sys::machine_jiffies();
    let load_start = sys::loadavg();

    let loads = load::run(&sizes.load, Where::Both, Some(&bin)).await?;
    let load_mid = sys::loadavg();
    println!("== capacity ==");
    let cap = capacity::run(&sizes.capacity, &bin).await?;
    let load_end = sys::loadavg();
    let busy = match (jiffies_start, sys::machine_jiffies()) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            Some(b1.saturating_sub(b0) as f64 / (t1 - t0) as f64)
        }
        _ => None,
    };

    let dir = root.join("docs/bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let plots = write_plots(&dir, &loads, &cap)?;
    let ctx = Context {
        quick,
        date,
        machine,
        postgres,
        bin,
        sizes: &sizes,
        loadavg: [load_start, load_mid, load_end],
        busy,
        took: started.elapsed(),
        invocation: std::env::args().skip(1).collect::<Vec<_>>().join(" "),
    };
    let md = markdown(&ctx, &loads, &cap, &plots)?;
    let path = root.join("BENCHMARKS.md");
    std::fs::write(&path, md).with_context(|| format!("writing {}", path.display()))?;
    println!(
        "wrote {} and {} plots under {} ({:.1} min)",
        path.display(),
        plots.len(),
        dir.display(),
        ctx.took.as_secs_f64() / 60.0
    );
    Ok(())
}

struct Context<'a> {
    quick: bool,
    date: String,
    machine: Machine,
    postgres: String,
    bin: PathBuf,
    sizes: &'a Sizes,
    loadavg: [String; 3],
    busy: Option<f64>,
    took: Duration,
    invocation: String,
}

/// Plot file names (relative to the repository root), by scenario key.
type Plots = Vec<(String, String)>;

fn plot_link(plots: &Plots, key: &str) -> String {
    plots
        .iter()
        .find(|(k, _)| k == key)
        .map_or_else(String::new, |(_, p)| format!("[plot]({p})"))
}

fn write_plots(dir: &Path, loads: &[LoadRun], cap: &CapacityRun) -> anyhow::Result<Plots> {
    let mut plots = Vec::new();
    let mut save = |key: &str, file: &str| {
        plots.push((key.to_owned(), format!("docs/bench/{file}")));
    };
    let keys: Vec<(&str, &str)> = loads
        .first()
        .map(|l| l.scenarios.iter().map(|s| (s.key, s.name)).collect())
        .unwrap_or_default();
    for (key, name) in keys {
        let mut series: Vec<(String, &[Duration])> = Vec::new();
        for l in loads {
            if let Some(s) = l.scenarios.iter().find(|s| s.key == key) {
                series.push((l.label(), &s.samples.lat));
            }
        }
        if matches!(key, "users-me" | "projects-list") {
            for l in loads {
                series.push((
                    format!("SELECT 1 on the pool ({})", l.label()),
                    &l.select1.lat,
                ));
            }
        }
        let file = format!("load-{key}.svg");
        let concurrency = loads.first().map_or(0, |l| l.opts.concurrency);
        plot::percentiles(
            &dir.join(&file),
            &format!("{name}, concurrency {concurrency}"),
            &series,
        )?;
        save(key, &file);
    }
    let mut series: Vec<(String, &[Duration])> = Vec::new();
    for l in loads {
        series.push((format!("one at a time, {}", l.label()), &l.sequential.lat));
        series.push((
            format!(
                "{} at concurrency {}, {}",
                l.opts.registrations,
                l.opts.registration_concurrency,
                l.label()
            ),
            &l.registrations.lat,
        ));
    }
    plot::percentiles(
        &dir.join("register-ready.svg"),
        "POST /auth/register -> provisioning view says ready",
        &series,
    )?;
    save("register", "register-ready.svg");

    let series = vec![
        (
            format!("first {}, all at once", cap.first.count()),
            cap.first.lat.as_slice(),
        ),
        (
            format!(
                "next {}, {} in flight",
                cap.bulk.count(),
                cap.opts.in_flight
            ),
            cap.bulk.lat.as_slice(),
        ),
    ];
    plot::percentiles(
        &dir.join("capacity-provisioning.svg"),
        &format!(
            "register -> ready while provisioning {} tenants (500 ms polling)",
            cap.opts.tenants
        ),
        &series,
    )?;
    save("provisioning", "capacity-provisioning.svg");

    let series: Vec<(String, &[Duration])> = cap
        .reads
        .iter()
        .map(|(n, s)| (format!("{n} tenants in the database"), s.lat.as_slice()))
        .collect();
    plot::percentiles(
        &dir.join("capacity-reads.svg"),
        &format!(
            "GET /api/v1/projects (10 projects), concurrency {}",
            cap.opts.read_concurrency
        ),
        &series,
    )?;
    save("reads", "capacity-reads.svg");

    let series: Vec<(String, Vec<(u16, f64)>)> = [
        MigrationKind::NothingPending,
        MigrationKind::LedgerCheck,
        MigrationKind::Apply,
    ]
    .into_iter()
    .map(|kind| {
        (
            kind.short().to_owned(),
            cap.migrations
                .iter()
                .filter(|m| m.kind == kind)
                .map(|m| (m.concurrency, m.wall.as_secs_f64()))
                .collect(),
        )
    })
    .collect();
    plot::migrations(
        &dir.join("capacity-migrations.svg"),
        &format!(
            "tenantry migrate tenants over {} schemas",
            cap.migrations.first().map_or(0, |m| m.schemas)
        ),
        &series,
    )?;
    save("migrations", "capacity-migrations.svg");
    Ok(plots)
}

fn latency_cells(s: &Samples) -> String {
    format!(
        "{} | {} | {} | {}",
        ms(s.p(0.5)),
        ms(s.p(0.95)),
        ms(s.p(0.99)),
        ms(s.max())
    )
}

/// One "measured vs physical limit" comparison.
struct Limit {
    scenario: String,
    measured: String,
    limit: String,
    ratio: f64,
}

fn limits(loads: &[LoadRun], cap: &CapacityRun, cores: usize) -> Vec<Limit> {
    let mut out = Vec::new();
    for l in loads {
        let mode = l.label();
        if let Some(s) = l.scenarios.iter().find(|s| s.key == "login") {
            out.push(Limit {
                scenario: format!("POST /api/v1/auth/login, {mode}"),
                measured: format!("{:.1} logins/s", s.samples.rate()),
                limit: format!(
                    "{:.1} raw Argon2id verifications/s on {cores} cores",
                    l.argon2_raw
                ),
                ratio: s.samples.rate() / l.argon2_raw.max(1e-9),
            });
        }
        for key in ["users-me", "projects-list"] {
            if let Some(s) = l.scenarios.iter().find(|s| s.key == key) {
                out.push(Limit {
                    scenario: format!("{}, {mode}", s.name),
                    measured: format!("{:.0} req/s", s.samples.rate()),
                    limit: format!(
                        "{:.0} `SELECT 1`/s through a pool of the same size",
                        l.select1.rate()
                    ),
                    ratio: s.samples.rate() / l.select1.rate().max(1e-9),
                });
            }
        }
    }
    let per_tenant = cap.cpu.total() / (cap.bulk.count().max(1) as f64);
    if per_tenant > 0.0 {
        let ceiling = cores as f64 / per_tenant;
        out.push(Limit {
            scenario: format!(
                "provisioning ({} tenants, {} in flight)",
                cap.bulk.count(),
                cap.opts.in_flight
            ),
            measured: format!("{:.2} tenants/s", cap.bulk.rate()),
            limit: format!(
                "{ceiling:.2} tenants/s if the {per_tenant:.2} CPU-s each tenant cost (Temporal dev server + tenantry + PostgreSQL) used all {cores} cores"
            ),
            ratio: cap.bulk.rate() / ceiling,
        });
    }
    out
}

fn markdown(
    ctx: &Context<'_>,
    loads: &[LoadRun],
    cap: &CapacityRun,
    plots: &Plots,
) -> anyhow::Result<String> {
    let m = &ctx.machine;
    let lo = &ctx.sizes.load;
    let co = &ctx.sizes.capacity;
    let mut md = String::new();
    writeln!(md, "# Benchmarks")?;
    writeln!(md)?;
    writeln!(
        md,
        "Generated by `tenantry-bench {}` on {} ({} run, {:.1} min, commit `{}`). Every figure below comes from that one \
         run on the machine described; none of it is part of the test suite. Re-running overwrites this file and \
         `docs/bench/*.svg`.",
        ctx.invocation,
        ctx.date,
        if ctx.quick { "quick" } else { "full" },
        ctx.took.as_secs_f64() / 60.0,
        m.commit
    )?;
    writeln!(md)?;

    writeln!(md, "## Machine")?;
    writeln!(md)?;
    writeln!(md, "| | |")?;
    writeln!(md, "|---|---|")?;
    writeln!(md, "| cores | {} |", m.cores)?;
    writeln!(md, "| CPU | {} |", m.cpu_model)?;
    writeln!(md, "| RAM | {:.1} GiB |", m.ram_gib)?;
    writeln!(md, "| OS | {} (kernel {}) |", m.os, m.kernel)?;
    writeln!(md, "| rustc | {} |", m.rustc)?;
    writeln!(md, "| PostgreSQL | {} (local) |", ctx.postgres)?;
    writeln!(
        md,
        "| Temporal | `{}` dev server (`temporal server start-dev`, local) |",
        m.temporal
    )?;
    writeln!(
        md,
        "| Redis | local (rate limiting is off under `APP_ENV=test`, so requests do not touch it) |"
    )?;
    writeln!(
        md,
        "| tenantry binary | `{}` (`--profile bench`: release optimizations, no LTO, symbols kept) |",
        ctx.bin.display()
    )?;
    writeln!(
        md,
        "| load average (1/5/15 min) | start {} · after load {} · end {} |",
        ctx.loadavg[0], ctx.loadavg[1], ctx.loadavg[2]
    )?;
    if let Some(b) = ctx.busy {
        writeln!(
            md,
            "| whole-machine CPU busy during the run | {:.0}% (all processes, including other people's test runs on this shared machine) |",
            b * 100.0
        )?;
    }
    writeln!(md)?;

    writeln!(md, "## Commands")?;
    writeln!(md)?;
    writeln!(md, "```sh")?;
    writeln!(
        md,
        "export CARGO_TARGET_DIR=/root/.cache/tenantry-target   # any target dir works"
    )?;
    writeln!(
        md,
        "cargo run -p tenantry-bench --profile bench -- report{}          # writes this file; --quick: a few minutes",
        if ctx.quick { " --quick" } else { "" }
    )?;
    writeln!(md, "# the same parts alone, with the sizes of this run:")?;
    writeln!(
        md,
        "cargo run -p tenantry-bench --profile bench -- load --seconds {} --concurrency {} --sequential {} --registrations {} --registration-concurrency {} --target both",
        lo.seconds, lo.concurrency, lo.sequential, lo.registrations, lo.registration_concurrency
    )?;
    writeln!(
        md,
        "cargo run -p tenantry-bench --profile bench -- capacity --tenants {} --in-flight {} --migrate-concurrency {} --read-requests {} --read-concurrency {}",
        co.tenants,
        co.in_flight,
        co.migrate_concurrency
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(","),
        co.read_requests,
        co.read_concurrency
    )?;
    writeln!(md, "# older, narrower benchmarks of the same crate:")?;
    writeln!(
        md,
        "cargo run -p tenantry-bench --profile bench -- provision --sequential 100 --concurrent 200"
    )?;
    writeln!(
        md,
        "cargo run -p tenantry-bench --profile bench -- login --concurrency 8,32 --seconds 10"
    )?;
    writeln!(md, "```")?;
    writeln!(md)?;
    writeln!(
        md,
        "Each benchmark starts its own Tenantry with the test kit (`tenantry_testkit::TestApp`): a fresh PostgreSQL \
         database cloned from the migrated template, `APP_ENV=test` (mailbox email, rate limits off), \
         `DATABASE_MAX_CONNECTIONS={}`, task queues of its own on the shared Temporal dev server. The load client runs \
         in the same process, on the same {} cores. \"In-process\" means the API, outbox relay and worker run inside \
         the bench process; \"separate processes\" means the real binary, `tenantry serve` (API + relay, load pointed \
         at its port) and `tenantry worker`, spawned with the same settings. The `provision` and `login` subcommands measure subsets of this: \
         their figures are the \"one at a time\" and login rows below.",
        loads.first().map_or("10", |l| l.pool_size.as_str()),
        m.cores
    )?;
    writeln!(md)?;

    // The verdict.
    let limits = limits(loads, cap, m.cores);
    writeln!(md, "## Slowest scenario relative to its physical limit")?;
    writeln!(md)?;
    if let Some(worst) = limits.iter().min_by(|a, b| a.ratio.total_cmp(&b.ratio)) {
        writeln!(
            md,
            "**{}** is the furthest from its limit: {} = **{:.0}%** of {}.",
            worst.scenario,
            worst.measured,
            worst.ratio * 100.0,
            worst.limit
        )?;
        writeln!(md)?;
    }
    writeln!(
        md,
        "| scenario | measured | physical limit (same run) | ratio |"
    )?;
    writeln!(md, "|---|---|---|---|")?;
    for l in &limits {
        writeln!(
            md,
            "| {} | {} | {} | {:.0}% |",
            l.scenario,
            l.measured,
            l.limit,
            l.ratio * 100.0
        )?;
    }
    writeln!(md)?;
    writeln!(
        md,
        "The limits: a login is one Argon2id verification plus a few queries, so it cannot beat the raw verification rate \
         of the same parameters on all cores (measured with one thread per core, nothing else running in the bench). \
         A read is at least one pool checkout and database round trip, so the reference is `SELECT 1` through a pool \
         of the same size at the same concurrency (measured on the bench's own pool, on the same machine). \
         Provisioning's reference is CPU: the CPU seconds that the Temporal dev server, the bench process (API, relay, \
         worker, client) and PostgreSQL used during the bulk provisioning, divided by the tenants provisioned, give \
         the rate at which the machine would be saturated; the ratio is roughly the share of the machine provisioning \
         kept busy (a low ratio means it waits: timers, polling, round trips, not CPU)."
    )?;
    writeln!(md)?;

    // HTTP load.
    writeln!(md, "## HTTP load")?;
    writeln!(md)?;
    writeln!(
        md,
        "{} clients back to back for {} s per scenario (closed loop: each sends its next request when the previous \
         answers). Latencies are client-side, from send to the last body byte. `GET /api/v1/projects` lists a tenant \
         with 50 projects (one page of 50); `POST /api/v1/projects` creates uniquely named projects in another tenant; \
         both as the tenant's owner (an admin) with `X-Tenant-Slug`.",
        lo.concurrency, lo.seconds
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "| where | scenario | req/s | p50 | p95 | p99 | max | requests | errors | API RSS after | plot |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    for l in loads {
        let mode = l.label();
        for s in &l.scenarios {
            let extra = if s.key == "login" {
                format!(
                    " (raw Argon2id: {:.1}/s, {:.0}%)",
                    l.argon2_raw,
                    s.samples.rate() * 100.0 / l.argon2_raw.max(1e-9)
                )
            } else {
                String::new()
            };
            writeln!(
                md,
                "| {mode} | {} | {:.1}{extra} | {} | {} | {} | {:.0} MiB | {} |",
                s.name,
                s.samples.rate(),
                latency_cells(&s.samples),
                s.samples.count(),
                s.samples.errors,
                s.api_rss_after.rss_mib(),
                plot_link(plots, s.key)
            )?;
        }
        writeln!(
            md,
            "| {mode} | *reference: `SELECT 1` on a {}-connection pool* | {:.0} | {} | {} | {} | | |",
            l.pool_size,
            l.select1.rate(),
            latency_cells(&l.select1),
            l.select1.count(),
            l.select1.errors
        )?;
    }
    writeln!(md)?;
    if let Some(l) = loads.first() {
        writeln!(
            md,
            "Argon2id parameters: {}; the API hashes on the blocking pool behind a semaphore.",
            l.argon2
        )?;
        writeln!(md)?;
    }

    writeln!(md, "### Register → ready")?;
    writeln!(md)?;
    writeln!(
        md,
        "`POST /api/v1/auth/register` (202), then `GET /api/v1/tenants/{{slug}}/provisioning` until `ready`: the \
         outbox relay starts `TenantProvisioning` on Temporal and the worker creates and migrates the schema. One at a \
         time polls every 20 ms; concurrent registrations poll every 100 ms, so latencies are rounded up to that. \
         {}",
        plot_link(plots, "register")
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "| where | registrations | completions/min | p50 | p95 | p99 | max | errors |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|")?;
    for l in loads {
        for (what, s) in [
            (
                format!("{} one at a time", l.opts.sequential),
                &l.sequential,
            ),
            (
                format!(
                    "{} at concurrency {}",
                    l.opts.registrations, l.opts.registration_concurrency
                ),
                &l.registrations,
            ),
        ] {
            writeln!(
                md,
                "| {} | {what} | {:.0} | {} | {} |",
                l.label(),
                s.rate() * 60.0,
                latency_cells(s),
                s.errors
            )?;
        }
    }
    writeln!(md)?;

    writeln!(md, "### Resident memory")?;
    writeln!(md)?;
    writeln!(
        md,
        "`VmRSS` from `/proc/<pid>/status`: after start (`/health` answering, 2 s), idle after the setup (two tenants \
         provisioned, 50 projects), and at the end of the load phase; peak is `VmHWM` over the whole run. In-process, \
         the figure is the whole bench process (API, relay, worker, the load client and its buffers). The \"API RSS \
         after\" column of the load table shows where the growth happens."
    )?;
    writeln!(md)?;
    for l in loads {
        let mut before = l.memory.first().map_or(0, |m| m.idle.rss_kib);
        let mut growth: Option<(String, u64)> = None;
        for s in &l.scenarios {
            let up = s.api_rss_after.rss_kib.saturating_sub(before);
            if growth.as_ref().is_none_or(|(_, g)| up > *g) {
                growth = Some((format!("`{}`", s.name), up));
            }
            before = s.api_rss_after.rss_kib;
        }
        let end = l.memory.first().map_or(before, |m| m.loaded.rss_kib);
        let up = end.saturating_sub(before);
        if growth.as_ref().is_none_or(|(_, g)| up > *g) {
            growth = Some(("the registrations".to_owned(), up));
        }
        if let Some((name, up)) = growth {
            writeln!(
                md,
                "- {}: the largest growth of the API process was during {name}: +{:.0} MiB.",
                l.label(),
                up as f64 / 1024.0
            )?;
        }
    }
    writeln!(md)?;
    writeln!(
        md,
        "| where | process | started | idle | end of load | peak |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    for l in loads {
        for r in &l.memory {
            writeln!(
                md,
                "| {} | `{}` | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
                l.label(),
                r.process,
                r.started.rss_mib(),
                r.idle.rss_mib(),
                r.loaded.rss_mib(),
                r.loaded.hwm_mib()
            )?;
        }
    }
    writeln!(md)?;
    writeln!(
        md,
        "CPU seconds during each load phase (the HTTP scenarios and registrations; the Argon2id and `SELECT 1` \
         references run afterwards):"
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "| where | wall | tenantry | PostgreSQL | Temporal dev server | machine busy |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    for l in loads {
        writeln!(
            md,
            "| {} | {:.0} s | {:.1} s{} | {:.1} s | {} | {:.0}% |",
            l.label(),
            l.cpu.wall.as_secs_f64(),
            l.cpu.ours,
            if l.mode == Mode::Process {
                " (bench + serve + worker)"
            } else {
                " (bench process)"
            },
            l.cpu.postgres,
            l.cpu
                .temporal
                .map_or_else(|| "not found".to_owned(), |t| format!("{t:.1} s")),
            l.cpu.machine_busy * 100.0
        )?;
    }
    writeln!(md)?;

    // Capacity.
    writeln!(md, "## Capacity: {} tenants", co.tenants)?;
    writeln!(md)?;
    writeln!(md, "### Provisioning")?;
    writeln!(md)?;
    writeln!(
        md,
        "Real registrations through the API and the `TenantProvisioning` workflow (in-process API, relay and worker), \
         each polling the provisioning view every 500 ms. The first {} go all at once (they also serve the read test \
         below); the rest run {} in flight. {}",
        cap.first.count(),
        co.in_flight,
        plot_link(plots, "provisioning")
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "| phase | tenants | wall | tenants/min | p50 | p95 | p99 | max |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|")?;
    for (what, s) in [("first, all at once", &cap.first), ("bulk", &cap.bulk)] {
        writeln!(
            md,
            "| {what} | {} | {:.1} s | {:.0} | {} |",
            s.count(),
            s.wall.as_secs_f64(),
            s.rate() * 60.0,
            latency_cells(s)
        )?;
    }
    writeln!(md)?;
    let n = cap.bulk.count().max(1) as f64;
    let per = |x: f64| format!("{x:.1} s ({:.0} ms/tenant)", x * 1000.0 / n);
    writeln!(
        md,
        "CPU during the bulk phase ({:.1} s wall; CPU seconds from `/proc/<pid>/stat`, utime + stime):",
        cap.cpu.wall.as_secs_f64()
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "| process | CPU | share of {} cores over the phase |",
        m.cores
    )?;
    writeln!(md, "|---|---|---|")?;
    let share = |x: f64| {
        format!(
            "{:.0}%",
            x * 100.0 / (cap.cpu.wall.as_secs_f64() * m.cores as f64).max(1e-9)
        )
    };
    match cap.cpu.temporal {
        Some(t) => writeln!(
            md,
            "| Temporal dev server (`temporal` pid {}) | {} | {} |",
            cap.temporal_pid.as_deref().unwrap_or("?"),
            per(t),
            share(t)
        )?,
        None => writeln!(md, "| Temporal dev server | not found by name | |")?,
    }
    writeln!(
        md,
        "| tenantry-bench (API + relay + worker + client) | {} | {} |",
        per(cap.cpu.ours),
        share(cap.cpu.ours)
    )?;
    writeln!(
        md,
        "| PostgreSQL (all `postgres` processes) | {} | {} |",
        per(cap.cpu.postgres),
        share(cap.cpu.postgres)
    )?;
    writeln!(
        md,
        "| whole machine (everything, others included) | | {:.0}% |",
        cap.cpu.machine_busy * 100.0
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "The Temporal dev server and PostgreSQL are shared with anything else running on the machine, so their CPU \
         includes other users' work during the phase."
    )?;
    writeln!(md)?;

    writeln!(md, "### Tenant-scoped read: 10 tenants vs {}", co.tenants)?;
    writeln!(md)?;
    writeln!(
        md,
        "`GET /api/v1/projects` on the first tenant (10 projects), {} requests at concurrency {} after 50 warm-up \
         requests, once when 10 tenants existed and again after all {} were provisioned. {}",
        co.read_requests,
        co.read_concurrency,
        co.tenants,
        plot_link(plots, "reads")
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "| tenants in the database | req/s | p50 | p95 | p99 | max |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    for (count, s) in &cap.reads {
        writeln!(md, "| {count} | {:.0} | {} |", s.rate(), latency_cells(s))?;
    }
    writeln!(md)?;

    writeln!(md, "### `tenantry migrate tenants`")?;
    writeln!(md)?;
    writeln!(
        md,
        "The real binary (`{} migrate tenants --concurrency C`, settings from the environment: {}), timed from spawn \
         to exit, so every row includes process start, settings and the pool's first connection (the \"nothing \
         pending\" rows are essentially that fixed cost plus one query). {}",
        ctx.bin.display(),
        cap.vars_note,
        plot_link(plots, "migrations")
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "| run | --concurrency | schemas | wall | schemas/s | CLI summary |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    for r in &cap.migrations {
        writeln!(
            md,
            "| {} | {} | {} | {:.2} s | {} | `{}` |",
            r.kind.label(),
            r.concurrency,
            r.schemas,
            r.wall.as_secs_f64(),
            if r.kind == MigrationKind::NothingPending {
                "– (no schema touched)".to_owned()
            } else {
                format!("{:.0}", r.schemas_per_s())
            },
            r.summary
        )?;
    }
    writeln!(md)?;
    writeln!(
        md,
        "\"Nothing pending\": the summary table (`public.tenant_schema_versions`) shows every schema at the target, so \
         the fan-out touches no schema. \"Summary stale\": every summary row is set one version back, so each schema is \
         locked and its ledger read, and nothing is applied. \"One migration to apply\": tenant migrations are \
         embedded in the binary at compile time (`sqlx::migrate!(\"../../migrations/tenant\")` in \
         `crates/store/src/migrate/tenant.rs`) and the CLI takes no migrations directory, so a new migration cannot be \
         added at run time; it is simulated instead: {}. Resetting is not timed.",
        cap.simulated
    )?;
    writeln!(md)?;

    writeln!(md, "## Not measured, and caveats")?;
    writeln!(md)?;
    for line in [
        "The machine is shared: other people's builds and tests ran at the same time (see the load averages and the \
         whole-machine CPU above), and the Temporal dev server and PostgreSQL serve them too. Figures are one run, \
         not an average of several.",
        "Client, API, worker, PostgreSQL and Temporal share the same cores; the load client's own CPU is part of every \
         figure, and there is no network between them.",
        "Rate limiting is off (`APP_ENV=test`), so no request pays the Redis round trip of the limiter; with limits on, \
         one client IP would be capped at 20 req/s anyway.",
        "Email delivery is the development mailbox (a table), not SMTP.",
        "In \"separate processes\" mode the bench process still hosts an idle in-process API of the test kit (unused) \
         and the `SELECT 1` reference runs on the bench's own pool, which has the same size as the server's.",
        "A genuinely new tenant migration file could not be benchmarked without rebuilding the binary (see above); \
         the re-applied file is the real one, so its DDL cost is representative of a small migration.",
        "PostgreSQL CPU is the sum over every `postgres` process (including the postmaster's reaped children); \
         Temporal CPU is the `temporal` process serving the configured port.",
    ] {
        writeln!(md, "- {line}")?;
    }
    Ok(md)
}
