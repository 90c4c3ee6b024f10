//! Connection pool construction.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::error::StoreError;

/// Long enough to ride out a short burst, short enough that an exhausted pool turns into a 503
/// instead of a hung request.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout: Duration,
    pub idle_timeout: Option<Duration>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            idle_timeout: Some(Duration::from_secs(600)),
        }
    }
}

/// A pool for `url` (e.g. `postgres://user@host/db?sslmode=require`). Connections open lazily, so a
/// database that is down at start surfaces as [`StoreError::is_unavailable`] on first use rather
/// than here; only a malformed URL or a zero size fails immediately.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let options: PgConnectOptions = url.parse()?;
    connect_with(
        options,
        &PoolConfig {
            max_connections,
            ..PoolConfig::default()
        },
    )
}

/// Like [`connect`] with pre-built options (TLS settings, application name…) and full pool settings.
pub fn connect_with(options: PgConnectOptions, config: &PoolConfig) -> Result<PgPool, StoreError> {
    if config.max_connections == 0 {
        return Err(StoreError::InvalidOption(
            "max_connections must be at least 1".to_owned(),
        ));
    }
    if config.min_connections > config.max_connections {
        return Err(StoreError::InvalidOption(
            "min_connections must not exceed max_connections".to_owned(),
        ));
    }
    let pool = PgPoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .acquire_timeout(config.acquire_timeout)
        .idle_timeout(config.idle_timeout)
        .connect_lazy_with(options);
    Ok(pool)
}

/// Connection options for a pool that goes through a transaction-mode pooler (see [`crate::Db`]): no
/// statement cache, so no prepared-statement name is ever reused across transactions, and no
/// `extra_float_digits` startup parameter, which PgBouncer refuses (values travel in binary, so the
/// server's default float output changes nothing).
pub fn for_transaction_pooler(options: PgConnectOptions) -> PgConnectOptions {
    options.statement_cache_capacity(0).extra_float_digits(None)
}

/// Readiness probe: the database answers a trivial query. Simple protocol (one message, no prepared
/// statement), so it is safe on a pool behind a transaction-mode pooler too.
pub async fn ping(pool: &PgPool) -> Result<(), StoreError> {
    use sqlx::Executor as _;

    pool.execute(sqlx::raw_sql("SELECT 1")).await?;
    Ok(())
}
