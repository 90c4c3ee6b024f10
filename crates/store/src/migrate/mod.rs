//! Public and tenant migrations (data-model.md §4).
//!
//! - [`public`]: the sqlx-managed migrations of the `public` schema and the "is the database current"
//!   check run by `serve` and `worker`.
//! - [`tenant`]: the tenant migration set and the per-schema routine (§4.2) shared by the CLI and the
//!   provisioning activity.
//! - [`fanout`]: `tenantry migrate tenants` (§4.3), bounded concurrency over all tenant schemas.
//! - [`status`]: `tenantry migrate status`.

pub mod fanout;
pub mod public;
pub mod status;
pub mod tenant;

pub use fanout::{
    DEFAULT_CONCURRENCY, EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, FanOutOptions, LineProgress,
    MAX_CONCURRENCY, NoProgress, ProgressSink, SchemaEvent, SchemaResult, Summary, format_event,
    format_summary, migrate_tenants,
};
pub use public::{PUBLIC_MIGRATOR, check_public_current, latest_public_version, migrate_public};
pub use status::{SchemaError, StatusReport, VersionCount, migration_status};
pub use tenant::{
    ADVISORY_LOCK_CLASS, AppliedFile, LEDGER_TABLE, MigrateError, MigrateOptions, SchemaOutcome,
    TenantMigration, TenantMigrations, migrate_schema,
};

/// Compile-time checks: the CLI and the provisioning activity spawn these futures, so they must be
/// `Send` for arbitrary caller lifetimes, not only for the concrete ones the tests happen to use.
#[cfg(test)]
#[allow(dead_code)]
mod send_checks {
    use futures::FutureExt as _;
    use futures::future::BoxFuture;
    use sqlx::PgPool;
    use tenantry_domain::SchemaName;
    use tokio_util::sync::CancellationToken;
    use uuid::Uuid;

    use super::*;
    use crate::error::StoreError;
    use crate::tenant_tx::TenantTx;

    fn migrate_schema_is_send<'a>(
        pool: &'a PgPool,
        schema: &'a SchemaName,
        migrations: &'a TenantMigrations,
        options: &'a MigrateOptions,
        hook: &'a mut (dyn FnMut(&AppliedFile) + Send),
    ) -> BoxFuture<'a, Result<SchemaOutcome, MigrateError>> {
        migrate_schema(pool, schema, Uuid::nil(), migrations, options, hook).boxed()
    }

    fn migrate_tenants_is_send<'a>(
        pool: &'a PgPool,
        migrations: &'a TenantMigrations,
        options: &'a FanOutOptions,
        progress: &'a dyn ProgressSink,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Summary, StoreError>> {
        migrate_tenants(pool, migrations, options, progress, cancel).boxed()
    }

    fn tenant_tx_is_send<'a>(
        db: &'a crate::Db,
        schema: &'a SchemaName,
    ) -> BoxFuture<'a, Result<TenantTx, StoreError>> {
        TenantTx::begin(db, schema).boxed()
    }

    fn status_is_send(pool: &PgPool) -> BoxFuture<'_, Result<StatusReport, StoreError>> {
        migration_status(pool).boxed()
    }

    fn public_is_send(pool: &PgPool) -> BoxFuture<'_, Result<(), StoreError>> {
        async move {
            migrate_public(pool).await?;
            check_public_current(pool).await
        }
        .boxed()
    }
}
