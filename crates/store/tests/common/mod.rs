//! Test support: a fresh database per test on the local PostgreSQL, tenants with schemas, and a
//! progress sink that records events (and can cancel a run after N schemas).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection as _, PgConnection, PgPool};
use tenantry_domain::SchemaName;
use tenantry_store::migrate::{ProgressSink, SchemaEvent, Summary};
use tenantry_store::{CancellationToken, PoolConfig};
use tokio::sync::Notify;
use uuid::Uuid;

/// Server to test against; the database part is ignored.
fn server_options() -> PgConnectOptions {
    let url = std::env::var("TENANTRY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".into());
    url.parse().expect("TENANTRY_TEST_DATABASE_URL")
}

/// A scratch database, dropped `WITH (FORCE)` when this value is dropped (also when the test panics).
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    /// An empty database.
    pub async fn empty() -> TestDb {
        let name = format!("t_{}", Uuid::now_v7().simple());
        let mut admin = PgConnection::connect_with(&server_options().database("postgres"))
            .await
            .expect("connect to test server");
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        TestDb { name }
    }

    /// A database with the public migrations applied.
    pub async fn migrated() -> TestDb {
        let db = TestDb::empty().await;
        let pool = db.pool(2);
        tenantry_store::migrate_public(&pool)
            .await
            .expect("public migrations");
        pool.close().await;
        db
    }

    pub fn options(&self) -> PgConnectOptions {
        server_options().database(&self.name)
    }

    pub fn pool(&self, max_connections: u32) -> PgPool {
        tenantry_store::connect_with(
            self.options(),
            &PoolConfig {
                max_connections,
                acquire_timeout: Duration::from_secs(30),
                ..PoolConfig::default()
            },
        )
        .expect("pool")
    }

    pub async fn connection(&self) -> PgConnection {
        PgConnection::connect_with(&self.options())
            .await
            .expect("connect")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // A separate thread and runtime: Drop cannot await, and may run while a test runtime unwinds.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let mut admin =
                    PgConnection::connect_with(&server_options().database("postgres")).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

#[derive(Debug, Clone)]
pub struct TestTenant {
    pub id: Uuid,
    pub slug: String,
    pub schema: SchemaName,
}

/// `ready` tenants with their schemas created, in `created_at`/id order of the given slugs.
pub async fn create_tenants(pool: &PgPool, slugs: &[String]) -> Vec<TestTenant> {
    let ids: Vec<Uuid> = slugs.iter().map(|_| Uuid::now_v7()).collect();
    let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
        "INSERT INTO public.tenants (id, name, slug, status, is_active, origin) \
         SELECT u.id, u.slug, u.slug, 'ready', true, 'admin' \
         FROM unnest($1::uuid[], $2::text[]) AS u(id, slug) \
         RETURNING id, slug, schema_name",
    )
    .bind(&ids)
    .bind(slugs)
    .fetch_all(pool)
    .await
    .expect("insert tenants");
    let mut tenants: Vec<TestTenant> = rows
        .into_iter()
        .map(|(id, slug, schema)| TestTenant {
            id,
            slug,
            schema: SchemaName::parse(&schema).expect("schema name"),
        })
        .collect();
    tenants.sort_by_key(|t| t.id);
    let ddl: String = tenants
        .iter()
        .map(|t| format!("CREATE SCHEMA {};\n", t.schema.quoted()))
        .collect();
    sqlx::raw_sql(&ddl)
        .execute(pool)
        .await
        .expect("create schemas");
    tenants
}

pub fn slugs(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:04}")).collect()
}

/// Number of rows in a schema's ledger (0 when the ledger does not exist).
pub async fn ledger_rows(pool: &PgPool, schema: &SchemaName) -> i64 {
    let ledger = format!("{}._tenantry_migrations", schema.quoted());
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(&ledger)
        .fetch_one(pool)
        .await
        .unwrap();
    if !exists {
        return 0;
    }
    sqlx::query_scalar(&format!("SELECT count(*) FROM {ledger}"))
        .fetch_one(pool)
        .await
        .unwrap()
}

pub async fn ledger_versions(pool: &PgPool, schema: &SchemaName) -> Vec<i64> {
    sqlx::query_scalar(&format!(
        "SELECT version FROM {}._tenantry_migrations ORDER BY version",
        schema.quoted()
    ))
    .fetch_all(pool)
    .await
    .unwrap()
}

pub async fn table_exists(pool: &PgPool, qualified: &str) -> bool {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(qualified)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Held advisory locks in the whole cluster's current database.
pub async fn advisory_locks(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_catalog.pg_locks \
         WHERE locktype = 'advisory' AND granted \
           AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Records every event; optionally cancels `token` once `cancel_after` schemas have finished and
/// wakes `reached` at that point.
#[derive(Default)]
pub struct RecordingSink {
    pub events: Mutex<Vec<SchemaEvent>>,
    pub started: Mutex<Option<(usize, i64)>>,
    pub finished: Mutex<Option<Summary>>,
    pub cancel_after: Option<(usize, CancellationToken)>,
    pub reached: Notify,
    count: AtomicUsize,
}

impl RecordingSink {
    pub fn cancelling_after(n: usize, token: CancellationToken) -> RecordingSink {
        RecordingSink {
            cancel_after: Some((n, token)),
            ..RecordingSink::default()
        }
    }

    pub fn events(&self) -> Vec<SchemaEvent> {
        self.events.lock().unwrap().clone()
    }
}

impl ProgressSink for RecordingSink {
    fn start(&self, total: usize, target_version: i64) {
        *self.started.lock().unwrap() = Some((total, target_version));
    }

    fn schema(&self, event: &SchemaEvent) {
        self.events.lock().unwrap().push(event.clone());
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some((after, token)) = &self.cancel_after
            && n == *after
        {
            token.cancel();
            self.reached.notify_one();
        }
    }

    fn finish(&self, summary: &Summary) {
        *self.finished.lock().unwrap() = Some(summary.clone());
    }
}
