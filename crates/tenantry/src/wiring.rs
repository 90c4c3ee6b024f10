//! Assembling the processes: the API with its relay, the workers, and the signals that stop them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tenantry_http::{AppState, AppStateParts, Lifecycle, Probes};
use tenantry_ratelimit::RateLimiter;
use tenantry_services::email::mailer_from_settings;
use tenantry_services::health::{DatabaseProbe, Probe};
use tenantry_services::outbox::{Relay, RelayOptions, WorkflowStarter};
use tenantry_settings::DatabasePooler;
use tenantry_settings::Settings;
use tenantry_store::{Db, PgPool, PoolConfig};
use tenantry_workflows::activities::Deps;
use tenantry_workflows::worker::{self, Queue};
use tenantry_workflows::{TemporalConnection, TemporalProbe, TemporalStarter};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::redis_probe::RedisProbe;

#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error("database: {0}")]
    Database(#[from] tenantry_store::StoreError),
    #[error("{0}")]
    Config(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// The application's database ([`Db`]): a pool on `DATABASE_URL`; with `DATABASE_POOLER=transaction`, that
/// pool is set up for a transaction-mode pooler and a session pool on `DATABASE_DIRECT_URL` (at most
/// `DATABASE_DIRECT_MAX_CONNECTIONS`) carries LISTEN, advisory locks and tenant migrations. Connections open
/// lazily, so an unreachable database surfaces on first use.
pub async fn connect_db(settings: &Settings) -> Result<Db, WiringError> {
    match settings.database_pooler {
        DatabasePooler::None => Ok(Db::new(
            tenantry_store::connect(
                settings.database_url.expose_secret(),
                settings.database_max_connections,
            )
            .await?,
        )),
        DatabasePooler::Transaction => {
            let options = settings
                .database_url
                .expose_secret()
                .parse()
                .map_err(tenantry_store::StoreError::from)?;
            let pool = tenantry_store::connect_with(
                tenantry_store::for_transaction_pooler(options),
                &PoolConfig {
                    max_connections: settings.database_max_connections,
                    ..PoolConfig::default()
                },
            )?;
            let session = tenantry_store::connect(
                direct_url(settings)?,
                settings.database_direct_max_connections,
            )
            .await?;
            Ok(Db::behind_transaction_pooler(pool, session))
        }
    }
}

/// A pool on PostgreSQL itself (`DATABASE_DIRECT_URL` behind a transaction-mode pooler, else `DATABASE_URL`)
/// of `DATABASE_MAX_CONNECTIONS`, for `tenantry migrate` (`--concurrency` connections at once).
pub async fn connect_migration_pool(settings: &Settings) -> Result<PgPool, WiringError> {
    let url = match settings.database_pooler {
        DatabasePooler::None => settings.database_url.expose_secret(),
        DatabasePooler::Transaction => direct_url(settings)?,
    };
    Ok(tenantry_store::connect(url, settings.database_max_connections).await?)
}

fn direct_url(settings: &Settings) -> Result<&str, WiringError> {
    settings
        .database_direct_url
        .as_ref()
        .map(|u| u.expose_secret())
        .ok_or_else(|| {
            WiringError::Config(
                "DATABASE_DIRECT_URL is required with DATABASE_POOLER=transaction".into(),
            )
        })
}

/// Everything the API needs; the Temporal connection may still be pending. Background listeners stop with
/// `shutdown`.
pub fn app_state(
    settings: Arc<Settings>,
    db: Db,
    connection: &TemporalConnection,
    shutdown: &CancellationToken,
) -> Result<AppState, WiringError> {
    let passwords = tenantry_services::passwords::Passwords::from_params(&settings.argon2)
        .map_err(|e| WiringError::Config(format!("ARGON2_*: {e}")))?;
    app_state_with(settings, db, connection, shutdown, passwords)
}

/// [`app_state`] with a given password front (tests count verifications through it).
pub fn app_state_with(
    settings: Arc<Settings>,
    db: Db,
    connection: &TemporalConnection,
    shutdown: &CancellationToken,
    passwords: tenantry_services::passwords::Passwords,
) -> Result<AppState, WiringError> {
    let redis_url = settings
        .redis_url
        .as_ref()
        .map(|u| u.expose_secret().to_owned());
    let rate_limiter = if settings.rate_limit_enabled {
        RateLimiter::new(redis_url.as_deref(), &settings.rate_limit_key_prefix)
            .map_err(|e| WiringError::Config(format!("REDIS_URL: {e}")))?
    } else {
        RateLimiter::disabled()
    };
    let metrics = tenantry_http::metrics::install_recorder().map_err(WiringError::Config)?;
    rate_limiter.publish_metrics();
    let redis: Option<Arc<dyn Probe>> = match redis_url.as_deref() {
        Some(url) => {
            Some(Arc::new(RedisProbe::new(url).map_err(|e| {
                WiringError::Config(format!("REDIS_URL: {e}"))
            })?))
        }
        None => None,
    };
    let probes = Probes {
        database: Arc::new(DatabaseProbe(db.pool().clone())),
        temporal: Some(Arc::new(TemporalProbe::new(connection.clone()))),
        redis,
    };
    let services = tenantry_services::Services::new(db.clone(), settings.clone(), passwords)
        .map_err(|e| WiringError::Config(e.to_string()))?;
    services.tenants.spawn_invalidation(shutdown.clone());
    Ok(AppState::new(AppStateParts {
        settings,
        services,
        db,
        rate_limiter,
        probes,
        metrics: Some(metrics),
        lifecycle: Lifecycle::default(),
    }))
}

/// `APP_URL` for `tenantry dev`. That process serves the web console itself, so unless `APP_URL` was given
/// (`app_url_var`: its raw value from the environment, `.env` included, i.e. `std::env::var("APP_URL").ok()`
/// after `Settings::from_env`), the links in emails (verification, reset, invites) point at the API's own origin,
/// `http://<BIND_ADDR>` with an unspecified address (`0.0.0.0`, `::`) replaced by the loopback one. An explicit
/// value, and every other setting, are kept as they are.
pub fn dev_app_url_default(settings: Arc<Settings>, app_url_var: Option<&str>) -> Arc<Settings> {
    if app_url_var.is_some_and(|v| !v.trim().is_empty()) {
        return settings;
    }
    let mut addr = settings.bind_addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let mut changed = (*settings).clone();
    // SocketAddr's Display brackets IPv6 addresses, as a URL needs.
    changed.app_url = format!("http://{addr}");
    Arc::new(changed)
}

pub fn api_router(state: AppState) -> axum::Router {
    tenantry_http::router(state, tenantry_http::api::v1())
}

/// Serves the API on `listener` until `shutdown`, then drains for `SHUTDOWN_GRACE_PERIOD`.
pub async fn run_api(
    state: AppState,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), WiringError> {
    let grace = state.settings().shutdown_grace_period;
    let app = api_router(state.clone());
    tracing::info!(addr = %listener.local_addr()?, "api listening");
    tenantry_http::serve(listener, app, state, shutdown, grace).await?;
    Ok(())
}

/// The outbox relay on this runtime; stops with `shutdown`.
pub fn spawn_relay(
    db: Db,
    starter: Arc<dyn WorkflowStarter>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let relay = Relay::new(db, starter, RelayOptions::default());
    tokio::spawn(async move { relay.run(shutdown).await })
}

pub fn temporal_starter(connection: &TemporalConnection) -> Arc<dyn WorkflowStarter> {
    Arc::new(TemporalStarter::new(connection.clone()))
}

pub fn worker_deps(settings: Arc<Settings>, db: Db) -> Result<Arc<Deps>, WiringError> {
    let mailer = mailer_from_settings(&settings).map_err(|e| WiringError::Config(e.to_string()))?;
    Ok(Arc::new(Deps {
        db,
        settings,
        mailer,
        // No billing integration ships with Tenantry (workflows.md §4.3); a deployment swaps this in.
        billing: Arc::new(tenantry_workflows::billing::NoBilling),
    }))
}

/// Runs the workers on their own thread and runtime: SDK workers are not `Send`, and a process that also
/// serves HTTP (dev, tests) keeps them apart this way. The thread owns its own pools and Temporal client.
pub fn spawn_worker_thread(
    settings: Arc<Settings>,
    queues: Vec<Queue>,
    shutdown: CancellationToken,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("tenantry-worker".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("tenantry-worker-rt")
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "worker runtime could not start");
                    return;
                }
            };
            runtime.block_on(async move {
                let db = match connect_db(&settings).await {
                    Ok(db) => db,
                    Err(e) => {
                        tracing::error!(error = %e, "worker database pool could not be created");
                        return;
                    }
                };
                let deps = match worker_deps(settings.clone(), db) {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::error!(error = %e, "worker could not start");
                        return;
                    }
                };
                let connection = TemporalConnection::spawn(&settings, shutdown.clone());
                worker::run_until_shutdown(deps, connection, queues, shutdown).await;
            });
        })
}

