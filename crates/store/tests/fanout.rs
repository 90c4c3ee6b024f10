//! `migrate_tenants` (data-model.md §4.3): interrupted and resumed runs over many schemas, one bad
//! schema not stopping the others, fail-fast, dry run, busy schemas, tenant selection and status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    RecordingSink, TestDb, TestTenant, advisory_locks, create_tenants, ledger_rows,
    ledger_versions, slugs, table_exists,
};
use sqlx::PgPool;
use tenantry_store::migrate::{
    FanOutOptions, LineProgress, MigrateOptions, NoProgress, SchemaResult, TenantMigrations,
    migration_status,
};
use tenantry_store::{CancellationToken, migrate_schema, migrate_tenants};

const FILES: i64 = 3;

/// Each file logs itself in the schema and in `public.side_effects`: a double application shows as
/// a duplicate row. The short sleep keeps several schemas in flight when a run is interrupted.
fn side_effect_set(n: i64) -> TenantMigrations {
    TenantMigrations::new((1..=n).map(|v| {
        let ddl = if v == 1 {
            "CREATE TABLE applied_log (version integer NOT NULL);".to_owned()
        } else {
            format!("ALTER TABLE applied_log ADD COLUMN c{v} integer;")
        };
        (
            v,
            format!("file {v}"),
            format!(
                "{ddl}\nINSERT INTO applied_log (version) VALUES ({v});\n\
                 INSERT INTO public.side_effects (schema_name, version) VALUES (current_schema(), {v});\n\
                 SELECT pg_sleep(0.005);\n"
            ),
        )
    }))
    .unwrap()
}

async fn setup(prefix: &str, n: usize, max_connections: u32) -> (TestDb, PgPool, Vec<TestTenant>) {
    let db = TestDb::migrated().await;
    let pool = db.pool(max_connections);
    sqlx::raw_sql(
        "CREATE TABLE public.side_effects (schema_name text NOT NULL, version integer NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let tenants = create_tenants(&pool, &slugs(prefix, n)).await;
    (db, pool, tenants)
}

/// Every schema has exactly one ledger row, one log row and one side effect per file.
async fn assert_all_complete_exactly_once(pool: &PgPool, tenants: &[TestTenant], files: i64) {
    let duplicates: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM public.side_effects \
         GROUP BY schema_name, version HAVING count(*) > 1) AS d",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(duplicates, 0, "a file was applied twice");
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM public.side_effects")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(total, tenants.len() as i64 * files);
    for tenant in tenants {
        assert_eq!(
            ledger_rows(pool, &tenant.schema).await,
            files,
            "{}",
            tenant.schema
        );
        let log: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {}.applied_log",
            tenant.schema.quoted()
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(log, files, "{}", tenant.schema);
    }
    let behind: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.tenants AS t \
         LEFT JOIN public.tenant_schema_versions AS v ON v.tenant_id = t.id \
         WHERE v.version IS DISTINCT FROM $1 OR v.last_error IS NOT NULL",
    )
    .bind(files)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(behind, 0, "summary table not at the target everywhere");
}

