//! `TestApp::spawn()`: a real Tenantry for one test — its own database cloned from a migrated template,
//! the API on a random port, the outbox relay, and a worker on task queues of its own, against the real
//! PostgreSQL, Redis and Temporal dev server of the test run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod db;
pub mod temporal;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use sqlx::PgPool;
use tenantry_http::AppState;
use tenantry_services::outbox::WorkflowStarter;
use tenantry_services::passwords::{PasswordHasher, Passwords};
use tenantry_settings::{DatabasePooler, Settings};
use tenantry_store::Db;
use tenantry_workflows::TemporalConnection;
use tenantry_workflows::worker::{self, Workload};
use tokio_util::sync::CancellationToken;

/// A secret long enough for the settings check; tests only.
pub const TEST_JWT_SECRET: &str = "test-secret-key-that-is-long-enough-0123456789";

pub fn temporal_host() -> String {
    std::env::var("TEMPORAL_HOST").unwrap_or_else(|_| "127.0.0.1:7233".to_owned())
}

/// `TENANTRY_TEST_POOLER_URL`: a transaction-mode pooler (PgBouncer) in front of the server of
/// `TENANTRY_TEST_DATABASE_URL`, given as the URL of its `postgres` database. When set, every app's database
/// is still created directly on the server, but the app reaches it through the pooler
/// (`DATABASE_POOLER=transaction`, `DATABASE_DIRECT_URL` the server itself); see `scripts/pgbouncer-check`.
pub fn pooler_url() -> Option<String> {
    std::env::var("TENANTRY_TEST_POOLER_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

pub fn redis_url() -> String {
    std::env::var("TENANTRY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Installs the crypto provider and a test log subscriber once per process.
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,temporalio_sdk_core=error")
            }),
        )
        .with_test_writer()
        .try_init();
}

pub struct TestAppBuilder {
    env: HashMap<String, String>,
    worker: bool,
    relay: bool,
    extra_routes: Option<axum::Router<AppState>>,
    starter: Option<Arc<dyn WorkflowStarter>>,
    hasher: Option<Arc<dyn PasswordHasher>>,
    database_server: Option<String>,
}

impl TestAppBuilder {
    /// Replaces the API's password hasher (e.g. with one that counts verifications).
    pub fn hasher(mut self, hasher: Arc<dyn PasswordHasher>) -> Self {
        self.hasher = Some(hasher);
        self
    }

    /// The PostgreSQL server of this app's database, as the URL of its `postgres` database (default
    /// `TENANTRY_TEST_DATABASE_URL`): e.g. a private cluster that a fault test stops and starts.
    pub fn database_server(mut self, admin_url: &str) -> Self {
        self.database_server = Some(admin_url.to_owned());
        self
    }

