//! Persistence for Tenantry: the PostgreSQL pool, error classification, the tenant-scoped
//! transaction [`TenantTx`] and the public and tenant migrations (data-model.md).
//!
//! Rules every query in this crate (and every caller) follows: public tables are written
//! `public.table`; tenant data is reached only through [`TenantTx`], whose `search_path` is
//! transaction-local; no session-level `SET search_path`, ever; explicit column lists; the application
//! reaches the database through [`Db`] (transactions and reads), never by running statements on the
//! pool, so it also runs behind a transaction-mode pooler.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod audit;
pub mod cleanup;
pub mod db;
pub mod email;
pub mod error;
pub mod executions;
pub mod idempotency;
pub mod invites;
pub mod memberships;
pub mod migrate;
pub mod outbox;
pub mod pool;
pub mod projects;
pub mod refresh_tokens;
pub mod sessions;
pub mod tenant_tx;
pub mod tenants;
pub mod tokens;
pub mod users;

pub use db::{Db, Pooler, ReadConn};
pub use error::{
    StoreError, constraint_name, is_cached_plan_invalidated, is_foreign_key_violation,
    is_transient, is_unavailable, is_unique_violation, sqlstate,
};
pub use migrate::{
    FanOutOptions, LineProgress, MigrateError, MigrateOptions, PUBLIC_MIGRATOR, ProgressSink,
    SchemaEvent, SchemaOutcome, SchemaResult, StatusReport, Summary, TenantMigrations,
    check_public_current, migrate_public, migrate_schema, migrate_tenants, migration_status,
};
pub use pool::{
    DEFAULT_ACQUIRE_TIMEOUT, PoolConfig, connect, connect_with, for_transaction_pooler, ping,
};
pub use sqlx::PgPool;
pub use tenant_tx::TenantTx;
/// Re-exported so callers of [`migrate_tenants`] need no direct tokio-util dependency.
pub use tokio_util::sync::CancellationToken;
