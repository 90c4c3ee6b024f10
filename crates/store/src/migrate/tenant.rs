//! Tenant migrations: the migration set and the per-schema routine of data-model.md §4.2, shared by
//! `tenantry migrate tenants` and the provisioning activity `migrate_tenant_schema`.
//!
//! Each schema records what it has applied in its own `"<schema>"._tenantry_migrations` ledger;
//! `public.tenant_schema_versions` is only a summary for progress and status.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tenantry_domain::SchemaName;
use uuid::Uuid;

use crate::error::{self, StoreError};

/// First key of `pg_advisory_lock(74001, hashtext(schema_name))`; the second is the schema's hash, so
/// every migrator of one schema (CLI or provisioning, any process) serializes on the same lock.
pub const ADVISORY_LOCK_CLASS: i32 = 74001;

pub const LEDGER_TABLE: &str = "_tenantry_migrations";

/// Errors recorded in `tenant_schema_versions.last_error` are cut to this many characters.
const LAST_ERROR_MAX_CHARS: usize = 1000;

/// Only the embedding mechanism of sqlx is used here: the files are applied by [`migrate_schema`]
/// into the per-schema ledger, never through sqlx's migrator.
static EMBEDDED_SOURCE: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/tenant");

static EMBEDDED: LazyLock<TenantMigrations> = LazyLock::new(|| {
    TenantMigrations::from_sorted_unique(
        EMBEDDED_SOURCE
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| TenantMigration::new(m.version, m.description.to_string(), m.sql.clone()))
            .collect(),
    )
});

/// One tenant migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantMigration {
    version: i64,
    description: String,
    sql: Cow<'static, str>,
    checksum: String,
}

impl TenantMigration {
    fn new(version: i64, description: String, sql: Cow<'static, str>) -> TenantMigration {
        let checksum = hex::encode(Sha256::digest(sql.as_bytes()));
        TenantMigration {
            version,
            description,
            sql,
            checksum,
        }
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Lower-case hex SHA-256 of the file's bytes, as stored in the ledger.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }
}

/// An ordered set of tenant migrations. [`TenantMigrations::embedded`] is what the binary ships;
/// [`TenantMigrations::new`] builds other sets (tests use failing or changed files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantMigrations {
    migrations: Vec<TenantMigration>,
}

impl TenantMigrations {
    /// The files of `migrations/tenant`, embedded at compile time.
    pub fn embedded() -> &'static TenantMigrations {
        &EMBEDDED
    }

    /// A set from `(version, description, sql)` triples in any order. Versions must be positive
    /// (0 means "nothing applied" in the summary table) and unique.
    pub fn new<I, D, S>(files: I) -> Result<TenantMigrations, StoreError>
    where
        I: IntoIterator<Item = (i64, D, S)>,
        D: Into<String>,
        S: Into<Cow<'static, str>>,
    {
        let mut by_version = BTreeMap::new();
        for (version, description, sql) in files {
            if version <= 0 {
                return Err(StoreError::InvalidMigrationSet(format!(
                    "version {version} is not positive"
                )));
            }
            let migration = TenantMigration::new(version, description.into(), sql.into());
            if by_version.insert(version, migration).is_some() {
                return Err(StoreError::InvalidMigrationSet(format!(
                    "version {version} appears twice"
                )));
            }
        }
        Ok(TenantMigrations {
            migrations: by_version.into_values().collect(),
        })
    }

    fn from_sorted_unique(mut migrations: Vec<TenantMigration>) -> TenantMigrations {
        migrations.sort_by_key(|m| m.version);
        migrations.dedup_by_key(|m| m.version);
        TenantMigrations { migrations }
    }

    /// Highest version in the set; 0 for an empty set.
    pub fn latest_version(&self) -> i64 {
        self.migrations.last().map_or(0, |m| m.version)
    }

    pub fn get(&self, version: i64) -> Option<&TenantMigration> {
        self.migrations
            .binary_search_by_key(&version, |m| m.version)
            .ok()
            .and_then(|i| self.migrations.get(i))
    }

    /// In ascending version order.
    pub fn iter(&self) -> impl Iterator<Item = &TenantMigration> {
        self.migrations.iter()
    }

    pub fn len(&self) -> usize {
        self.migrations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.migrations.is_empty()
    }
}