#[tokio::test]
async fn interrupted_run_over_200_schemas_resumes_without_reapplying() {
    const SCHEMAS: usize = 200;
    const CANCEL_AFTER: usize = 60;
    let (_db, pool, tenants) = setup("fan", SCHEMAS, 6).await;
    let set = side_effect_set(FILES);
    let options = FanOutOptions {
        concurrency: 4,
        ..FanOutOptions::default()
    };

    let cancel = CancellationToken::new();
    let sink = RecordingSink::cancelling_after(CANCEL_AFTER, cancel.clone());
    let first = migrate_tenants(&pool, &set, &options, &sink, &cancel)
        .await
        .unwrap();
    assert!(first.cancelled);
    assert_eq!(first.exit_code(), 130);
    assert_eq!(first.total, SCHEMAS);
    assert_eq!((first.failed, first.busy, first.current), (0, 0, 0));
    // In-flight schemas (at most `concurrency - 1` beyond the one that triggered the cancel) finish.
    assert!(
        first.migrated >= CANCEL_AFTER && first.migrated < CANCEL_AFTER + 4,
        "{first:?}"
    );
    assert_eq!(first.migrated + first.not_started, SCHEMAS);
    assert_eq!(sink.events().len(), first.migrated);
    assert_eq!(*sink.finished.lock().unwrap(), Some(first.clone()));

    // Exactly the schemas reported migrated are complete; the others were never touched.
    let migrated: std::collections::HashSet<String> =
        sink.events().into_iter().map(|e| e.schema).collect();
    for tenant in &tenants {
        let rows = ledger_rows(&pool, &tenant.schema).await;
        if migrated.contains(tenant.schema.as_str()) {
            assert_eq!(rows, FILES);
        } else {
            assert_eq!(rows, 0, "{} was touched after cancellation", tenant.schema);
        }
    }

    let sink = RecordingSink::default();
    let second = migrate_tenants(&pool, &set, &options, &sink, &CancellationToken::new())
        .await
        .unwrap();
    assert!(!second.cancelled);
    assert_eq!(second.exit_code(), 0);
    assert_eq!(second.migrated, first.not_started);
    assert_eq!(second.current, first.migrated);
    assert_eq!((second.failed, second.busy, second.not_started), (0, 0, 0));
    assert_eq!(sink.events().len(), SCHEMAS);
    let mut done: Vec<usize> = sink.events().iter().map(|e| e.done).collect();
    done.sort_unstable();
    assert_eq!(done, (1..=SCHEMAS).collect::<Vec<_>>());

    assert_all_complete_exactly_once(&pool, &tenants, FILES).await;

    // A third run finds everything current without touching a schema.
    let third = migrate_tenants(
        &pool,
        &set,
        &options,
        &NoProgress,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!((third.migrated, third.current), (0, SCHEMAS));
    assert_eq!(advisory_locks(&pool).await, 0);
}

#[tokio::test]
async fn run_aborted_mid_file_resumes_without_partial_or_double_application() {
    const SCHEMAS: usize = 40;
    let (_db, pool, tenants) = setup("abort", SCHEMAS, 6).await;
    let set = Arc::new(side_effect_set(FILES));
    let options = FanOutOptions {
        concurrency: 4,
        ..FanOutOptions::default()
    };

    // Never cancelled cooperatively: the whole run is aborted like a killed process would be.
    let sink = Arc::new(RecordingSink::cancelling_after(
        10,
        CancellationToken::new(),
    ));
    let run = tokio::spawn({
        let (pool, set, options, sink) = (pool.clone(), set.clone(), options.clone(), sink.clone());
        async move { migrate_tenants(&pool, &set, &options, &*sink, &CancellationToken::new()).await }
    });
    sink.reached.notified().await;
    run.abort();
    assert!(run.await.unwrap_err().is_cancelled());

    // Files in flight when the run died were rolled back with their sessions; wait for those
    // sessions' locks rather than reporting busy.
    let resume = FanOutOptions {
        migrate: MigrateOptions {
            lock_wait: Some(Duration::from_secs(60)),
            ..MigrateOptions::default()
        },
        ..options
    };
    let summary = migrate_tenants(&pool, &set, &resume, &NoProgress, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.exit_code(), 0, "{summary:?}");
    assert_eq!(summary.migrated + summary.current, SCHEMAS);
    assert!(summary.current >= 10);
    assert_all_complete_exactly_once(&pool, &tenants, FILES).await;
}

#[tokio::test]
async fn checksum_mismatch_stops_only_that_schema() {
    let (_db, pool, tenants) = setup("sum", 6, 4).await;
    let bad = &tenants[2];
    let original = TenantMigrations::new([(1, "one", "CREATE TABLE one (id integer);")]).unwrap();
    migrate_schema(
        &pool,
        &bad.schema,
        bad.id,
        &original,
        &MigrateOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap();

    let changed = TenantMigrations::new([
        (1, "one", "CREATE TABLE one (id bigint);"),
        (2, "two", "CREATE TABLE two (id integer);"),
    ])
    .unwrap();
    let sink = LineProgress::new(Vec::new());
    let summary = migrate_tenants(
        &pool,
        &changed,
        &FanOutOptions::default(),
        &sink,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            summary.migrated,
            summary.failed,
            summary.current,
            summary.busy
        ),
        (5, 1, 0, 0)
    );
    assert_eq!(summary.exit_code(), 1);

    for tenant in &tenants {
        let expected: &[i64] = if tenant.id == bad.id { &[1] } else { &[1, 2] };
        assert_eq!(ledger_versions(&pool, &tenant.schema).await, expected);
    }
    assert!(!table_exists(&pool, &format!("{}.two", bad.schema.quoted())).await);
    let (version, last_error): (i64, Option<String>) = sqlx::query_as(
        "SELECT version, last_error FROM public.tenant_schema_versions WHERE tenant_id = $1",
    )
    .bind(bad.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(version, 1);
    assert!(last_error.unwrap().contains("checksum mismatch"));

    let output = String::from_utf8(sink.into_inner()).unwrap();
    let failed: Vec<&str> = output.lines().filter(|l| l.contains("FAILED")).collect();
    assert_eq!(failed.len(), 1, "{output}");
    assert!(
        failed[0].starts_with("[")
            && failed[0].contains(&format!(
                "] {} v1 -> v2 FAILED: checksum mismatch",
                bad.schema
            )),
        "{output}"
    );
    assert_eq!(
        output
            .lines()
            .filter(|l| l.contains(" v0 -> v2 ok "))
            .count(),
        5,
        "{output}"
    );
    assert_eq!(
        output.lines().last(),
        Some("migrated 5, current 0, failed 1, busy 0")
    );

    let status = migration_status(&pool).await.unwrap();
    assert_eq!(status.errors.len(), 1);
    assert_eq!(status.errors[0].schema_name, bad.schema.as_str());
    let versions: Vec<(i64, i64)> = status
        .tenant_versions
        .iter()
        .map(|v| (v.version, v.schemas))
        .collect();
    assert_eq!(versions, [(1, 1), (2, 5)]);
    assert_eq!(status.untracked_schemas, 0);
    assert!(status.to_string().contains("schemas with errors: 1"));
}

#[tokio::test]
async fn fail_fast_stops_scheduling_after_the_first_failure() {
    let (_db, pool, tenants) = setup("ff", 5, 3).await;
    // The second schema already has the table the first file creates.
    sqlx::raw_sql(&format!(
        "CREATE TABLE {}.one (id integer)",
        tenants[1].schema.quoted()
    ))
    .execute(&pool)
    .await
    .unwrap();
    let set = TenantMigrations::new([(1, "one", "CREATE TABLE one (id integer);")]).unwrap();
    let options = FanOutOptions {
        concurrency: 1,
        fail_fast: true,
        ..FanOutOptions::default()
    };
    let sink = RecordingSink::default();
    let summary = migrate_tenants(&pool, &set, &options, &sink, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        (summary.migrated, summary.failed, summary.not_started),
        (1, 1, 3)
    );
    assert!(!summary.cancelled);
    assert_eq!(summary.exit_code(), 1);
    let events = sink.events();
    assert_eq!(events[0].schema, tenants[0].schema.as_str());
    assert!(
        matches!(&events[1].result, SchemaResult::Failed { error } if error.contains("migration 1"))
    );
    for tenant in &tenants[2..] {
        assert_eq!(ledger_rows(&pool, &tenant.schema).await, 0);
    }

    // Without fail-fast the others go through and the broken one keeps failing.
    let summary = migrate_tenants(
        &pool,
        &set,
        &FanOutOptions::default(),
        &NoProgress,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        (summary.migrated, summary.current, summary.failed),
        (3, 1, 1)
    );
}

#[tokio::test]
async fn dry_run_reports_without_changing_anything() {
    let (_db, pool, tenants) = setup("dry", 3, 3).await;
    let set = side_effect_set(2);
    let up_to_one = TenantMigrations::new([set
        .get(1)
        .map(|m| (1, m.description().to_owned(), m.sql().to_owned()))
        .unwrap()])
    .unwrap();
    migrate_schema(
        &pool,
        &tenants[0].schema,
        tenants[0].id,
        &set,
        &MigrateOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap();
    migrate_schema(
        &pool,
        &tenants[1].schema,
        tenants[1].id,
        &up_to_one,
        &MigrateOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap();

    let options = FanOutOptions {
        dry_run: true,
        ..FanOutOptions::default()
    };
    let sink = RecordingSink::default();
    let summary = migrate_tenants(&pool, &set, &options, &sink, &CancellationToken::new())
        .await
        .unwrap();
    assert!(summary.dry_run);
    assert_eq!(
        (summary.current, summary.pending, summary.migrated),
        (1, 2, 0)
    );
    assert_eq!(summary.exit_code(), 0);
    let mut events = sink.events();
    events.sort_by(|a, b| a.schema.cmp(&b.schema));
    let seen: Vec<(i64, i64, SchemaResult)> = events
        .into_iter()
        .map(|e| (e.from_version, e.to_version, e.result))
        .collect();
    assert_eq!(
        seen,
        [
            (2, 2, SchemaResult::Current),
            (1, 2, SchemaResult::Pending { files: 1 }),
            (0, 2, SchemaResult::Pending { files: 2 }),
        ]
    );
    assert_eq!(ledger_rows(&pool, &tenants[1].schema).await, 1);
    assert!(
        !table_exists(
            &pool,
            &format!("{}._tenantry_migrations", tenants[2].schema.quoted())
        )
        .await,
        "dry run created a ledger"
    );
}

#[tokio::test]
async fn busy_schema_is_skipped_and_reported() {
    let (db, pool, tenants) = setup("busy", 3, 4).await;
    let mut holder = db.connection().await;
    sqlx::query("SELECT pg_advisory_lock(74001, hashtext($1))")
        .bind(tenants[1].schema.as_str())
        .execute(&mut holder)
        .await
        .unwrap();
    let options = FanOutOptions {
        migrate: MigrateOptions {
            lock_wait: Some(Duration::from_millis(100)),
            ..MigrateOptions::default()
        },
        ..FanOutOptions::default()
    };
    let sink = LineProgress::new(Vec::new());
    let summary = migrate_tenants(
        &pool,
        &side_effect_set(1),
        &options,
        &sink,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!((summary.migrated, summary.busy, summary.failed), (2, 1, 0));
    assert_eq!(summary.exit_code(), 1);
    let output = String::from_utf8(sink.into_inner()).unwrap();
    assert!(
        output.contains(&format!(
            "{} v0 -> v1 busy (locked), skipped",
            tenants[1].schema
        )),
        "{output}"
    );
    assert_eq!(ledger_rows(&pool, &tenants[1].schema).await, 0);
}

#[tokio::test]
async fn selection_skips_deleted_failed_and_schemaless_tenants_and_honours_the_filter() {
    let (_db, pool, tenants) = setup("sel", 5, 3).await;
    // 0: deleting, 1: failed, 2: schema dropped, 3 and 4: eligible.
    sqlx::query(
        "UPDATE public.tenants SET status = 'deleting', is_active = false, deleted_at = now() WHERE id = $1",
    )
    .bind(tenants[0].id)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE public.tenants SET status = 'failed', is_active = false WHERE id = $1")
        .bind(tenants[1].id)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(&format!("DROP SCHEMA {}", tenants[2].schema.quoted()))
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE public.tenants SET status = 'provisioning' WHERE id = $1")
        .bind(tenants[4].id)
        .execute(&pool)
        .await
        .unwrap();

    let set = side_effect_set(1);
    let filtered = FanOutOptions {
        tenants: vec![
            tenants[0].slug.clone(),
            tenants[3].slug.clone(),
            "nope".into(),
        ],
        ..FanOutOptions::default()
    };
    let sink = RecordingSink::default();
    let summary = migrate_tenants(&pool, &set, &filtered, &sink, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!((summary.total, summary.migrated), (1, 1));
    let mut unmatched = vec![tenants[0].slug.clone(), "nope".to_owned()];
    unmatched.sort();
    assert_eq!(summary.unmatched_tenants, unmatched);
    assert_eq!(sink.events()[0].schema, tenants[3].schema.as_str());

    let summary = migrate_tenants(
        &pool,
        &set,
        &FanOutOptions::default(),
        &NoProgress,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        (summary.total, summary.migrated, summary.current),
        (2, 1, 1)
    );
    for tenant in &tenants[..2] {
        assert_eq!(ledger_rows(&pool, &tenant.schema).await, 0);
    }

    let bad = FanOutOptions {
        concurrency: 33,
        ..FanOutOptions::default()
    };
    assert!(matches!(
        migrate_tenants(&pool, &set, &bad, &NoProgress, &CancellationToken::new()).await,
        Err(tenantry_store::StoreError::InvalidOption(_))
    ));
}
