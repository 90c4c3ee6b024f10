//! `tenantry migrate tenants` (data-model.md §4.3): the per-schema routine over every live tenant
//! schema with bounded concurrency, progress reporting, fail-fast, dry-run and cooperative
//! cancellation. Resumable by construction: each schema's ledger says what is left to do.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use sqlx::PgPool;
use tenantry_domain::SchemaName;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::StoreError;
use crate::migrate::tenant::{
    AppliedFile, LEDGER_TABLE, MigrateError, MigrateOptions, TenantMigrations, migrate_schema,
};

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
/// 128 + SIGINT, as a shell reports a Ctrl-C.
pub const EXIT_CANCELLED: i32 = 130;

pub const DEFAULT_CONCURRENCY: usize = 4;
pub const MAX_CONCURRENCY: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanOutOptions {
    /// Schemas migrated at once, each on its own connection: 1..=32.
    pub concurrency: usize,
    /// Slugs to limit the run to (`--tenant`); empty means every eligible tenant.
    pub tenants: Vec<String>,
    /// Report each schema's current and target version; change nothing.
    pub dry_run: bool,
    /// Stop scheduling new schemas after the first failure.
    pub fail_fast: bool,
    pub migrate: MigrateOptions,
}

impl Default for FanOutOptions {
    fn default() -> Self {
        FanOutOptions {
            concurrency: DEFAULT_CONCURRENCY,
            tenants: Vec::new(),
            dry_run: false,
            fail_fast: false,
            migrate: MigrateOptions::default(),
        }
    }
}

/// How one schema ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaResult {
    Migrated {
        files: usize,
        elapsed: Duration,
    },
    /// Nothing to apply (known from the summary table, or found under the lock).
    Current,
    Failed {
        error: String,
    },
    /// Another migrator held the schema's lock for the whole lock wait.
    Busy,
    /// Dry run: this many files would be applied.
    Pending {
        files: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaEvent {
    /// 1-based count of schemas finished so far, this one included.
    pub done: usize,
    pub total: usize,
    pub tenant_id: Uuid,
    pub slug: String,
    pub schema: String,
    pub from_version: i64,
    pub to_version: i64,
    pub result: SchemaResult,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Schemas selected.
    pub total: usize,
    pub target_version: i64,
    pub migrated: usize,
    pub current: usize,
    pub failed: usize,
    pub busy: usize,
    /// Dry run only: schemas that have files to apply.
    pub pending: usize,
    /// Selected but never started, because of cancellation or `fail_fast`.
    pub not_started: usize,
    pub cancelled: bool,
    pub dry_run: bool,
    /// Requested slugs that matched no eligible tenant (unknown, deleted, not ready/provisioning,
    /// or without a schema).
    pub unmatched_tenants: Vec<String>,
}

impl Summary {
    /// 130 when cancelled, 1 when any schema failed or was busy, else 0. (Usage and connection
    /// errors, exit 2, are the errors [`migrate_tenants`] returns.)
    pub fn exit_code(&self) -> i32 {
        if self.cancelled {
            EXIT_CANCELLED
        } else if self.failed > 0 || self.busy > 0 {
            EXIT_FAILED
        } else {
            EXIT_OK
        }
    }
}

/// Receives progress of [`migrate_tenants`]. Calls come from the task driving the run, one at a
/// time, in completion order. The CLI implements this with a live bar on a TTY and uses
/// [`LineProgress`] otherwise.
pub trait ProgressSink: Send + Sync {
    fn start(&self, total: usize, target_version: i64);
    fn schema(&self, event: &SchemaEvent);
    fn finish(&self, summary: &Summary);
}

/// Discards progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn start(&self, _total: usize, _target_version: i64) {}
    fn schema(&self, _event: &SchemaEvent) {}
    fn finish(&self, _summary: &Summary) {}
}

/// One line per schema, e.g. `[  37/1200] tenant_acme_corp v3 -> v5 ok 212ms`, and a final
/// `migrated M, current C, failed F, busy B`. Write errors are ignored: progress is best effort.
#[derive(Debug)]
pub struct LineProgress<W> {
    out: Mutex<W>,
}

impl<W: Write + Send> LineProgress<W> {
    pub fn new(out: W) -> LineProgress<W> {
        LineProgress {
            out: Mutex::new(out),
        }
    }