/// Knobs of one schema migration (CLI flags `--lock-wait`, `--lock-timeout`, `--statement-timeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateOptions {
    /// How long to wait for the schema's advisory lock before reporting [`MigrateError::Busy`].
    /// `None` waits indefinitely (provisioning: the lock holder is a peer that will finish).
    pub lock_wait: Option<Duration>,
    /// `lock_timeout` for each file's transaction, so DDL never queues behind application traffic
    /// for long (and never makes application traffic queue behind it).
    pub lock_timeout: Duration,
    /// `statement_timeout` for each file's transaction; zero means no limit.
    pub statement_timeout: Duration,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions {
            lock_wait: Some(Duration::from_secs(60)),
            lock_timeout: Duration::from_secs(5),
            statement_timeout: Duration::ZERO,
        }
    }
}

impl MigrateOptions {
    /// Defaults with an unbounded lock wait, as the provisioning activity uses.
    pub fn wait_for_lock() -> MigrateOptions {
        MigrateOptions {
            lock_wait: None,
            ..MigrateOptions::default()
        }
    }
}

/// A file applied (and committed together with its ledger row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedFile {
    pub version: i64,
    pub description: String,
    pub execution_ms: i32,
}

/// Result of a successful [`migrate_schema`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaOutcome {
    pub schema: SchemaName,
    /// Highest version in the ledger before this run (0 for a new schema).
    pub from_version: i64,
    /// Highest version in the ledger after this run.
    pub to_version: i64,
    pub applied: Vec<AppliedFile>,
    pub elapsed: Duration,
}

impl SchemaOutcome {
    pub fn files_applied(&self) -> usize {
        self.applied.len()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Another migrator held the schema's lock for the whole `lock_wait`.
    #[error("schema {schema} is busy: its migration lock is held elsewhere")]
    Busy { schema: SchemaName },

    #[error("schema {schema} does not exist")]
    SchemaMissing { schema: SchemaName },

    /// An applied file changed after it was applied; the schema is left untouched.
    #[error(
        "checksum mismatch in {schema} for migration {version}: ledger has {applied}, file has {file}"
    )]
    ChecksumMismatch {
        schema: SchemaName,
        version: i64,
        applied: String,
        file: String,
    },

    /// A file failed; its transaction (and only it) was rolled back.
    #[error("migration {version} ({description}) failed in {schema}: {error}")]
    MigrationFailed {
        schema: SchemaName,
        version: i64,
        description: String,
        #[source]
        error: sqlx::Error,
    },

    /// Failure outside any file: connection, lock, ledger.
    #[error("database error while migrating {schema}: {error}")]
    Database {
        schema: SchemaName,
        #[source]
        error: sqlx::Error,
    },
}

impl MigrateError {
    fn database(schema: &SchemaName, error: sqlx::Error) -> MigrateError {
        MigrateError::Database {
            schema: schema.clone(),
            error,
        }
    }

    fn file_failed(
        schema: &SchemaName,
        file: &TenantMigration,
        error: sqlx::Error,
    ) -> MigrateError {
        MigrateError::MigrationFailed {
            schema: schema.clone(),
            version: file.version(),
            description: file.description().to_owned(),
            error,
        }
    }

    pub fn schema(&self) -> &SchemaName {
        match self {
            MigrateError::Busy { schema }
            | MigrateError::SchemaMissing { schema }
            | MigrateError::ChecksumMismatch { schema, .. }
            | MigrateError::MigrationFailed { schema, .. }
            | MigrateError::Database { schema, .. } => schema,
        }
    }

    /// Worth retrying as is: a busy lock, or a transient database error (lock or statement timeout,
    /// connection loss…), including one raised inside a file.
    pub fn is_transient(&self) -> bool {
        match self {
            MigrateError::Busy { .. } => true,
            MigrateError::MigrationFailed { error, .. } | MigrateError::Database { error, .. } => {
                error::is_transient(error)
            }
            MigrateError::SchemaMissing { .. } | MigrateError::ChecksumMismatch { .. } => false,
        }
    }
}

/// A pooled connection that may hold the schema's session-level advisory lock. If it is dropped
/// while the lock may be held (an error path, or the owning future being cancelled mid-await), the
/// connection is closed instead of returned to the pool: closing the session is what releases the
/// lock, and a pooled connection secretly holding it would make that schema busy forever.
struct LockedConnection {
    conn: PoolConnection<Postgres>,
    may_hold_lock: bool,
}

impl Drop for LockedConnection {
    fn drop(&mut self) {
        if self.may_hold_lock {
            self.conn.close_on_drop();
        }
    }
}

/// What the locked part of a run learned, kept even when it fails so the summary row is accurate.
#[derive(Debug, Default)]
struct RunState {
    from_version: Option<i64>,
    current_version: Option<i64>,
    applied: Vec<AppliedFile>,
}

