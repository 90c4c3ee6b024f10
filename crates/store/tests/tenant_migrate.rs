//! The per-schema routine (data-model.md §4.2): exactly-once under concurrency, per-file atomicity,
//! checksum verification, lock wait, and no advisory lock left on a pooled connection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{
    TestDb, TestTenant, advisory_locks, create_tenants, ledger_rows, ledger_versions, slugs,
    table_exists,
};
use sqlx::PgPool;
use tenantry_store::migrate::{AppliedFile, MigrateError, MigrateOptions, TenantMigrations};
use tenantry_store::migrate_schema;
use tokio::sync::Barrier;

/// Every file logs itself in the schema and in `public.side_effects`; a file applied twice would
/// show up as a duplicate row (or fail on its DDL).
fn side_effect_set(n: i64) -> TenantMigrations {
    TenantMigrations::new((1..=n).map(|v| {
        let ddl = if v == 1 {
            "CREATE TABLE applied_log (version integer NOT NULL);".to_owned()
        } else {
            format!("CREATE TABLE t{v} (id integer);")
        };
        (
            v,
            format!("file {v}"),
            format!(
                "{ddl}\nINSERT INTO applied_log (version) VALUES ({v});\n\
                 INSERT INTO public.side_effects (schema_name, version) VALUES (current_schema(), {v});\n"
            ),
        )
    }))
    .unwrap()
}

async fn setup(n: usize, max_connections: u32) -> (TestDb, PgPool, Vec<TestTenant>) {
    let db = TestDb::migrated().await;
    let pool = db.pool(max_connections);
    sqlx::raw_sql(
        "CREATE TABLE public.side_effects (schema_name text NOT NULL, version integer NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let tenants = create_tenants(&pool, &slugs("mig", n)).await;
    (db, pool, tenants)
}

async fn side_effects(pool: &PgPool, tenant: &TestTenant) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT version FROM public.side_effects WHERE schema_name = $1 ORDER BY version",
    )
    .bind(tenant.schema.as_str())
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn summary_row(
    pool: &PgPool,
    tenant: &TestTenant,
) -> Option<(i64, Option<String>, bool, bool)> {
    sqlx::query_as(
        "SELECT version, last_error, migrated_at IS NOT NULL, last_attempt_at IS NOT NULL \
         FROM public.tenant_schema_versions WHERE tenant_id = $1",
    )
    .bind(tenant.id)
    .fetch_optional(pool)
    .await
    .unwrap()
}

fn no_hook() -> impl FnMut(&AppliedFile) + Send {
    |_: &AppliedFile| {}
}

#[tokio::test]
async fn applies_pending_files_in_order_and_records_everything() {
    let (_db, pool, tenants) = setup(1, 2).await;
    let tenant = &tenants[0];
    let set = side_effect_set(3);
    let mut heartbeats = Vec::new();
    let outcome = migrate_schema(
        &pool,
        &tenant.schema,
        tenant.id,
        &set,
        &MigrateOptions::default(),
        &mut |file: &AppliedFile| heartbeats.push(file.version),
    )
    .await
    .unwrap();
    assert_eq!(outcome.from_version, 0);
    assert_eq!(outcome.to_version, 3);
    assert_eq!(outcome.files_applied(), 3);
    assert_eq!(heartbeats, [1, 2, 3]);
    assert_eq!(ledger_versions(&pool, &tenant.schema).await, [1, 2, 3]);
    assert_eq!(side_effects(&pool, tenant).await, [1, 2, 3]);

    let (checksums, descriptions): (Vec<String>, Vec<String>) =
        sqlx::query_as::<_, (String, String)>(&format!(
            "SELECT checksum, description FROM {}._tenantry_migrations ORDER BY version",
            tenant.schema.quoted()
        ))
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .unzip();
    let expected: Vec<String> = set.iter().map(|m| m.checksum().to_owned()).collect();
    assert_eq!(checksums, expected);
    assert_eq!(descriptions, ["file 1", "file 2", "file 3"]);
    assert_eq!(
        summary_row(&pool, tenant).await,
        Some((3, None, true, true))
    );

    // A re-run applies nothing; a longer set applies only the new file.
    let again = migrate_schema(
        &pool,
        &tenant.schema,
        tenant.id,
        &set,
        &MigrateOptions::default(),
        &mut no_hook(),
    )
    .await
    .unwrap();
    assert_eq!(
        (again.from_version, again.to_version, again.files_applied()),
        (3, 3, 0)
    );
    let longer = migrate_schema(
        &pool,
        &tenant.schema,
        tenant.id,
        &side_effect_set(4),
        &MigrateOptions::default(),
        &mut no_hook(),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            longer.from_version,
            longer.to_version,
            longer.files_applied()
        ),
        (3, 4, 1)
    );
    assert_eq!(side_effects(&pool, tenant).await, [1, 2, 3, 4]);
    assert_eq!(advisory_locks(&pool).await, 0);
}