    pub fn into_inner(self) -> W {
        self.out
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn line(&self, line: &str) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

impl<W: Write + Send> ProgressSink for LineProgress<W> {
    fn start(&self, total: usize, target_version: i64) {
        self.line(&format!(
            "{total} tenant schema(s) selected, target v{target_version}"
        ));
    }

    fn schema(&self, event: &SchemaEvent) {
        self.line(&format_event(event));
    }

    fn finish(&self, summary: &Summary) {
        for slug in &summary.unmatched_tenants {
            self.line(&format!(
                "warning: tenant {slug} not found, deleted, not ready or without a schema"
            ));
        }
        if summary.dry_run {
            self.line(&format!(
                "dry run: {} schema(s) would be migrated",
                summary.pending
            ));
        }
        if summary.not_started > 0 {
            let why = if summary.cancelled {
                "cancelled"
            } else {
                "stopped"
            };
            self.line(&format!(
                "{why}: {} schema(s) not started",
                summary.not_started
            ));
        }
        self.line(&format_summary(summary));
    }
}

/// The per-schema progress line (shared with the CLI's TTY bar for printing failures above it).
pub fn format_event(event: &SchemaEvent) -> String {
    let width = event.total.to_string().len();
    let head = format!("[{:>width$}/{}] {}", event.done, event.total, event.schema);
    let (from, to) = (event.from_version, event.to_version);
    match &event.result {
        SchemaResult::Migrated { elapsed, .. } => {
            format!("{head} v{from} -> v{to} ok {}ms", elapsed.as_millis())
        }
        SchemaResult::Current => format!("{head} v{to} current"),
        SchemaResult::Failed { error } => {
            // One line per schema, whatever the error text holds.
            let error = error.replace(['\n', '\r'], " ");
            format!("{head} v{from} -> v{to} FAILED: {error}")
        }
        SchemaResult::Busy => format!("{head} v{from} -> v{to} busy (locked), skipped"),
        SchemaResult::Pending { files } => {
            format!("{head} v{from} -> v{to} dry run, {files} file(s) pending")
        }
    }
}

pub fn format_summary(summary: &Summary) -> String {
    format!(
        "migrated {}, current {}, failed {}, busy {}",
        summary.migrated, summary.current, summary.failed, summary.busy
    )
}

#[derive(Debug, sqlx::FromRow)]
struct TenantRow {
    id: Uuid,
    slug: String,
    schema_name: String,
    summary_version: Option<i64>,
}

struct Finished {
    tenant: TenantRow,
    from_version: i64,
    to_version: i64,
    result: SchemaResult,
}

/// Applies `migrations` to every tenant schema with `deleted_at IS NULL`, status `ready` or
/// `provisioning` and an existing schema (optionally only `options.tenants`), in `created_at` order.
///
/// Schemas the summary table already shows at the target are reported current without being
/// touched; the others go through [`migrate_schema`], which re-checks the ledger under the lock.
/// Failures do not stop other schemas unless `fail_fast`. When `cancel` fires no new schema is
/// started; in-flight ones finish (each file commits or rolls back as a whole) and the summary says
/// `cancelled`.
pub async fn migrate_tenants(
    pool: &PgPool,
    migrations: &TenantMigrations,
    options: &FanOutOptions,
    progress: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<Summary, StoreError> {
    if !(1..=MAX_CONCURRENCY).contains(&options.concurrency) {
        return Err(StoreError::InvalidOption(format!(
            "concurrency must be between 1 and {MAX_CONCURRENCY}, got {}",
            options.concurrency
        )));
    }

    let tenants: Vec<TenantRow> = sqlx::query_as(
        "SELECT t.id, t.slug, t.schema_name, v.version AS summary_version \
         FROM public.tenants AS t \
         JOIN pg_catalog.pg_namespace AS n ON n.nspname = t.schema_name \
         LEFT JOIN public.tenant_schema_versions AS v ON v.tenant_id = t.id \
         WHERE t.deleted_at IS NULL \
           AND t.status IN ('ready', 'provisioning') \
           AND (cardinality($1::text[]) = 0 OR t.slug = ANY($1::text[])) \
         ORDER BY t.created_at, t.id",
    )
    .bind(&options.tenants)
    .fetch_all(pool)
    .await?;

    let target = migrations.latest_version();
    let selected: HashSet<&str> = tenants.iter().map(|t| t.slug.as_str()).collect();
    let mut unmatched_tenants: Vec<String> = options
        .tenants
        .iter()
        .filter(|slug| !selected.contains(slug.as_str()))
        .cloned()
        .collect();
    unmatched_tenants.sort();
    unmatched_tenants.dedup();

    let mut summary = Summary {
        total: tenants.len(),
        target_version: target,
        dry_run: options.dry_run,
        unmatched_tenants,
        ..Summary::default()
    };
    progress.start(summary.total, target);

    let mut queue = tenants.into_iter();
    let mut in_flight = FuturesUnordered::new();
    let mut stop = false;
    let mut done = 0usize;

    let mut report = |finished: Finished, summary: &mut Summary| {
        done += 1;
        match &finished.result {
            SchemaResult::Migrated { .. } => summary.migrated += 1,
            SchemaResult::Current => summary.current += 1,
            SchemaResult::Failed { .. } => summary.failed += 1,
            SchemaResult::Busy => summary.busy += 1,
            SchemaResult::Pending { .. } => summary.pending += 1,
        }
        progress.schema(&SchemaEvent {
            done,
            total: summary.total,
            tenant_id: finished.tenant.id,
            slug: finished.tenant.slug,
            schema: finished.tenant.schema_name,
            from_version: finished.from_version,
            to_version: finished.to_version,
            result: finished.result,
        });
    };

    loop {
        while !stop && in_flight.len() < options.concurrency {
            if cancel.is_cancelled() {
                summary.cancelled = true;
                stop = true;
                break;
            }
            let Some(tenant) = queue.next() else {
                break;
            };
            match tenant.summary_version {
                Some(version) if version >= target => {
                    report(
                        Finished {
                            tenant,
                            from_version: version,
                            to_version: version,
                            result: SchemaResult::Current,
                        },
                        &mut summary,
                    );
                }
                _ => in_flight.push(process_schema(pool, migrations, options, tenant, target)),
            }
        }
        if in_flight.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            Some(finished) = in_flight.next() => {
                let failed = matches!(finished.result, SchemaResult::Failed { .. });
                report(finished, &mut summary);
                if failed && options.fail_fast {
                    stop = true;
                }
            }
            () = cancel.cancelled(), if !summary.cancelled => {
                tracing::info!("tenant migrations cancelled; letting in-flight schemas finish");
                summary.cancelled = true;
                stop = true;
            }
        }
    }

    summary.not_started = queue.len();
    progress.finish(&summary);
    Ok(summary)
}

fn ignore_applied_file(_: &AppliedFile) {}

async fn process_schema(
    pool: &PgPool,
    migrations: &TenantMigrations,
    options: &FanOutOptions,
    tenant: TenantRow,
    target: i64,
) -> Finished {
    let from_version = tenant.summary_version.unwrap_or(0);
    let failed = |tenant: TenantRow, error: String| Finished {
        tenant,
        from_version,
        to_version: target,
        result: SchemaResult::Failed { error },
    };

    // Cannot fail for a row that passed ck_tenants_slug_*; checked anyway before any SQL uses it.
    let schema = match SchemaName::parse(&tenant.schema_name) {
        Ok(schema) => schema,
        Err(error) => return failed(tenant, error.to_string()),
    };

    if options.dry_run {
        return match inspect_schema(pool, &schema, migrations).await {
            Ok((current, 0)) => Finished {
                tenant,
                from_version: current,
                to_version: current,
                result: SchemaResult::Current,
            },
            Ok((current, files)) => Finished {
                tenant,
                from_version: current,
                to_version: target,
                result: SchemaResult::Pending { files },
            },
            Err(error) => failed(tenant, error),
        };
    }

    let mut ignore_heartbeat = ignore_applied_file;
    match migrate_schema(
        pool,
        &schema,
        tenant.id,
        migrations,
        &options.migrate,
        &mut ignore_heartbeat,
    )
    .await
    {
        Ok(outcome) if outcome.applied.is_empty() => Finished {
            tenant,
            from_version: outcome.to_version,
            to_version: outcome.to_version,
            result: SchemaResult::Current,
        },
        Ok(outcome) => Finished {
            tenant,
            from_version: outcome.from_version,
            to_version: outcome.to_version,
            result: SchemaResult::Migrated {
                files: outcome.applied.len(),
                elapsed: outcome.elapsed,
            },
        },
        Err(MigrateError::Busy { .. }) => Finished {
            tenant,
            from_version,
            to_version: target,
            result: SchemaResult::Busy,
        },
        Err(error) => {
            tracing::warn!(schema = %schema, %error, "tenant migration failed");
            failed(tenant, error.to_string())
        }
    }
}

/// Dry run: the ledger's highest version and how many files would be applied, read without the
/// lock and without creating anything. A changed applied file is reported as the run would.
async fn inspect_schema(
    pool: &PgPool,
    schema: &SchemaName,
    migrations: &TenantMigrations,
) -> Result<(i64, usize), String> {
    let ledger = format!("{}.{LEDGER_TABLE}", schema.quoted());
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(&ledger)
        .fetch_one(pool)
        .await
        .map_err(|e| e.to_string())?;
    let applied: Vec<(i64, String)> = if exists {
        sqlx::query_as(&format!("SELECT version, checksum FROM {ledger}"))
            .persistent(false)
            .fetch_all(pool)
            .await
            .map_err(|e| e.to_string())?
    } else {
        Vec::new()
    };

    for (version, checksum) in &applied {
        if let Some(file) = migrations.get(*version)
            && file.checksum() != checksum
        {
            return Err(MigrateError::ChecksumMismatch {
                schema: schema.clone(),
                version: *version,
                applied: checksum.clone(),
                file: file.checksum().to_owned(),
            }
            .to_string());
        }
    }
    let current = applied.iter().map(|(v, _)| *v).max().unwrap_or(0);
    let applied: HashSet<i64> = applied.into_iter().map(|(v, _)| v).collect();
    let pending = migrations
        .iter()
        .filter(|m| !applied.contains(&m.version()))
        .count();
    Ok((current, pending))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(done: usize, total: usize, result: SchemaResult) -> SchemaEvent {
        SchemaEvent {
            done,
            total,
            tenant_id: Uuid::nil(),
            slug: "acme-corp".into(),
            schema: "tenant_acme_corp".into(),
            from_version: 3,
            to_version: 5,
            result,
        }
    }

    #[test]
    fn lines_match_the_documented_format() {
        let migrated = SchemaResult::Migrated {
            files: 2,
            elapsed: Duration::from_millis(212),
        };
        assert_eq!(
            format_event(&event(37, 1200, migrated)),
            "[  37/1200] tenant_acme_corp v3 -> v5 ok 212ms"
        );
        assert_eq!(
            format_event(&event(
                1,
                9,
                SchemaResult::Failed {
                    error: "boom\nline".into()
                }
            )),
            "[1/9] tenant_acme_corp v3 -> v5 FAILED: boom line"
        );
        assert_eq!(
            format_event(&event(5, 10, SchemaResult::Busy)),
            "[ 5/10] tenant_acme_corp v3 -> v5 busy (locked), skipped"
        );
        let summary = Summary {
            migrated: 1,
            current: 2,
            failed: 3,
            busy: 4,
            ..Summary::default()
        };
        assert_eq!(
            format_summary(&summary),
            "migrated 1, current 2, failed 3, busy 4"
        );
    }

    #[test]
    fn exit_codes() {
        let mut summary = Summary::default();
        assert_eq!(summary.exit_code(), 0);
        summary.busy = 1;
        assert_eq!(summary.exit_code(), 1);
        summary.busy = 0;
        summary.failed = 1;
        assert_eq!(summary.exit_code(), 1);
        summary.cancelled = true;
        assert_eq!(summary.exit_code(), 130);
    }

    #[test]
    fn line_progress_writes_every_line() {
        let sink = LineProgress::new(Vec::new());
        sink.start(2, 5);
        sink.schema(&event(1, 2, SchemaResult::Current));
        sink.finish(&Summary {
            total: 2,
            current: 1,
            not_started: 1,
            cancelled: true,
            ..Summary::default()
        });
        let text = String::from_utf8(sink.into_inner()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "2 tenant schema(s) selected, target v5",
                "[1/2] tenant_acme_corp v5 current",
                "cancelled: 1 schema(s) not started",
                "migrated 0, current 1, failed 0, busy 0",
            ]
        );
    }
}
