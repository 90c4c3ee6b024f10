//! Migrations of the `public` schema, recorded by sqlx in `public._sqlx_migrations` (data-model.md §2.14).

use std::collections::HashMap;

use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::error::StoreError;

pub static PUBLIC_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/public");

/// Applies pending public migrations (`tenantry migrate public`, and `tenantry dev` at start).
pub async fn migrate_public(pool: &PgPool) -> Result<(), StoreError> {
    PUBLIC_MIGRATOR.run(pool).await?;
    Ok(())
}

/// Highest public migration version embedded in this binary (0 when there are none).
pub fn latest_public_version() -> i64 {
    PUBLIC_MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// Fails with [`StoreError::PublicMigrationsBehind`] naming the first embedded migration the database
/// has not applied, or [`StoreError::PublicMigrationModified`] when an applied one differs from the
/// binary's file. Migrations the database has beyond this binary are fine: files are expand/contract,
/// so an older binary runs against a newer schema during a rollout.
pub async fn check_public_current(pool: &PgPool) -> Result<(), StoreError> {
    let ledger_exists: bool =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    let applied: HashMap<i64, (bool, Vec<u8>)> = if ledger_exists {
        sqlx::query_as::<_, (i64, bool, Vec<u8>)>(
            "SELECT version, success, checksum FROM public._sqlx_migrations",
        )
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|(version, success, checksum)| (version, (success, checksum)))
        .collect()
    } else {
        HashMap::new()
    };

    let mut embedded: Vec<_> = PUBLIC_MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    embedded.sort_by_key(|m| m.version);
    for migration in embedded {
        match applied.get(&migration.version) {
            Some((true, checksum)) if checksum.as_slice() == migration.checksum.as_ref() => {}
            Some((true, _)) => {
                return Err(StoreError::PublicMigrationModified {
                    version: migration.version,
                    description: migration.description.to_string(),
                });
            }
            // A row with success = false is a half-applied migration: as missing as no row at all.
            Some((false, _)) | None => {
                return Err(StoreError::PublicMigrationsBehind {
                    version: migration.version,
                    description: migration.description.to_string(),
                });
            }
        }
    }
    Ok(())
}
