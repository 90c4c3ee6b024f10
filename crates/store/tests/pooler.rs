//! [`Db`] behind a transaction-mode pooler (`DATABASE_POOLER=transaction`). The first tests run against
//! PostgreSQL itself; the last one needs a real PgBouncer in transaction mode (`TENANTRY_TEST_POOLER_URL`,
//! set by `scripts/pgbouncer-check`) and is skipped without it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::TestDb;
use sqlx::Connection as _;
use sqlx::postgres::PgConnectOptions;
use tenantry_store::{Db, PoolConfig, Pooler};

/// The prepared statements on the current server connection, other than the query asking.
async fn leftover_statements(conn: &mut sqlx::PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT statement FROM pg_prepared_statements \
         WHERE statement NOT LIKE '%pg_prepared_statements%' ORDER BY prepare_time",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

fn pooled(options: PgConnectOptions, max_connections: u32) -> sqlx::PgPool {
    tenantry_store::connect_with(
        tenantry_store::for_transaction_pooler(options),
        &PoolConfig {
            max_connections,
            acquire_timeout: Duration::from_secs(30),
            ..PoolConfig::default()
        },
    )
    .unwrap()
}

/// Regression: sqlx 0.8 names every statement (`sqlx_s_<n>`) even with `statement_cache_capacity(0)` and
/// never closes it, so on a pooler's shared server connection the next client's `sqlx_s_1` collides
/// (42P05). Transactions of [`Db`] start by clearing what earlier transactions left.
#[tokio::test]
async fn pooled_transactions_start_without_anyone_elses_prepared_statements() {
    let test_db = TestDb::empty().await;
    // One connection, so every transaction below runs on the same server session, as it may behind a pooler.
    let pool = pooled(test_db.options(), 1);
    let db = Db::behind_transaction_pooler(pool.clone(), test_db.pool(1));
    assert_eq!(db.pooler(), Pooler::Transaction);

    let mut tx = pool.begin().await.unwrap();
    let n: i32 = sqlx::query_scalar("SELECT $1::int4 + 1")
        .bind(41)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 42);
    tx.commit().await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    assert_eq!(
        leftover_statements(&mut tx).await,
        ["SELECT $1::int4 + 1"],
        "sqlx leaves its named statement behind although the statement cache is off"
    );
    tx.commit().await.unwrap();

    let mut tx = db.begin().await.unwrap();
    assert!(leftover_statements(&mut tx).await.is_empty());
    sqlx::query("SELECT $1::text")
        .bind("mine")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut read = db.read().await.unwrap();
    assert!(leftover_statements(&mut read).await.is_empty());
    drop(read);
    db.close().await;
}

#[tokio::test]
async fn reads_are_read_only_transactions_behind_a_pooler_and_plain_connections_otherwise() {
    let test_db = TestDb::migrated().await;
    let pooled_db = Db::behind_transaction_pooler(pooled(test_db.options(), 2), test_db.pool(1));
    let mut read = pooled_db.read().await.unwrap();
    assert!(read.is_in_transaction());
    let refused = sqlx::query("DELETE FROM public.users WHERE id = $1")
        .bind(uuid::Uuid::now_v7())
        .execute(&mut *read)
        .await
        .unwrap_err();
    assert_eq!(tenantry_store::sqlstate(&refused).as_deref(), Some("25006"));
    drop(read);

    let direct = Db::new(test_db.pool(2));
    assert_eq!(direct.pooler(), Pooler::None);
    let read = direct.read().await.unwrap();
    assert!(!read.is_in_transaction());
    let tx = direct.begin().await.unwrap();
    tx.rollback().await.unwrap();
    drop(read);
    pooled_db.close().await;
    direct.close().await;
}

const CLIENTS: i32 = 8;
const ROUNDS: i32 = 250;

/// Each client asks its own question (`$1 + k·10⁶`) `ROUNDS` times; returns (right, wrong, failed).
async fn ask(pool: &sqlx::PgPool, db: Option<&Db>) -> (u32, u32, u32) {
    let mut clients = Vec::new();
    for k in 0..CLIENTS {
        let pool = pool.clone();
        let db = db.cloned();
        clients.push(tokio::spawn(async move {
            // Bare: one connection of its own for the whole run. With Db: a connection per transaction.
            let mut conn = match db {
                None => Some(pool.acquire().await.unwrap()),
                Some(_) => None,
            };
            let sql = format!("SELECT $1::int4 + {}", k * 1_000_000);
            let mut tally = (0, 0, 0);
            for i in 0..ROUNDS {
                let answer: Result<i32, sqlx::Error> = match &db {
                    Some(db) if i % 2 == 0 => {
                        async {
                            let mut tx = db.begin().await?;
                            let v = sqlx::query_scalar(&sql).bind(i).fetch_one(&mut *tx).await?;
                            tx.commit().await?;
                            Ok(v)
                        }
                        .await
                    }
                    Some(db) => {
                        async {
                            let mut read = db.read().await?;
                            sqlx::query_scalar(&sql).bind(i).fetch_one(&mut *read).await
                        }
                        .await
                    }
                    // What sqlx does on a bare connection: unnamed statement, no transaction.
                    None => {
                        let conn = conn.as_mut().unwrap();
                        sqlx::query_scalar(&sql)
                            .persistent(false)
                            .bind(i)
                            .fetch_one(&mut **conn)
                            .await
                    }
                };
                match answer {
                    Ok(v) if v == i + k * 1_000_000 => tally.0 += 1,
                    Ok(_) => tally.1 += 1,
                    Err(_) => tally.2 += 1,
                }
            }
            tally
        }));
    }
    let mut total = (0, 0, 0);
    for c in clients {
        let (r, w, f) = c.await.unwrap();
        total = (total.0 + r, total.1 + w, total.2 + f);
    }
    total
}

/// Through a real PgBouncer in transaction mode: every statement of [`Db`] gets its own answer, while the
/// same statements on bare connections get other clients' answers (the pooler moves them between server
/// connections between `Parse` and `Bind`), which also shows the pooler really is in transaction mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn through_a_transaction_pooler_every_statement_gets_its_own_answer() {
    let Ok(pooler) = std::env::var("TENANTRY_TEST_POOLER_URL") else {
        eprintln!("TENANTRY_TEST_POOLER_URL is not set: skipped (scripts/pgbouncer-check runs it)");
        return;
    };
    let test_db = TestDb::empty().await;
    let through: PgConnectOptions = pooler.parse().unwrap();
    let through = through.database(&test_db.name);

    let bare_pool = pooled(through.clone(), CLIENTS as u32);
    let bare = ask(&bare_pool, None).await;
    bare_pool.close().await;
    let pool = pooled(through, CLIENTS as u32);
    let db = Db::behind_transaction_pooler(pool.clone(), test_db.pool(1));
    let safe = ask(&pool, Some(&db)).await;
    db.close().await;

    println!(
        "pooler: {} clients × {ROUNDS} statements; bare connections: {} right, {} another client's answer, {} failed; \
         through Db: {} right, {} wrong, {} failed",
        CLIENTS, bare.0, bare.1, bare.2, safe.0, safe.1, safe.2
    );
    assert_eq!(safe, ((CLIENTS * ROUNDS) as u32, 0, 0));
    assert!(
        bare.1 + bare.2 > 0,
        "bare statements never straddled two server connections: is the pooler in transaction mode?"
    );
}