#[tokio::test]
async fn embedded_set_creates_projects_with_its_constraints() {
    let (_db, pool, tenants) = setup(1, 2).await;
    let tenant = &tenants[0];
    let outcome = migrate_schema(
        &pool,
        &tenant.schema,
        tenant.id,
        TenantMigrations::embedded(),
        &MigrateOptions::wait_for_lock(),
        &mut no_hook(),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome.to_version,
        TenantMigrations::embedded().latest_version()
    );
    let mut tx =
        tenantry_store::TenantTx::begin(&tenantry_store::Db::from(pool.clone()), &tenant.schema)
            .await
            .unwrap();
    sqlx::query("INSERT INTO projects (id, name) VALUES ($1, 'Alpha')")
        .bind(uuid::Uuid::now_v7())
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = sqlx::query("INSERT INTO projects (id, name) VALUES ($1, 'Alpha')")
        .bind(uuid::Uuid::now_v7())
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(
        tenantry_store::constraint_name(&err),
        Some("uq_projects_name")
    );
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn ten_concurrent_runs_apply_each_file_exactly_once() {
    const TASKS: usize = 10;
    let (_db, pool, tenants) = setup(1, TASKS as u32 + 2).await;
    let tenant = tenants[0].clone();
    let set = Arc::new(side_effect_set(3));
    let barrier = Arc::new(Barrier::new(TASKS));
    let heartbeats = Arc::new(AtomicUsize::new(0));

    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let (pool, tenant, set, barrier, heartbeats) = (
                pool.clone(),
                tenant.clone(),
                set.clone(),
                barrier.clone(),
                heartbeats.clone(),
            );
            tokio::spawn(async move {
                // Half wait on the blocking lock, half poll it with a wait limit.
                let options = if i % 2 == 0 {
                    MigrateOptions::wait_for_lock()
                } else {
                    MigrateOptions {
                        lock_wait: Some(Duration::from_secs(120)),
                        ..MigrateOptions::default()
                    }
                };
                barrier.wait().await;
                migrate_schema(
                    &pool,
                    &tenant.schema,
                    tenant.id,
                    &set,
                    &options,
                    &mut |_: &AppliedFile| {
                        heartbeats.fetch_add(1, Ordering::SeqCst);
                    },
                )
                .await
            })
        })
        .collect();

    let mut applied_per_run = Vec::new();
    for handle in handles {
        applied_per_run.push(handle.await.unwrap().unwrap().files_applied());
    }
    applied_per_run.sort_unstable();
    let mut expected = vec![0; TASKS - 1];
    expected.push(3);
    assert_eq!(applied_per_run, expected);
    assert_eq!(heartbeats.load(Ordering::SeqCst), 3);
    assert_eq!(ledger_rows(&pool, &tenant.schema).await, 3);
    assert_eq!(side_effects(&pool, &tenant).await, [1, 2, 3]);
    let log: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {}.applied_log",
        tenant.schema.quoted()
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(log, 3);
    assert_eq!(advisory_locks(&pool).await, 0);
}