/// Applies the pending files of `migrations` to `schema` (data-model.md §4.2):
///
/// 1. take `pg_advisory_lock(74001, hashtext(schema))` on a dedicated connection, giving up after
///    `options.lock_wait` with [`MigrateError::Busy`];
/// 2. create the ledger if missing, read it, verify the checksums of applied files;
/// 3. apply each pending file in its own transaction (tenant-only `search_path`, `lock_timeout`,
///    `statement_timeout`, the file, its ledger row); a failure rolls back that file only;
/// 4. upsert `public.tenant_schema_versions` (cleared `last_error` on success, set on failure), then
///    release the lock.
///
/// `on_file_applied` runs after each file commits (the provisioning activity heartbeats there).
/// Re-running is always safe; concurrent runs on one schema serialize on the lock and each file is
/// applied exactly once.
pub async fn migrate_schema(
    pool: &PgPool,
    schema: &SchemaName,
    tenant_id: Uuid,
    migrations: &TenantMigrations,
    options: &MigrateOptions,
    on_file_applied: &mut (dyn FnMut(&AppliedFile) + Send),
) -> Result<SchemaOutcome, MigrateError> {
    let started = Instant::now();

    let conn = pool
        .acquire()
        .await
        .map_err(|error| MigrateError::database(schema, error))?;
    // Set before the lock request is sent: if this future is dropped while the request is in
    // flight, the lock may have been granted and the connection must not go back to the pool.
    let mut locked = LockedConnection {
        conn,
        may_hold_lock: true,
    };

    let acquired = acquire_lock(&mut locked.conn, schema, options.lock_wait)
        .await
        .map_err(|error| MigrateError::database(schema, error))?;
    if !acquired {
        locked.may_hold_lock = false;
        return Err(MigrateError::Busy {
            schema: schema.clone(),
        });
    }

    let mut state = RunState::default();
    let result = run_locked(
        &mut locked.conn,
        schema,
        migrations,
        options,
        &mut state,
        on_file_applied,
    )
    .await;

    // A vanished schema gets no summary row: the deletion workflow removes that row after dropping it.
    if !matches!(result, Err(MigrateError::SchemaMissing { .. }))
        && let Err(error) = record_summary(
            &mut locked.conn,
            tenant_id,
            schema,
            state.current_version,
            result.as_ref().err(),
        )
        .await
    {
        // The ledger is the truth; a missing summary only makes the next fan-out re-check this schema.
        tracing::warn!(schema = %schema, %error, "could not update public.tenant_schema_versions");
    }

    match release_lock(&mut locked.conn, schema).await {
        Ok(true) => locked.may_hold_lock = false,
        Ok(false) => tracing::warn!(schema = %schema, "migration lock was not held at release"),
        Err(error) => {
            tracing::warn!(schema = %schema, %error, "could not release migration lock; closing connection");
        }
    }

    result?;
    let from_version = state.from_version.unwrap_or(0);
    Ok(SchemaOutcome {
        schema: schema.clone(),
        from_version,
        to_version: state.current_version.unwrap_or(from_version),
        applied: state.applied,
        elapsed: started.elapsed(),
    })
}

