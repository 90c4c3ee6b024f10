//! [`Db`]: how the application reaches PostgreSQL — the API's services, the outbox relay and the worker's
//! activities all go through it, so one switch (`DATABASE_POOLER`, api.md §9) decides how statements travel.
//!
//! # Behind a transaction-mode pooler
//!
//! A transaction-mode pooler (PgBouncer `pool_mode = transaction`, before 1.21 without any prepared-statement
//! support) lends a server connection to a client for one transaction and takes it back on every
//! `ReadyForQuery` that reports "idle". sqlx 0.8 is unsafe there unless every statement runs inside an
//! explicit transaction, for two reasons read from `sqlx-postgres` 0.8.6 (`connection/executor.rs`):
//!
//! 1. A statement with parameters is never pipelined: `prepare()` sends `Parse`/`Describe`/`Sync` and waits
//!    for `ReadyForQuery`, then `run()` sends `Bind`/`Execute`/`Close`/`Sync`. Outside a transaction the first
//!    `ReadyForQuery` is "idle", the pooler releases the server, and the `Bind` may land on another server —
//!    where it binds to whatever statement of that name was prepared there, possibly another client's. With
//!    unnamed statements this returns another query's rows without any error: `tests/pooler.rs`, run through
//!    PgBouncer by `scripts/pgbouncer-check`, counts them (most answers, in its runs).
//! 2. `statement_cache_capacity(0)` does not make statements unnamed: `prepare()` names every statement whose
//!    query is `persistent` (the default for `sqlx::query`) `sqlx_s_<n>`, counting from 1 on each client
//!    connection, and never closes it when the cache is off. On a shared server connection the next client
//!    reusing a name fails with `42P05 prepared statement "sqlx_s_1" already exists`; on PostgreSQL itself
//!    the statements pile up for the connection's lifetime.
//!
//! So with [`Pooler::Transaction`]:
//! - the pool's connections have no statement cache (a cached name would be bound on a server that never saw
//!   it) and send no `extra_float_digits` startup parameter (PgBouncer refuses unknown ones);
//! - every transaction starts with `BEGIN; DEALLOCATE ALL` (one simple-protocol round trip, like `BEGIN`
//!   alone): the server connection is ours until `COMMIT`, so the `sqlx_s_<n>` names prepared in it are ours
//!   and unique, and none survives into our transaction from another client;
//! - reads that ran on a bare pooled connection get a `READ ONLY` transaction ([`Db::read`]), so a write that
//!   slipped into a read path fails loudly instead of silently depending on the mode;
//! - there is no way to run a statement on the pool outside a transaction: [`Db`] is not a sqlx executor.
//!   Only statements without parameters may use [`Db::pool`] directly, through `sqlx::raw_sql` (the simple
//!   protocol sends one `Query` message: nothing to straddle);
//! - what needs a session — `LISTEN`, session-level advisory locks, migrations — uses
//!   [`Db::session_pool`], a small pool on `DATABASE_DIRECT_URL` (PostgreSQL itself).
//!
//! Tenant scoping needs nothing more: [`crate::TenantTx`] sets `search_path` with `set_config(…, true)`,
//! which is transaction-local and therefore travels with the transaction, whichever server runs it.
//!
//! With [`Pooler::None`] (the default) [`Db::begin`] is `pool.begin()`, [`Db::read`] a pooled connection and
//! [`Db::session_pool`] the same pool: nothing changes.

use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

/// What sits between the application pool and PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pooler {
    /// PostgreSQL itself, or a session-mode pooler.
    #[default]
    None,
    /// A transaction-mode pooler: see the module documentation.
    Transaction,
}

/// `BEGIN` behind a transaction-mode pooler: clears prepared statements other clients left on the server
/// connection we now hold, so the names sqlx picks in this transaction cannot collide.
const BEGIN_POOLED: &str = "BEGIN; DEALLOCATE ALL";
const BEGIN_POOLED_READ_ONLY: &str = "BEGIN READ ONLY; DEALLOCATE ALL";

/// The application's database handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: PgPool,
    session: PgPool,
    pooler: Pooler,
}

impl Db {
    /// A pool straight to PostgreSQL (or through a session-mode pooler).
    pub fn new(pool: PgPool) -> Db {
        Db {
            session: pool.clone(),
            pool,
            pooler: Pooler::None,
        }
    }

    /// `pool` goes through a transaction-mode pooler and must have been built with
    /// [`crate::pool::for_transaction_pooler`] options; `session` reaches PostgreSQL itself.
    pub fn behind_transaction_pooler(pool: PgPool, session: PgPool) -> Db {
        Db {
            pool,
            session,
            pooler: Pooler::Transaction,
        }
    }

    pub fn pooler(&self) -> Pooler {
        self.pooler
    }

    /// The application pool itself: for its statistics, and for statements without parameters sent with
    /// `sqlx::raw_sql` (one simple-protocol message, safe outside a transaction in every mode). Anything
    /// else goes through [`Db::begin`] or [`Db::read`].
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A pool of sessions on PostgreSQL itself, for `LISTEN`, session-level advisory locks and migrations.
    /// The application pool when there is no transaction-mode pooler.
    pub fn session_pool(&self) -> &PgPool {
        &self.session
    }

    /// A transaction on the application pool.
    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        match self.pooler {
            Pooler::None => self.pool.begin().await,
            Pooler::Transaction => self.pool.begin_with(BEGIN_POOLED).await,
        }
    }

    /// A connection for reads: a pooled connection, or behind a transaction-mode pooler a `READ ONLY`
    /// transaction (rolled back when dropped). Writes go through [`Db::begin`].
    pub async fn read(&self) -> Result<ReadConn, sqlx::Error> {
        match self.pooler {
            Pooler::None => Ok(ReadConn::Pooled(self.pool.acquire().await?)),
            Pooler::Transaction => Ok(ReadConn::Transaction(
                self.pool.begin_with(BEGIN_POOLED_READ_ONLY).await?,
            )),
        }
    }

    /// Closes both pools.
    pub async fn close(&self) {
        self.pool.close().await;
        self.session.close().await;
    }
}

impl From<PgPool> for Db {
    fn from(pool: PgPool) -> Db {
        Db::new(pool)
    }
}

/// See [`Db::read`]. Dereferences to [`PgConnection`]: `store::users::by_id(&mut conn, id)`.
#[derive(Debug)]
pub enum ReadConn {
    Pooled(PoolConnection<Postgres>),
    Transaction(Transaction<'static, Postgres>),
}

impl Deref for ReadConn {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match self {
            ReadConn::Pooled(c) => c,
            ReadConn::Transaction(t) => t,
        }
    }
}

impl DerefMut for ReadConn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            ReadConn::Pooled(c) => c,
            ReadConn::Transaction(t) => t,
        }
    }
}

impl AsMut<PgConnection> for ReadConn {
    fn as_mut(&mut self) -> &mut PgConnection {
        self
    }
}