#[tokio::test]
async fn failing_file_rolls_back_only_itself() {
    let (_db, pool, tenants) = setup(1, 1).await;
    let tenant = &tenants[0];
    let files = |third: &str| {
        TenantMigrations::new([
            (1, "one", "CREATE TABLE one (id integer); INSERT INTO public.side_effects VALUES (current_schema(), 1);".to_owned()),
            (2, "two", "CREATE TABLE two (id integer); INSERT INTO public.side_effects VALUES (current_schema(), 2);".to_owned()),
            (3, "three", format!("CREATE TABLE three (id integer); INSERT INTO public.side_effects VALUES (current_schema(), 3); {third}")),
            (4, "four", "CREATE TABLE four (id integer); INSERT INTO public.side_effects VALUES (current_schema(), 4);".to_owned()),
        ])
        .unwrap()
    };

    let mut heartbeats = 0;
    let err = migrate_schema(
        &pool,
        &tenant.schema,
        tenant.id,
        &files("SELECT no_such_column FROM one;"),
        &MigrateOptions::default(),
        &mut |_: &AppliedFile| heartbeats += 1,
    )
    .await
    .unwrap_err();
    match &err {
        MigrateError::MigrationFailed { version, error, .. } => {
            assert_eq!(*version, 3);
            assert_eq!(tenantry_store::sqlstate(error).as_deref(), Some("42703"));
        }
        other => panic!("expected MigrationFailed, got {other:?}"),
    }
    assert!(!err.is_transient());
    assert_eq!(heartbeats, 2);
    assert_eq!(ledger_versions(&pool, &tenant.schema).await, [1, 2]);
    assert_eq!(side_effects(&pool, tenant).await, [1, 2]);
    let schema = tenant.schema.quoted();
    assert!(table_exists(&pool, &format!("{schema}.two")).await);
    assert!(!table_exists(&pool, &format!("{schema}.three")).await);
    assert!(!table_exists(&pool, &format!("{schema}.four")).await);
    let (version, last_error, migrated, attempted) = summary_row(&pool, tenant).await.unwrap();
    assert_eq!(version, 2);
    assert!(last_error.unwrap().contains("migration 3"));
    assert!(!migrated);
    assert!(attempted);
    // The only pooled connection is back, without the lock.
    assert_eq!(advisory_locks(&pool).await, 0);

    // The fixed file and the rest apply; the error is cleared.
    let outcome = migrate_schema(
        &pool,
        &tenant.schema,
        tenant.id,
        &files(""),
        &MigrateOptions::default(),
        &mut no_hook(),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            outcome.from_version,
            outcome.to_version,
            outcome.files_applied()
        ),
        (2, 4, 2)
    );
    assert_eq!(side_effects(&pool, tenant).await, [1, 2, 3, 4]);
    assert_eq!(
        summary_row(&pool, tenant).await,
        Some((4, None, true, true))
    );
}

