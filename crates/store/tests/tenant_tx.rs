//! `TenantTx` never leaks a tenant `search_path` onto a pooled connection: after commit, after
//! rollback, after being dropped, and after the owning task is aborted (idle or mid-query).
//! Every pool here has one connection, so the next acquire gets the very connection the
//! transaction used.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, create_tenants, slugs};
use sqlx::PgPool;
use tenantry_domain::SchemaName;
use tenantry_store::{Db, TenantTx};
use tokio::sync::oneshot;

const DEFAULT_SEARCH_PATH: &str = "\"$user\", public";

/// One tenant whose schema holds `things` with a single row.
async fn setup() -> (TestDb, PgPool, SchemaName) {
    let db = TestDb::migrated().await;
    let pool = db.pool(1);
    let tenant = create_tenants(&pool, &slugs("tx", 1)).await.remove(0);
    sqlx::raw_sql(&format!(
        "CREATE TABLE {0}.things (id integer NOT NULL); INSERT INTO {0}.things (id) VALUES (1);",
        tenant.schema.quoted()
    ))
    .execute(&pool)
    .await
    .unwrap();
    (db, pool, tenant.schema)
}

/// The next connection from the pool has the default search_path and cannot see tenant tables
/// unqualified.
async fn assert_clean(pool: &PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let search_path: String = sqlx::query_scalar("SHOW search_path")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(search_path, DEFAULT_SEARCH_PATH);
    // SAVEPOINT is refused (25P01) outside a transaction block: proves none was left open.
    let err = sqlx::raw_sql("SAVEPOINT probe")
        .execute(&mut *conn)
        .await
        .unwrap_err();
    assert_eq!(
        tenantry_store::sqlstate(&err).as_deref(),
        Some("25P01"),
        "connection came back inside an open transaction"
    );
    let err = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM things")
        .fetch_one(&mut *conn)
        .await
        .unwrap_err();
    assert_eq!(tenantry_store::sqlstate(&err).as_deref(), Some("42P01"));
}

async fn assert_tenant_scoped(tx: &mut TenantTx) {
    let search_path: String = sqlx::query_scalar("SHOW search_path")
        .fetch_one(&mut **tx)
        .await
        .unwrap();
    assert_eq!(search_path, tx.schema().quoted());
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM things")
        .fetch_one(&mut **tx)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn setting_ends_with_commit() {
    let (_db, pool, schema) = setup().await;
    let mut tx = TenantTx::begin(&Db::from(pool.clone()), &schema)
        .await
        .unwrap();
    assert_tenant_scoped(&mut tx).await;
    sqlx::query("INSERT INTO things (id) VALUES (2)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_clean(&pool).await;
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}.things", schema.quoted()))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 2, "the commit kept the write");
}

#[tokio::test]
async fn setting_ends_with_rollback() {
    let (_db, pool, schema) = setup().await;
    let mut tx = TenantTx::begin(&Db::from(pool.clone()), &schema)
        .await
        .unwrap();
    assert_tenant_scoped(&mut tx).await;
    sqlx::query("INSERT INTO things (id) VALUES (2)")
        .execute(tx.as_mut())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_clean(&pool).await;
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}.things", schema.quoted()))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "the rollback discarded the write");
}

#[tokio::test]
async fn setting_ends_when_dropped_without_commit() {
    let (_db, pool, schema) = setup().await;
    let mut tx = TenantTx::begin(&Db::from(pool.clone()), &schema)
        .await
        .unwrap();
    assert_tenant_scoped(&mut tx).await;
    drop(tx);
    assert_clean(&pool).await;
}

#[tokio::test]
async fn setting_ends_when_owning_task_is_aborted_while_idle_in_transaction() {
    let (_db, pool, schema) = setup().await;
    let (inside_tx, is_inside) = oneshot::channel();
    let task = tokio::spawn({
        let pool = pool.clone();
        async move {
            let mut tx = TenantTx::begin(&Db::from(pool.clone()), &schema)
                .await
                .unwrap();
            assert_tenant_scoped(&mut tx).await;
            inside_tx.send(()).unwrap();
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            tx.commit().await.unwrap();
        }
    });
    is_inside.await.unwrap();
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_clean(&pool).await;
}

