//! Benchmarks that report figures and never pass or fail a test run. Each starts its own Tenantry (fresh
//! database, API, relay, in-process worker) against the Temporal dev server at `TEMPORAL_HOST`.
//!
//! `cargo run -p tenantry-bench --profile bench -- provision [--sequential 100] [--concurrent 200]` measures
//! register → `ready`.
//! `cargo run -p tenantry-bench --profile bench -- login [--concurrency 8,32] [--seconds 10]` measures login
//! throughput next to the raw Argon2id verification rate of the same parameters on the same cores.
//! `… -- load [--seconds 10] [--concurrency 16] [--target both]` drives HTTP scenarios at fixed concurrency,
//! in-process and against separate `tenantry serve` / `tenantry worker` processes, with their memory.
//! `… -- capacity [--tenants 1000]` provisions many tenants, times `tenantry migrate tenants` over them and
//! compares a tenant-scoped read with 10 and with N tenants.
//! `… -- report [--quick]` runs load and capacity and writes `BENCHMARKS.md` and `docs/bench/*.svg`.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tenantry_testkit::TestApp;

mod capacity;
mod http;
mod load;
mod login;
mod plot;
mod procs;
mod report;
mod stats;
mod sys;

use stats::ms;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Register → ready latency (sequential) and throughput (concurrent).
    Provision {
        #[arg(long, default_value_t = 100)]
        sequential: usize,
        #[arg(long, default_value_t = 200)]
        concurrent: usize,
    },
    /// Login throughput at fixed concurrency, beside the raw Argon2id verification rate.
    Login {
        #[arg(long, value_delimiter = ',', default_value = "8,32")]
        concurrency: Vec<usize>,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// HTTP scenarios at fixed concurrency for a fixed time, requests/s and p50/p95/p99, and memory.
    Load(LoadArgs),
    /// N tenants: provisioning rate, `tenantry migrate tenants` wall time, reads with 10 vs N tenants.
    Capacity(CapacityArgs),
    /// Runs load and capacity and writes BENCHMARKS.md and docs/bench/*.svg.
    Report {
        /// Small sizes (3 s per scenario, 50 tenants): a few minutes in all.
        #[arg(long)]
        quick: bool,
        /// Tenants of the capacity run (default 1000, or 50 with --quick).
        #[arg(long)]
        tenants: Option<usize>,
        /// Where BENCHMARKS.md and docs/bench/ go (default: the repository root).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(clap::Args, Debug, Clone)]
struct LoadArgs {
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Registrations one at a time, for unloaded register → ready latency.
    #[arg(long, default_value_t = 10)]
    sequential: usize,
    /// Registrations driven concurrently (register → ready latency and completions/min).
    #[arg(long, default_value_t = 50)]
    registrations: usize,
    #[arg(long, default_value_t = 10)]
    registration_concurrency: usize,
    /// Where the API and worker run.
    #[arg(long, value_enum, default_value_t = load::Where::Both)]
    target: load::Where,
}

impl LoadArgs {
    fn opts(&self) -> load::LoadOpts {
        load::LoadOpts {
            seconds: self.seconds,
            concurrency: self.concurrency,
            sequential: self.sequential,
            registrations: self.registrations,
            registration_concurrency: self.registration_concurrency,
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
struct CapacityArgs {
    #[arg(long, default_value_t = 1000)]
    tenants: usize,
    /// Registrations in flight at once while provisioning.
    #[arg(long, default_value_t = 50)]
    in_flight: usize,
    #[arg(long, value_delimiter = ',', default_value = "1,4,8")]
    migrate_concurrency: Vec<u16>,
    #[arg(long, default_value_t = 2000)]
    read_requests: u64,
    #[arg(long, default_value_t = 8)]
    read_concurrency: usize,
}

impl CapacityArgs {
    fn opts(&self) -> capacity::CapOpts {
        capacity::CapOpts {
            tenants: self.tenants,
            in_flight: self.in_flight,
            migrate_concurrency: self.migrate_concurrency.clone(),
            read_requests: self.read_requests,
            read_concurrency: self.read_concurrency,
        }
    }
}

const PASSWORD: &str = "violet-Harbor-93-lantern";
/// One registration at a time can poll tightly; 200 at once polling every 20 ms would be a load test of the
/// status endpoint, competing with the work being measured.
const FAST_POLL: Duration = Duration::from_millis(20);
const SLOW_POLL: Duration = Duration::from_millis(500);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Bench::Provision {
            sequential,
            concurrent,
        } => provision(sequential, concurrent).await,
        Bench::Login {
            concurrency,
            seconds,
        } => login::run(&concurrency, Duration::from_secs(seconds)).await,
        Bench::Load(args) => {
            let bin = match args.target {
                load::Where::InProcess => None,
                _ => Some(procs::tenantry_bin()?),
            };
            load::run(&args.opts(), args.target, bin.as_deref()).await?;
            Ok(())
        }
        Bench::Capacity(args) => {
            let bin = procs::tenantry_bin()?;
            capacity::run(&args.opts(), &bin).await?;
            Ok(())
        }
        Bench::Report {
            quick,
            tenants,
            out,
        } => report::run(quick, tenants, out).await,
    }
}

async fn provision(sequential: usize, concurrent: usize) -> anyhow::Result<()> {
    let app = TestApp::builder()
        .env("RUST_LOG", "error")
        .spawn()
        .await
        .context("starting tenantry")?;
    let target = http::Target::of(&app);
    let limit = Duration::from_secs(600);
    let run = load::run_tag();
    // Warm-up: connections, worker pollers.
    target
        .register_until_ready(&format!("warmup-{run}"), FAST_POLL, limit)
        .await?;

    let mut lat = Vec::with_capacity(sequential);
    for i in 0..sequential {
        lat.push(
            target
                .register_until_ready(&format!("seq-{run}-{i}"), FAST_POLL, limit)
                .await?,
        );
    }
    let lat = stats::Samples::new(lat, 0, Duration::ZERO);
    println!(
        "register -> ready, sequential n={sequential}: p50 {} | p95 {} | max {}",
        ms(lat.p(0.5)),
        ms(lat.p(0.95)),
        ms(lat.max())
    );

    let started = Instant::now();
    let runs = (0..concurrent).map(|i| {
        let target = target.clone();
        let slug = format!("conc-{run}-{i}");
        async move { target.register_until_ready(&slug, SLOW_POLL, limit).await }
    });
    let lat: Vec<Duration> = futures::future::join_all(runs)
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let wall = started.elapsed();
    let lat = stats::Samples::new(lat, 0, wall);
    println!(
        "register -> ready, concurrent n={concurrent}: wall {:.1} s | {:.1} tenants/s ({:.0}/min) | p50 {} | p95 {}",
        wall.as_secs_f64(),
        lat.rate(),
        lat.rate() * 60.0,
        ms(lat.p(0.5)),
        ms(lat.p(0.95)),
    );
    app.shutdown().await;
    Ok(())
}