/// Cancels `token` on SIGTERM or SIGINT; a second signal exits at once.
pub fn cancel_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; draining");
        token.cancel();
        wait_for_signal().await;
        tracing::warn!("second signal; exiting now");
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Binds the worker's health server; a busy port is reported, not fatal to the worker.
pub async fn bind_worker_health(port: u16) -> Option<TcpListener> {
    let addr = SocketAddr::from(([0, 0, 0, 0], port));
    match TcpListener::bind(addr).await {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::warn!(port, error = %e, "worker health port unavailable; health server disabled");
            None
        }
    }
}

pub const RELAY_STOP_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(bind: &str, app_url: Option<&str>) -> Arc<Settings> {
        let mut vars = HashMap::from([
            (
                "DATABASE_URL".to_owned(),
                "postgres://x@127.0.0.1/x".to_owned(),
            ),
            ("JWT_SECRET_KEY".to_owned(), "k".repeat(32)),
            ("BIND_ADDR".to_owned(), bind.to_owned()),
        ]);
        if let Some(url) = app_url {
            vars.insert("APP_URL".to_owned(), url.to_owned());
        }
        match Settings::from_map(vars) {
            Ok(s) => Arc::new(s),
            Err(e) => panic!("settings: {e}"),
        }
    }

    #[test]
    fn dev_app_url_defaults_to_the_api_origin_unless_set() {
        let cases = [
            ("127.0.0.1:8000", "http://127.0.0.1:8000"),
            ("0.0.0.0:9000", "http://127.0.0.1:9000"),
            ("[::]:8000", "http://[::1]:8000"),
            ("[::1]:8001", "http://[::1]:8001"),
            ("10.1.2.3:80", "http://10.1.2.3:80"),
        ];
        for (bind, want) in cases {
            for unset in [None, Some(""), Some("  ")] {
                let s = dev_app_url_default(settings(bind, unset), unset);
                assert_eq!(s.app_url, want, "{bind} {unset:?}");
            }
        }
        let explicit = "https://console.example.com";
        let s = dev_app_url_default(settings("0.0.0.0:9000", Some(explicit)), Some(explicit));
        assert_eq!(s.app_url, explicit);
    }
}