    /// Sets a settings variable (api.md §9 names) for this app.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.to_owned(), value.to_owned());
        self
    }

    pub fn without_worker(mut self) -> Self {
        self.worker = false;
        self
    }

    pub fn without_relay(mut self) -> Self {
        self.relay = false;
        self
    }

    /// Extra `/api/v1` routes, for tests of the platform itself (e.g. a handler that panics).
    pub fn routes(mut self, routes: axum::Router<AppState>) -> Self {
        self.extra_routes = Some(routes);
        self
    }

    /// Replaces the relay's Temporal starter (e.g. with a counting or crashing wrapper).
    pub fn starter(mut self, starter: Arc<dyn WorkflowStarter>) -> Self {
        self.starter = Some(starter);
        self
    }

    pub async fn spawn(self) -> anyhow::Result<TestApp> {
        init();
        let database = match &self.database_server {
            Some(server) => db::TestDatabase::create_on(server).await?,
            None => db::TestDatabase::create().await?,
        };
        let unique = uuid::Uuid::now_v7().simple().to_string();
        let mut vars: HashMap<String, String> = HashMap::from([
            ("APP_ENV".into(), "test".into()),
            ("DATABASE_URL".into(), database.url.clone()),
            ("DATABASE_MAX_CONNECTIONS".into(), "10".into()),
            ("JWT_SECRET_KEY".into(), TEST_JWT_SECRET.into()),
            ("TEMPORAL_HOST".into(), temporal::ensure_server().await),
            ("TEMPORAL_QUEUE_PREFIX".into(), format!("t{unique}")),
            ("REDIS_URL".into(), redis_url()),
            ("RATE_LIMIT_KEY_PREFIX".into(), format!("test:{unique}:")),
            ("ACTIVITY_RETRY_INITIAL_MS".into(), "100".into()),
            ("ACTIVITY_RETRY_MAX_MS".into(), "1000".into()),
            ("SHUTDOWN_GRACE_PERIOD".into(), "2".into()),
            ("WORKER_SHUTDOWN_GRACE_SECONDS".into(), "2".into()),
            ("BIND_ADDR".into(), "127.0.0.1:0".into()),
            ("APP_URL".into(), "http://app.test".into()),
        ]);
        if let Some(pooler) = pooler_url() {
            vars.insert("DATABASE_URL".into(), database.url_on(&pooler));
            vars.insert("DATABASE_POOLER".into(), "transaction".into());
            vars.insert("DATABASE_DIRECT_URL".into(), database.url.clone());
        }
        vars.extend(self.env);
        let settings = Arc::new(Settings::from_map(vars.clone()).context("test settings")?);
        let db = tenantry::wiring::connect_db(&settings).await?;
        // The tests' own queries (set-up, assertions) go straight to the database in every mode: they check
        // the app, they are not part of it.
        let pool = match settings.database_pooler {
            DatabasePooler::None => db.pool().clone(),
            DatabasePooler::Transaction => tenantry_store::connect(&database.url, 10).await?,
        };
        let shutdown = CancellationToken::new();
        let connection = TemporalConnection::spawn(&settings, shutdown.clone());
        let passwords = match self.hasher {
            Some(h) => Passwords::new(h)?,
            None => Passwords::from_params(&settings.argon2)?,
        };
        let state = tenantry::wiring::app_state_with(
            settings.clone(),
            db.clone(),
            &connection,
            &shutdown,
            passwords,
        )?;
        let mut api_v1 = tenantry_http::api::v1();
        if let Some(extra) = self.extra_routes {
            api_v1 = api_v1.merge(extra);
        }
        let app = tenantry_http::router(state.clone(), api_v1);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let serve_stop = shutdown.clone();
        let serve_state = state.clone();
        tokio::spawn(async move {
            let _ = tenantry_http::serve(
                listener,
                app,
                serve_state,
                serve_stop,
                std::time::Duration::from_secs(2),
            )
            .await;
        });
        if self.relay {
            let starter = self
                .starter
                .unwrap_or_else(|| tenantry::wiring::temporal_starter(&connection));
            tenantry::wiring::spawn_relay(db.clone(), starter, shutdown.clone());
        }
        let worker_thread = if self.worker {
            let queues = worker::queues(&settings, Workload::All, None);
            Some(tenantry::wiring::spawn_worker_thread(
                settings.clone(),
                queues,
                shutdown.clone(),
            )?)
        } else {
            None
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(TestApp {
            addr,
            http,
            pool,
            db,
            settings,
            vars,
            connection,
            shutdown,
            database,
            worker_thread,
        })
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    /// Straight to the app's database (also when the app goes through a pooler): for tests' own queries.
    pub pool: PgPool,
    /// The app's own database handle (through the pooler under `TENANTRY_TEST_POOLER_URL`).
    pub db: Db,
    pub settings: Arc<Settings>,
    /// The variables the app was built from, for spawning a `tenantry` process with the same settings.
    pub vars: HashMap<String, String>,
    pub connection: TemporalConnection,
    shutdown: CancellationToken,
    pub database: db::TestDatabase,
    worker_thread: Option<std::thread::JoinHandle<()>>,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            env: HashMap::new(),
            worker: true,
            relay: true,
            extra_routes: None,
            starter: None,
            hasher: None,
            database_server: None,
        }
    }

    pub async fn spawn() -> anyhow::Result<TestApp> {
        Self::builder().spawn().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request failed")
    }

    /// The Temporal client of this app, once connected.
    pub async fn temporal(&self) -> temporalio_client::Client {
        self.connection
            .wait(std::time::Duration::from_secs(30))
            .await
            .expect("temporal did not answer within 30 s")
    }

    /// A user row with an Argon2id hash of `password` (verified, active).
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        superuser: bool,
    ) -> anyhow::Result<uuid::Uuid> {
        let passwords =
            tenantry_services::passwords::Passwords::from_params(&self.settings.argon2)?;
        let hash = passwords.hash(password.to_owned()).await?;
        let id = uuid::Uuid::now_v7();
        let mut conn = self.pool.acquire().await?;
        tenantry_store::users::insert_if_absent(
            &mut conn,
            &tenantry_store::users::NewUser {
                id,
                email,
                hashed_password: &hash,
                full_name: "Test User",
                verified: true,
                is_superuser: superuser,
            },
        )
        .await?
        .context("email already taken")?;
        Ok(id)
    }

    /// A live session for `user_id` (in `tenant_id`, or a console session without one) and its access token,
    /// as login will issue them.
    pub async fn session_token(
        &self,
        user_id: uuid::Uuid,
        tenant_id: Option<uuid::Uuid>,
    ) -> anyhow::Result<(uuid::Uuid, String)> {
        let sid = uuid::Uuid::now_v7();
        let now = time::OffsetDateTime::now_utc();
        let mut conn = self.pool.acquire().await?;
        tenantry_store::sessions::insert_family(
            &mut conn,
            &tenantry_store::sessions::NewFamily {
                id: sid,
                user_id,
                tenant_id,
                idle_expires_at: now + time::Duration::days(7),
                expires_at: now + time::Duration::days(30),
                user_agent: Some("tenantry-testkit"),
                ip: None,
            },
        )
        .await?;
        let keys = tenantry_services::auth::TokenKeys::from_settings(&self.settings)?;
        let (token, _) = keys.access_token(user_id, tenant_id, sid)?;
        Ok((sid, token))
    }

    /// Starts an in-process worker (for apps built `without_worker`, e.g. to act on the database before
    /// any workflow runs).
    pub fn start_worker(&mut self) -> anyhow::Result<()> {
        let queues = worker::queues(&self.settings, Workload::All, None);
        self.worker_thread = Some(tenantry::wiring::spawn_worker_thread(
            self.settings.clone(),
            queues,
            self.shutdown.clone(),
        )?);
        Ok(())
    }

    /// Stops the API, relay and worker, removes the app's cleanup schedule from the shared Temporal server
    /// (its worker created it), then drops the database.
    pub async fn shutdown(mut self) {
        if self.worker_thread.is_some()
            && let Some(client) = self.connection.get()
        {
            let removal =
                tenantry_workflows::schedule::delete_cleanup_schedule(&client, &self.settings);
            if let Ok(Err(e)) =
                tokio::time::timeout(std::time::Duration::from_secs(5), removal).await
            {
                tracing::warn!(error = %e, "test cleanup schedule not removed");
            }
        }
        self.shutdown.cancel();
        if let Some(t) = self.worker_thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        self.db.close().await;
        self.pool.close().await;
        self.database.drop_now().await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
pub use sqlx;