async fn acquire_lock(
    conn: &mut PgConnection,
    schema: &SchemaName,
    lock_wait: Option<Duration>,
) -> Result<bool, sqlx::Error> {
    let Some(lock_wait) = lock_wait else {
        sqlx::query("SELECT pg_advisory_lock($1, hashtext($2))")
            .bind(ADVISORY_LOCK_CLASS)
            .bind(schema.as_str())
            .execute(&mut *conn)
            .await?;
        return Ok(true);
    };

    // Polling try-lock rather than a blocking lock under a session lock_timeout: the wait limit then
    // needs no session setting that could leak onto the pooled connection.
    let deadline = Instant::now() + lock_wait;
    let mut pause = Duration::from_millis(10);
    loop {
        let acquired: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(ADVISORY_LOCK_CLASS)
            .bind(schema.as_str())
            .fetch_one(&mut *conn)
            .await?;
        if acquired {
            return Ok(true);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

async fn release_lock(conn: &mut PgConnection, schema: &SchemaName) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_advisory_unlock($1, hashtext($2))")
        .bind(ADVISORY_LOCK_CLASS)
        .bind(schema.as_str())
        .fetch_one(conn)
        .await
}

async fn run_locked(
    conn: &mut PgConnection,
    schema: &SchemaName,
    migrations: &TenantMigrations,
    options: &MigrateOptions,
    state: &mut RunState,
    on_file_applied: &mut (dyn FnMut(&AppliedFile) + Send),
) -> Result<(), MigrateError> {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
    )
    .bind(schema.as_str())
    .fetch_one(&mut *conn)
    .await
    .map_err(|error| MigrateError::database(schema, error))?;
    if !exists {
        return Err(MigrateError::SchemaMissing {
            schema: schema.clone(),
        });
    }

    let ledger = format!("{}.{LEDGER_TABLE}", schema.quoted());
    ensure_ledger(conn, &ledger, options)
        .await
        .map_err(|error| MigrateError::database(schema, error))?;

    // Per-schema SQL text is not cached as a prepared statement: one entry per schema would only
    // churn the connection's statement cache.
    let applied: Vec<(i64, String)> = sqlx::query_as(&format!(
        "SELECT version, checksum FROM {ledger} ORDER BY version"
    ))
    .persistent(false)
    .fetch_all(&mut *conn)
    .await
    .map_err(|error| MigrateError::database(schema, error))?;

    let from_version = applied.iter().map(|(v, _)| *v).max().unwrap_or(0);
    state.from_version = Some(from_version);
    state.current_version = Some(from_version);

    for (version, checksum) in &applied {
        if let Some(file) = migrations.get(*version)
            && file.checksum() != checksum
        {
            return Err(MigrateError::ChecksumMismatch {
                schema: schema.clone(),
                version: *version,
                applied: checksum.clone(),
                file: file.checksum().to_owned(),
            });
        }
    }

    let applied_versions: HashSet<i64> = applied.iter().map(|(v, _)| *v).collect();
    let insert_ledger_row = format!(
        "INSERT INTO {ledger} (version, description, checksum, execution_ms) VALUES ($1, $2, $3, $4)"
    );
    // Collected up front: an iterator adapter held across the awaits below would make the future's
    // Send-ness unprovable in generic callers (rust-lang/rust#102211).
    let pending: Vec<&TenantMigration> = migrations
        .iter()
        .filter(|m| !applied_versions.contains(&m.version()))
        .collect();
    for file in pending {
        let execution_ms = apply_file(conn, schema, file, options, &insert_ledger_row).await?;
        let applied_file = AppliedFile {
            version: file.version(),
            description: file.description().to_owned(),
            execution_ms,
        };
        tracing::info!(
            schema = %schema,
            version = file.version(),
            description = file.description(),
            execution_ms,
            "tenant migration applied"
        );
        state.current_version = Some(state.current_version.unwrap_or(0).max(file.version()));
        on_file_applied(&applied_file);
        state.applied.push(applied_file);
    }
    Ok(())
}

async fn ensure_ledger(
    conn: &mut PgConnection,
    ledger: &str,
    options: &MigrateOptions,
) -> Result<(), sqlx::Error> {
    use sqlx::Connection as _;

    let mut tx = conn.begin().await?;
    sqlx::query("SELECT set_config('lock_timeout', $1, true)")
        .bind(pg_millis(options.lock_timeout))
        .execute(&mut *tx)
        .await?;
    let create = format!(
        "CREATE TABLE IF NOT EXISTS {ledger} (
            version      bigint      NOT NULL PRIMARY KEY,
            description  text        NOT NULL,
            checksum     text        NOT NULL,
            applied_at   timestamptz NOT NULL DEFAULT now(),
            execution_ms integer     NOT NULL
        )"
    );
    run_raw(&mut tx, &create).await?;
    tx.commit().await
}

