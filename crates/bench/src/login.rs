//! `login`: `POST /auth/login` at fixed concurrency for a fixed time, and the raw Argon2id verification
//! rate of the same parameters on all cores, so the cost above the hash is visible.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use tenantry_services::passwords::{Argon2Hasher, PasswordHasher};
use tenantry_testkit::{TestApp, sqlx};

use crate::PASSWORD;
use crate::stats::{Samples, Until, drive, op};

/// Verifications per second with one thread per core, each verifying in a loop for `duration`.
fn argon2_rate(hasher: Arc<Argon2Hasher>, phc: &str, duration: Duration) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (hasher, phc, stop, done) =
                (hasher.clone(), phc.to_owned(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if hasher.verify(PASSWORD, &phc) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// A ready tenant with one verified member, written directly (this measures login, not provisioning).
pub async fn member(app: &TestApp) -> anyhow::Result<(String, String)> {
    let slug = format!(
        "bench-login-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    let email = format!("{slug}@bench.example");
    let tenant = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO public.tenants (id, name, slug, status, is_active, origin, claimed_at) \
         VALUES ($1, 'Bench', $2, 'ready', true, 'admin', now())",
    )
    .bind(tenant)
    .bind(&slug)
    .execute(&app.pool)
    .await?;
    let user = app.create_user(&email, PASSWORD, false).await?;
    sqlx::query(
        "INSERT INTO public.user_tenant_membership (user_id, tenant_id, role) VALUES ($1, $2, 'admin')",
    )
    .bind(user)
    .bind(tenant)
    .execute(&app.pool)
    .await?;
    Ok((slug, email))
}

/// Verifications per second of the app's Argon2id parameters, one thread per core, for `duration`.
pub async fn raw_argon2_rate(app: &TestApp, duration: Duration) -> anyhow::Result<f64> {
    let hasher = Arc::new(Argon2Hasher::new(&app.settings.argon2)?);
    let phc = hasher.hash(PASSWORD)?;
    Ok(tokio::task::spawn_blocking(move || argon2_rate(hasher, &phc, duration)).await?)
}

/// `POST /auth/login` of `email` into `slug`, by `concurrency` clients back to back for `duration`.
pub async fn logins(
    target: &crate::http::Target,
    slug: &str,
    email: &str,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Samples> {
    let (target, slug) = (target.clone(), slug.to_owned());
    let body = json!({ "email": email, "password": PASSWORD });
    drive(
        concurrency,
        Until::Elapsed(duration),
        op(move |_, _| {
            let req = target
                .post("/api/v1/auth/login")
                .header("X-Tenant-Slug", &slug)
                .json(&body);
            crate::http::expect(req, 200)
        }),
    )
    .await
}

pub async fn run(concurrency: &[usize], duration: Duration) -> anyhow::Result<()> {
    let app = TestApp::builder()
        .without_worker()
        .env("RUST_LOG", "error")
        .spawn()
        .await
        .context("starting tenantry")?;
    let (slug, email) = member(&app).await?;
    let p = &app.settings.argon2;
    println!(
        "argon2id m={} KiB t={} p={}, {} cores",
        p.memory_kib,
        p.iterations,
        p.parallelism,
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    let target = crate::http::Target::of(&app);
    // Warm-up: pool connections, the tenant cache.
    logins(&target, &slug, &email, 2, Duration::from_secs(1)).await?;
    let raw = raw_argon2_rate(&app, duration).await?;
    println!("raw argon2id verify, all cores: {raw:.1}/s");
    for &c in concurrency {
        let s = logins(&target, &slug, &email, c, duration).await?;
        println!(
            "POST /auth/login concurrency {c}: {} ({:.0}% of raw argon2)",
            s.line(),
            s.rate() * 100.0 / raw,
        );
    }
    app.shutdown().await;
    Ok(())
}
