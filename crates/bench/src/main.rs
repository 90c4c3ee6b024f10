//! Benchmarks that report figures and never pass or fail a test run. Each starts its own Tenantry (fresh
//! database, API, relay, in-process worker) against the Temporal dev server at `TEMPORAL_HOST`.
//!
//! `cargo run -p tenantry-bench --profile bench -- provision [--sequential 100] [--concurrent 200]` measures
//! register → `ready`.
//! `cargo run -p tenantry-bench --profile bench -- login [--concurrency 8,32] [--seconds 10]` measures login
//! throughput next to the raw Argon2id verification rate of the same parameters on the same cores.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use serde_json::json;
use tenantry_testkit::TestApp;

mod login;

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
}

const PASSWORD: &str = "violet-Harbor-93-lantern";
/// One registration at a time can poll tightly; 200 at once polling every 20 ms would be a load test of the
/// status endpoint, competing with the work being measured.
const FAST_POLL: Duration = Duration::from_millis(20);
const SLOW_POLL: Duration = Duration::from_millis(500);

/// Registers and polls the public provisioning view every `poll` until the tenant is ready.
async fn register_until_ready(
    app: &TestApp,
    slug: String,
    poll: Duration,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let body = json!({"email": format!("{slug}@bench.example"), "password": PASSWORD, "full_name": "Bench", "tenant_name": "Bench", "tenant_slug": slug});
    let resp = app.post_json("/api/v1/auth/register", &body).await;
    anyhow::ensure!(resp.status() == 202, "register answered {}", resp.status());
    loop {
        let v: serde_json::Value = app
            .get(&format!("/api/v1/tenants/{slug}/provisioning"))
            .await
            .json()
            .await?;
        match v["status"].as_str() {
            Some("ready") => return Ok(started.elapsed()),
            Some("failed") => anyhow::bail!("{slug} failed"),
            _ => tokio::time::sleep(poll).await,
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

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
    }
}

async fn provision(sequential: usize, concurrent: usize) -> anyhow::Result<()> {
    let app = TestApp::builder()
        .env("RUST_LOG", "error")
        .spawn()
        .await
        .context("starting tenantry")?;
    // Workflow ids derive from slugs; a run-unique suffix keeps them apart from earlier runs on the same
    // Temporal server, which remembers every id it has seen.
    let run = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
            & 0xff_ffff
    );
    // Warm-up: connections, worker pollers.
    register_until_ready(&app, format!("warmup-{run}"), FAST_POLL).await?;

    let mut lat = Vec::with_capacity(sequential);
    for i in 0..sequential {
        lat.push(register_until_ready(&app, format!("seq-{run}-{i}"), FAST_POLL).await?);
    }
    lat.sort();
    println!(
        "register -> ready, sequential n={sequential}: p50 {} | p95 {} | max {}",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.95)),
        ms(*lat.last().unwrap_or(&Duration::ZERO))
    );

    let started = Instant::now();
    let runs =
        (0..concurrent).map(|i| register_until_ready(&app, format!("conc-{run}-{i}"), SLOW_POLL));
    let mut lat: Vec<Duration> = futures::future::join_all(runs)
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let wall = started.elapsed();
    lat.sort();
    println!(
        "register -> ready, concurrent n={concurrent}: wall {:.1} s | {:.1} tenants/s ({:.0}/min) | p50 {} | p95 {}",
        wall.as_secs_f64(),
        concurrent as f64 / wall.as_secs_f64(),
        concurrent as f64 * 60.0 / wall.as_secs_f64(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.95)),
    );
    app.shutdown().await;
    Ok(())
}