/// One file and its ledger row in one transaction. Every failure inside it is the file's failure.
async fn apply_file(
    conn: &mut PgConnection,
    schema: &SchemaName,
    file: &TenantMigration,
    options: &MigrateOptions,
    insert_ledger_row: &str,
) -> Result<i32, MigrateError> {
    use sqlx::Connection as _;

    let mut tx = conn
        .begin()
        .await
        .map_err(|error| MigrateError::database(schema, error))?;
    let outcome: Result<i32, sqlx::Error> = async {
        sqlx::query(
            "SELECT set_config('search_path', $1, true), \
                    set_config('lock_timeout', $2, true), \
                    set_config('statement_timeout', $3, true)",
        )
        .bind(schema.quoted())
        .bind(pg_millis(options.lock_timeout))
        .bind(pg_millis(options.statement_timeout))
        .execute(&mut *tx)
        .await?;

        let started = Instant::now();
        run_raw(&mut tx, file.sql()).await?;
        let execution_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);

        sqlx::query(insert_ledger_row)
            .persistent(false)
            .bind(file.version())
            .bind(file.description())
            .bind(file.checksum())
            .bind(execution_ms)
            .execute(&mut *tx)
            .await?;
        Ok(execution_ms)
    }
    .await;

    match outcome {
        Ok(execution_ms) => {
            tx.commit()
                .await
                .map_err(|error| MigrateError::file_failed(schema, file, error))?;
            Ok(execution_ms)
        }
        Err(error) => {
            // Explicit so the summary write that follows runs outside the aborted transaction; if the
            // rollback itself fails the connection is broken and is closed, not pooled.
            if let Err(rollback_error) = tx.rollback().await {
                tracing::warn!(schema = %schema, %rollback_error, "rollback after failed migration failed");
            }
            Err(MigrateError::file_failed(schema, file, error))
        }
    }
}

/// Runs `sql` with the simple query protocol, the only one that accepts several statements, and
/// without caching a prepared statement for per-schema text.
///
/// Goes through `Executor::execute` rather than `RawSql::execute`: the latter is an `async fn`
/// generic over the executor, which makes every future awaiting it fail to prove `Send` in
/// generic contexts (rust-lang/rust#102211), and the provisioning activity must be spawnable.
async fn run_raw(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    use sqlx::Executor as _;

    conn.execute(sqlx::raw_sql(sql)).await?;
    Ok(())
}

/// A duration as a PostgreSQL time setting; 0 disables the timeout.
fn pg_millis(duration: Duration) -> String {
    let ms = duration.as_millis().min(i32::MAX as u128);
    format!("{ms}ms")
}

async fn record_summary(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    schema: &SchemaName,
    version: Option<i64>,
    error: Option<&MigrateError>,
) -> Result<(), sqlx::Error> {
    let last_error = error.map(|e| truncate_chars(&e.to_string(), LAST_ERROR_MAX_CHARS));
    sqlx::query(
        "INSERT INTO public.tenant_schema_versions AS v \
             (tenant_id, schema_name, version, migrated_at, last_attempt_at, last_error) \
         VALUES ($1, $2, coalesce($3::bigint, 0), CASE WHEN $4::text IS NULL THEN now() END, now(), $4::text) \
         ON CONFLICT (tenant_id) DO UPDATE SET \
             schema_name = EXCLUDED.schema_name, \
             version = coalesce($3::bigint, v.version), \
             migrated_at = coalesce(EXCLUDED.migrated_at, v.migrated_at), \
             last_attempt_at = EXCLUDED.last_attempt_at, \
             last_error = EXCLUDED.last_error",
    )
    .bind(tenant_id)
    .bind(schema.as_str())
    .bind(version)
    .bind(last_error)
    .execute(conn)
    .await?;
    Ok(())
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((idx, _)) => s[..idx].to_owned(),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_sorted_and_validated() {
        let set = TenantMigrations::new([(3, "c", "SELECT 3"), (1, "a", "SELECT 1")]).unwrap();
        assert_eq!(
            set.iter().map(TenantMigration::version).collect::<Vec<_>>(),
            [1, 3]
        );
        assert_eq!(set.latest_version(), 3);
        assert!(set.get(2).is_none());
        assert_eq!(set.get(3).unwrap().description(), "c");
        assert!(TenantMigrations::new([(1, "a", "x"), (1, "b", "y")]).is_err());
        assert!(TenantMigrations::new([(0, "a", "x")]).is_err());
        assert_eq!(TenantMigrations::default().latest_version(), 0);
    }

    #[test]
    fn checksum_is_hex_sha256_of_the_file() {
        let set = TenantMigrations::new([(1, "a", "abc")]).unwrap();
        assert_eq!(
            set.get(1).unwrap().checksum(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn embedded_set_holds_the_projects_migration() {
        let set = TenantMigrations::embedded();
        let first = set.get(1).unwrap();
        assert_eq!(first.description(), "projects");
        assert!(first.sql().contains("CREATE TABLE projects"));
        assert_eq!(first.checksum().len(), 64);
    }

    #[test]
    fn millis_and_truncation() {
        assert_eq!(pg_millis(Duration::from_secs(5)), "5000ms");
        assert_eq!(pg_millis(Duration::ZERO), "0ms");
        assert_eq!(truncate_chars("héllo", 2), "hé");
        assert_eq!(truncate_chars("hi", 5), "hi");
    }
}