#[tokio::test]
async fn setting_ends_when_owning_task_is_aborted_mid_query() {
    let (db, pool, schema) = setup().await;
    let (about_to_query, is_querying) = oneshot::channel();
    let task = tokio::spawn({
        let pool = pool.clone();
        async move {
            let mut tx = TenantTx::begin(&Db::from(pool.clone()), &schema)
                .await
                .unwrap();
            about_to_query.send(()).unwrap();
            // Short enough that the aborted query finishes well inside the pool's acquire timeout.
            sqlx::query("SELECT pg_sleep(0.5), count(*) FROM things")
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    });
    is_querying.await.unwrap();
    // Abort only once the server is executing the query, observed from outside the pool.
    let mut observer = db.connection().await;
    let mut running = false;
    for _ in 0..500 {
        running = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity \
             WHERE datname = current_database() AND state = 'active' AND query LIKE 'SELECT pg_sleep(0.5)%')",
        )
        .fetch_one(&mut observer)
        .await
        .unwrap();
        if running {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(running, "the query never started");
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_clean(&pool).await;
}

#[tokio::test]
async fn tenant_transaction_does_not_see_public_unqualified() {
    let (_db, pool, schema) = setup().await;
    let mut tx = TenantTx::begin(&Db::from(pool.clone()), &schema)
        .await
        .unwrap();
    let err = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM tenants")
        .fetch_one(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(tenantry_store::sqlstate(&err).as_deref(), Some("42P01"));
    tx.rollback().await.unwrap();

    let mut tx = TenantTx::begin(&Db::from(pool.clone()), &schema)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM public.tenants")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 1);
    tx.commit().await.unwrap();
    assert_clean(&pool).await;
}

#[tokio::test]
async fn many_tenants_on_one_connection_never_mix() {
    let db = TestDb::migrated().await;
    let pool = db.pool(1);
    let tenants = create_tenants(&pool, &slugs("mix", 3)).await;
    for (i, tenant) in tenants.iter().enumerate() {
        sqlx::raw_sql(&format!(
            "CREATE TABLE {0}.things (id integer NOT NULL); INSERT INTO {0}.things (id) VALUES ({i});",
            tenant.schema.quoted()
        ))
        .execute(&pool)
        .await
        .unwrap();
    }
    for round in 0..3 {
        for (i, tenant) in tenants.iter().enumerate() {
            let mut tx = TenantTx::begin(&Db::from(pool.clone()), &tenant.schema)
                .await
                .unwrap();
            let id: i32 = sqlx::query_scalar("SELECT id FROM things")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            assert_eq!(id as usize, i, "round {round}");
            if round % 2 == 0 {
                tx.commit().await.unwrap();
            } else {
                tx.rollback().await.unwrap();
            }
        }
    }
    assert_clean(&pool).await;
}

#[tokio::test]
async fn stale_cached_plan_is_retried_once_after_healing_the_connection() {
    let db = TestDb::migrated().await;
    let pool = db.pool(1);
    let tenants = create_tenants(&pool, &slugs("plan", 2)).await;
    // Same statement text, different result type per schema: what a non-expand/contract change
    // would cause while schemas are at different versions.
    sqlx::raw_sql(&format!(
        "CREATE TABLE {0}.probe (a integer); INSERT INTO {0}.probe VALUES (1); \
         CREATE TABLE {1}.probe (a bigint); INSERT INTO {1}.probe VALUES (2);",
        tenants[0].schema.quoted(),
        tenants[1].schema.quoted()
    ))
    .execute(&pool)
    .await
    .unwrap();
    let probe = "SELECT a FROM probe";

    let mut tx = TenantTx::begin(&Db::from(pool.clone()), &tenants[0].schema)
        .await
        .unwrap();
    sqlx::query(probe).fetch_all(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();

    let mut attempts = 0;
    let value: i64 = loop {
        attempts += 1;
        let mut tx = TenantTx::begin(&Db::from(pool.clone()), &tenants[1].schema)
            .await
            .unwrap();
        match sqlx::query_scalar::<_, i64>(probe)
            .fetch_one(&mut *tx)
            .await
        {
            Ok(value) => {
                tx.commit().await.unwrap();
                break value;
            }
            Err(err) if attempts == 1 && tenantry_store::is_cached_plan_invalidated(&err) => {
                tx.rollback_after_error(&err).await.unwrap();
            }
            Err(err) => panic!("attempt {attempts}: {err}"),
        }
    };
    assert_eq!(value, 2);
    assert_eq!(attempts, 2, "the first attempt hits the stale plan");
    assert_clean(&pool).await;
}
