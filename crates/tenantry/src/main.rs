//! `tenantry serve | worker | migrate | dev | admin`.

mod admin_cmd;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tenantry::cli::{Cli, Command, MigrateCommand, Workload};
use tenantry::{migrate_cmd, telemetry, wiring};
use tenantry_settings::Settings;
use tenantry_store::{Db, PgPool};
use tenantry_workflows::TemporalConnection;
use tenantry_workflows::health_server::{self, WorkerHealth};
use tenantry_workflows::worker;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Invalid settings or usage.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Two rustls providers can be compiled in (tests); choose one before any TLS client exists.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = match Settings::from_env() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("tenantry: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init(Some(&settings));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tenantry: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(cli, settings));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

async fn run(cli: Cli, settings: Arc<Settings>) -> i32 {
    let command = match cli.command {
        // Migrations need a session (advisory locks): PostgreSQL itself, never a transaction pooler.
        Command::Migrate(cmd) => {
            return match wiring::connect_migration_pool(&settings).await {
                Ok(pool) => migrate(&pool, cmd).await,
                Err(e) => {
                    eprintln!("tenantry: {e}");
                    i32::from(EXIT_CONFIG)
                }
            };
        }
        other => other,
    };
    let db = match wiring::connect_db(&settings).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("tenantry: {e}");
            return i32::from(EXIT_CONFIG);
        }
    };
    let result = match command {
        // Taken above; kept for an exhaustive match.
        Command::Migrate(cmd) => return migrate(db.session_pool(), cmd).await,
        Command::Serve => {
            if let Some(code) = require_current_schema(&db).await {
                return code;
            }
            serve(settings, db).await
        }
        Command::Worker(args) => {
            if let Some(code) = require_current_schema(&db).await {
                return code;
            }
            let workload = match args.workload {
                Workload::Tenant => worker::Workload::Tenant,
                Workload::Jobs => worker::Workload::Jobs,
                Workload::All => worker::Workload::All,
            };
            let shards = match args
                .shards
                .as_deref()
                .map(|s| tenantry::cli::parse_shards(s, settings.temporal_queue_shards))
            {
                Some(Err(e)) => {
                    eprintln!("tenantry worker --shards: {e}");
                    return i32::from(EXIT_CONFIG);
                }
                Some(Ok(s)) => Some(s),
                None => None,
            };
            run_worker(settings, db, workload, shards).await
        }
        // Email links of the embedded default land on the console this process serves.
        Command::Dev => {
            let app_url = std::env::var("APP_URL").ok();
            dev(
                wiring::dev_app_url_default(settings, app_url.as_deref()),
                db,
            )
            .await
        }
        Command::Admin(cmd) => {
            if let Some(code) = require_current_schema(&db).await {
                return code;
            }
            return admin_cmd::run(settings, db, cmd).await;
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "tenantry stopped with an error");
            1
        }
    }
}

/// Reads sqlx's migration table outside a transaction: on the session pool.
async fn require_current_schema(db: &Db) -> Option<i32> {
    match tenantry_store::check_public_current(db.session_pool()).await {
        Ok(()) => None,
        Err(e) => {
            eprintln!("tenantry: {e} (run `tenantry migrate public`)");
            Some(i32::from(EXIT_CONFIG))
        }
    }
}

async fn migrate(pool: &PgPool, cmd: MigrateCommand) -> i32 {
    match cmd {
        MigrateCommand::Public => match tenantry_store::migrate_public(pool).await {
            Ok(()) => {
                println!("public migrations applied");
                0
            }
            Err(e) => {
                eprintln!("tenantry migrate public: {e}");
                1
            }
        },
        MigrateCommand::Tenants(args) => migrate_cmd::tenants(pool, &args).await,
        MigrateCommand::Status => match tenantry_store::migration_status(pool).await {
            Ok(report) => {
                println!("{report}");
                0
            }
            Err(e) => {
                eprintln!("tenantry migrate status: {e}");
                2
            }
        },
    }
}

async fn serve(settings: Arc<Settings>, db: Db) -> Result<(), wiring::WiringError> {
    let shutdown = CancellationToken::new();
    wiring::cancel_on_signals(shutdown.clone());
    let connection = TemporalConnection::spawn(&settings, shutdown.clone());
    let relay_stop = CancellationToken::new();
    let relay = settings.outbox_relay_enabled.then(|| {
        wiring::spawn_relay(
            db.clone(),
            wiring::temporal_starter(&connection),
            relay_stop.clone(),
        )
    });
    let state = wiring::app_state(settings.clone(), db.clone(), &connection, &shutdown)?;
    let listener = TcpListener::bind(settings.bind_addr).await?;
    let served = wiring::run_api(state, listener, shutdown).await;
    // The relay outlives in-flight requests so their start requests are picked up, then stops.
    relay_stop.cancel();
    if let Some(relay) = relay {
        let _ = tokio::time::timeout(wiring::RELAY_STOP_TIMEOUT, relay).await;
    }
    db.close().await;
    served
}

async fn run_worker(
    settings: Arc<Settings>,
    db: Db,
    workload: worker::Workload,
    shards: Option<Vec<u16>>,
) -> Result<(), wiring::WiringError> {
    let shutdown = CancellationToken::new();
    wiring::cancel_on_signals(shutdown.clone());
    let queues = worker::queues(&settings, workload, shards.as_deref());
    let connection = TemporalConnection::spawn(&settings, shutdown.clone());
    let health_stop = CancellationToken::new();
    if let Some(listener) = wiring::bind_worker_health(settings.worker_health_port).await {
        let health = WorkerHealth {
            workload: workload.as_str(),
            task_queues: queues.iter().map(|q| q.name.clone()).collect(),
            database: Arc::new(tenantry_services::health::DatabaseProbe(db.pool().clone())),
            temporal: Arc::new(tenantry_workflows::TemporalProbe::new(connection.clone())),
            draining: shutdown.clone(),
        };
        let stop = health_stop.clone();
        tokio::spawn(async move { health_server::serve(listener, health, stop).await });
    }
    let deps = wiring::worker_deps(settings, db.clone())?;
    worker::run_until_shutdown(deps, connection, queues, shutdown).await;
    health_stop.cancel();
    db.close().await;
    Ok(())
}

/// Migrations, then API, relay and worker in one process.
async fn dev(settings: Arc<Settings>, db: Db) -> Result<(), wiring::WiringError> {
    tenantry_store::migrate_public(db.session_pool()).await?;
    let args = tenantry::cli::MigrateTenantsArgs {
        concurrency: 4,
        tenants: Vec::new(),
        dry_run: false,
        fail_fast: false,
        lock_wait: std::time::Duration::from_secs(60),
        lock_timeout: std::time::Duration::from_secs(5),
        statement_timeout: std::time::Duration::ZERO,
    };
    if migrate_cmd::tenants(db.session_pool(), &args).await != 0 {
        tracing::warn!("some tenant schemas did not migrate; see above");
    }
    let shutdown = CancellationToken::new();
    let worker_stop = CancellationToken::new();
    let queues = worker::queues(&settings, worker::Workload::All, None);
    let worker = wiring::spawn_worker_thread(settings.clone(), queues, worker_stop.clone())?;
    let served = serve(settings, db).await;
    shutdown.cancel();
    worker_stop.cancel();
    let _ = tokio::task::spawn_blocking(move || worker.join()).await;
    served
}