#[tokio::test]
async fn changed_applied_file_stops_the_schema() {
    let (_db, pool, tenants) = setup(1, 1).await;
    let tenant = &tenants[0];
    let original = TenantMigrations::new([(1, "one", "CREATE TABLE one (id integer);")]).unwrap();
    migrate_schema(
        &pool,
        &tenant.schema,
        tenant.id,
        &original,
        &MigrateOptions::default(),
        &mut no_hook(),
    )
    .await
    .unwrap();

    let changed = TenantMigrations::new([
        (1, "one", "CREATE TABLE one (id bigint);"),
        (2, "two", "CREATE TABLE two (id integer);"),
    ])
    .unwrap();
    let err = migrate_schema(
        &pool,
        &tenant.schema,
        tenant.id,
        &changed,
        &MigrateOptions::default(),
        &mut no_hook(),
    )
    .await
    .unwrap_err();
    match &err {
        MigrateError::ChecksumMismatch {
            version,
            applied,
            file,
            ..
        } => {
            assert_eq!(*version, 1);
            assert_eq!(applied, original.get(1).unwrap().checksum());
            assert_eq!(file, changed.get(1).unwrap().checksum());
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
    assert!(!err.is_transient());
    assert_eq!(ledger_versions(&pool, &tenant.schema).await, [1]);
    assert!(!table_exists(&pool, &format!("{}.two", tenant.schema.quoted())).await);
    let (version, last_error, _, _) = summary_row(&pool, tenant).await.unwrap();
    assert_eq!(version, 1);
    assert!(last_error.unwrap().contains("checksum mismatch"));
    assert_eq!(advisory_locks(&pool).await, 0);
}

#[tokio::test]
async fn held_lock_makes_the_schema_busy_after_the_wait() {
    let (db, pool, tenants) = setup(1, 1).await;
    let tenant = &tenants[0];
    let mut holder = db.connection().await;
    sqlx::query("SELECT pg_advisory_lock(74001, hashtext($1))")
        .bind(tenant.schema.as_str())
        .execute(&mut holder)
        .await
        .unwrap();

    let options = MigrateOptions {
        lock_wait: Some(Duration::from_millis(100)),
        ..MigrateOptions::default()
    };
    let err = migrate_schema(
        &pool,
        &tenant.schema,
        tenant.id,
        &side_effect_set(1),
        &options,
        &mut no_hook(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, MigrateError::Busy { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(ledger_rows(&pool, &tenant.schema).await, 0);
    assert_eq!(
        summary_row(&pool, tenant).await,
        None,
        "busy runs write nothing"
    );

    sqlx::query("SELECT pg_advisory_unlock(74001, hashtext($1))")
        .bind(tenant.schema.as_str())
        .execute(&mut holder)
        .await
        .unwrap();
    let outcome = migrate_schema(
        &pool,
        &tenant.schema,
        tenant.id,
        &side_effect_set(1),
        &options,
        &mut no_hook(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.files_applied(), 1);
}

#[tokio::test]
async fn missing_schema_is_reported_without_creating_anything() {
    let (_db, pool, tenants) = setup(1, 1).await;
    let tenant = &tenants[0];
    sqlx::raw_sql(&format!("DROP SCHEMA {}", tenant.schema.quoted()))
        .execute(&pool)
        .await
        .unwrap();
    let err = migrate_schema(
        &pool,
        &tenant.schema,
        tenant.id,
        &side_effect_set(1),
        &MigrateOptions::default(),
        &mut no_hook(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, MigrateError::SchemaMissing { .. }), "{err:?}");
    assert_eq!(summary_row(&pool, tenant).await, None);
    assert_eq!(advisory_locks(&pool).await, 0);
}

#[tokio::test]
async fn cancelled_run_mid_file_leaves_no_lock_and_no_partial_file() {
    let (_db, pool, tenants) = setup(1, 2).await;
    let tenant = tenants[0].clone();
    let slow = TenantMigrations::new([
        (1, "one", "CREATE TABLE one (id integer); INSERT INTO public.side_effects VALUES (current_schema(), 1);"),
        (2, "slow", "CREATE TABLE two (id integer); INSERT INTO public.side_effects VALUES (current_schema(), 2); SELECT pg_sleep(0.5);"),
    ])
    .unwrap();

    let task = tokio::spawn({
        let (pool, tenant, slow) = (pool.clone(), tenant.clone(), slow.clone());
        async move {
            migrate_schema(
                &pool,
                &tenant.schema,
                tenant.id,
                &slow,
                &MigrateOptions::default(),
                &mut no_hook(),
            )
            .await
        }
    });
    // Abort once file 2 is executing on the server.
    let mut observed = false;
    for _ in 0..1000 {
        observed = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity \
             WHERE datname = current_database() AND state = 'active' AND query LIKE '%pg_sleep(0.5)%' \
               AND pid <> pg_backend_pid())",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if observed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(observed, "file 2 never started");
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());

    // The aborted connection was closed rather than pooled; the server drops its lock and rolls
    // file 2 back once the session ends. A new run waits for that, then finishes the job.
    let outcome = migrate_schema(
        &pool,
        &tenant.schema,
        tenant.id,
        &slow,
        &MigrateOptions {
            lock_wait: Some(Duration::from_secs(60)),
            ..MigrateOptions::default()
        },
        &mut no_hook(),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            outcome.from_version,
            outcome.to_version,
            outcome.files_applied()
        ),
        (1, 2, 1)
    );
    assert_eq!(side_effects(&pool, &tenant).await, [1, 2]);
    assert_eq!(ledger_rows(&pool, &tenant.schema).await, 2);
    assert_eq!(advisory_locks(&pool).await, 0);
}

#[tokio::test]
async fn timeouts_apply_inside_each_file() {
    let (_db, pool, tenants) = setup(1, 1).await;
    let tenant = &tenants[0];
    let set = TenantMigrations::new([(1, "slow", "SELECT pg_sleep(5);")]).unwrap();
    let options = MigrateOptions {
        statement_timeout: Duration::from_millis(50),
        ..MigrateOptions::default()
    };
    let err = migrate_schema(
        &pool,
        &tenant.schema,
        tenant.id,
        &set,
        &options,
        &mut no_hook(),
    )
    .await
    .unwrap_err();
    match &err {
        MigrateError::MigrationFailed { error, .. } => {
            assert_eq!(tenantry_store::sqlstate(error).as_deref(), Some("57014"));
        }
        other => panic!("expected MigrationFailed, got {other:?}"),
    }
    assert!(err.is_transient(), "a statement timeout is worth retrying");
    // The timeout was local to the file's transaction.
    let timeout: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(timeout, "0");
}
