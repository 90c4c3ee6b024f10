//! Public migrations, the "database is current" check, named constraints and the error
//! classification callers map to HTTP statuses and retries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::TestDb;
use sqlx::postgres::{PgConnectOptions, PgListener};
use sqlx::{Connection as _, PgPool, Row as _};
use tenantry_store::{
    PoolConfig, StoreError, check_public_current, constraint_name, is_cached_plan_invalidated,
    is_foreign_key_violation, is_transient, is_unavailable, is_unique_violation, migrate_public,
};
use uuid::Uuid;

fn hash(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

async fn insert_user(pool: &PgPool, email: &str) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO public.users (id, email, hashed_password, full_name) VALUES ($1, $2, 'x', 'Full Name')",
    )
    .bind(id)
    .bind(email)
    .execute(pool)
    .await?;
    Ok(id)
}

async fn insert_tenant(pool: &PgPool, slug: &str) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO public.tenants (id, name, slug, status, is_active, origin) \
         VALUES ($1, $2, $2, 'ready', true, 'admin')",
    )
    .bind(id)
    .bind(slug)
    .execute(pool)
    .await?;
    Ok(id)
}

#[tokio::test]
async fn check_names_the_first_missing_public_version() {
    let db = TestDb::empty().await;
    let pool = db.pool(2);
    match check_public_current(&pool).await {
        Err(StoreError::PublicMigrationsBehind { version, .. }) => assert_eq!(version, 1),
        other => panic!("expected PublicMigrationsBehind, got {other:?}"),
    }

    migrate_public(&pool).await.unwrap();
    check_public_current(&pool).await.unwrap();
    // Idempotent.
    migrate_public(&pool).await.unwrap();

    let latest = tenantry_store::migrate::latest_public_version();
    assert!(latest >= 1);
    sqlx::query("DELETE FROM public._sqlx_migrations WHERE version = $1")
        .bind(latest)
        .execute(&pool)
        .await
        .unwrap();
    let err = check_public_current(&pool).await.unwrap_err();
    assert!(
        matches!(err, StoreError::PublicMigrationsBehind { version, .. } if version == latest),
        "{err:?}"
    );
    assert!(err.to_string().contains(&format!("version {latest}")));

    sqlx::query("UPDATE public._sqlx_migrations SET checksum = '\\x00'::bytea WHERE version = 1")
        .execute(&pool)
        .await
        .unwrap();
    match check_public_current(&pool).await {
        Err(StoreError::PublicMigrationModified { version, .. }) => assert_eq!(version, 1),
        other => panic!("expected PublicMigrationModified, got {other:?}"),
    }
}

#[tokio::test]
async fn every_public_table_and_named_constraint_exists() {
    let db = TestDb::migrated().await;
    let pool = db.pool(2);
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_catalog.pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for table in [
        "audit_logs",
        "email_outbox",
        "email_verification_tokens",
        "idempotency_keys",
        "password_reset_tokens",
        "refresh_token_families",
        "refresh_tokens",
        "tenant_invites",
        "tenant_schema_versions",
        "tenants",
        "user_tenant_membership",
        "users",
        "workflow_executions",
        "workflow_start_requests",
    ] {
        assert!(tables.iter().any(|t| t == table), "missing table {table}");
    }

    let names: Vec<String> = sqlx::query_scalar(
        "SELECT conname::text FROM pg_catalog.pg_constraint c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public' \
         UNION ALL \
         SELECT indexname::text FROM pg_catalog.pg_indexes WHERE schemaname = 'public'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for name in [
        "ck_tenants_slug_format",
        "ck_tenants_slug_reserved",
        "ck_tenants_deleted",
        "ck_tenants_active",
        "uq_tenants_slug",
        "uq_tenants_schema_name",
        "uq_users_email",
        "user_tenant_membership_pkey",
        "uq_tenant_invites_pending",
        "uq_workflow_executions_workflow_id",
        "uq_workflow_start_requests_workflow_id",
        "uq_email_outbox_dedupe_key",
        "uq_refresh_tokens_token_hash",
        "idempotency_keys_pkey",
        "tenant_schema_versions_pkey",
    ] {
        assert!(names.iter().any(|n| n == name), "missing constraint {name}");
    }

    let generated: String = sqlx::query_scalar(
        "SELECT is_generated FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = 'tenants' AND column_name = 'schema_name'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(generated, "ALWAYS");
}

#[tokio::test]
async fn violations_are_classified_with_their_constraint_names() {
    let db = TestDb::migrated().await;
    let pool = db.pool(2);

    let user = insert_user(&pool, "a@example.com").await.unwrap();
    let err = insert_user(&pool, "a@example.com").await.unwrap_err();
    assert!(is_unique_violation(&err));
    assert_eq!(constraint_name(&err), Some("uq_users_email"));
    let err = insert_user(&pool, "B@example.com").await.unwrap_err();
    assert_eq!(constraint_name(&err), Some("ck_users_email_normalized"));

    let tenant = insert_tenant(&pool, "acme-corp").await.unwrap();
    let schema_name: String =
        sqlx::query_scalar("SELECT schema_name FROM public.tenants WHERE id = $1")
            .bind(tenant)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(schema_name, "tenant_acme_corp");
    for (slug, constraint) in [
        ("acme-corp", "uq_tenants_slug"),
        ("acme_corp", "uq_tenants_schema_name"),
        ("my-pg-x", "ck_tenants_slug_reserved"),
        ("republic", "ck_tenants_slug_reserved"),
        ("Acme", "ck_tenants_slug_format"),
        ("acme--corp", "ck_tenants_slug_format"),
    ] {
        let err = insert_tenant(&pool, slug).await.unwrap_err();
        assert_eq!(constraint_name(&err), Some(constraint), "slug {slug}");
    }
    let err = sqlx::query(
        "INSERT INTO public.tenants (id, name, slug, status, is_active, origin) \
         VALUES ($1, 'x', 'gone', 'deleted', false, 'admin')",
    )
    .bind(Uuid::now_v7())
    .execute(&pool)
    .await
    .unwrap_err();
    assert_eq!(constraint_name(&err), Some("ck_tenants_deleted"));
    let err = sqlx::query(
        "INSERT INTO public.tenants (id, name, slug, status, is_active, origin) \
         VALUES ($1, 'x', 'inactive', 'ready', false, 'admin')",
    )
    .bind(Uuid::now_v7())
    .execute(&pool)
    .await
    .unwrap_err();
    assert_eq!(constraint_name(&err), Some("ck_tenants_active"));

    let add_member = |user_id: Uuid| {
        sqlx::query(
            "INSERT INTO public.user_tenant_membership (user_id, tenant_id, role) VALUES ($1, $2, 'admin')",
        )
        .bind(user_id)
        .bind(tenant)
        .execute(&pool)
    };
    add_member(user).await.unwrap();
    let err = add_member(user).await.unwrap_err();
    assert!(is_unique_violation(&err));
    assert_eq!(constraint_name(&err), Some("user_tenant_membership_pkey"));
    let err = add_member(Uuid::now_v7()).await.unwrap_err();
    assert!(is_foreign_key_violation(&err));
    assert!(!is_unique_violation(&err));

    let invite = |c: char| {
        sqlx::query(
            "INSERT INTO public.tenant_invites (id, tenant_id, email, token_hash, expires_at) \
             VALUES ($1, $2, 'b@example.com', $3, now() + interval '1 day')",
        )
        .bind(Uuid::now_v7())
        .bind(tenant)
        .bind(hash(c))
        .execute(&pool)
    };
    invite('a').await.unwrap();
    let err = invite('b').await.unwrap_err();
    assert_eq!(constraint_name(&err), Some("uq_tenant_invites_pending"));
    sqlx::query("UPDATE public.tenant_invites SET status = 'cancelled', cancelled_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    invite('b').await.unwrap();
    let err = invite('B').await.unwrap_err();
    assert_eq!(constraint_name(&err), Some("ck_tenant_invites_token_hash"));

    let execution = || {
        sqlx::query(
            "INSERT INTO public.workflow_executions (id, workflow_id, workflow_type, entity_type, entity_id) \
             VALUES ($1, 'tenant-provision-acme-corp', 'TenantProvisioning', 'tenant', $2)",
        )
        .bind(Uuid::now_v7())
        .bind(tenant)
        .execute(&pool)
    };
    execution().await.unwrap();
    let err = execution().await.unwrap_err();
    assert_eq!(
        constraint_name(&err),
        Some("uq_workflow_executions_workflow_id")
    );

    let as_store = StoreError::from(err);
    assert!(as_store.is_unique_violation());
    assert!(!as_store.is_transient());
    assert!(!as_store.is_unavailable());
}

#[tokio::test]
async fn outbox_insert_notifies_the_relay() {
    let db = TestDb::migrated().await;
    let pool = db.pool(2);
    let mut listener = PgListener::connect_with(&pool).await.unwrap();
    listener.listen("tenantry_outbox").await.unwrap();

    let inserted = sqlx::query(
        "INSERT INTO public.workflow_start_requests (id, workflow_id, workflow_type, task_queue, input) \
         VALUES ($1, 'tenant-provision-acme', 'TenantProvisioning', 'q.tenant.00', '{}'::jsonb) \
         ON CONFLICT (workflow_id) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(inserted.rows_affected(), 1);
    // The bound only keeps a broken trigger from hanging the suite.
    let notification = tokio::time::timeout(Duration::from_secs(30), listener.recv())
        .await
        .expect("no notification")
        .unwrap();
    assert_eq!(notification.channel(), "tenantry_outbox");
}

#[tokio::test]
async fn transient_errors_are_recognised() {
    let db = TestDb::migrated().await;

    let mut conn = db.connection().await;
    let err = sqlx::raw_sql("SET LOCAL statement_timeout = '1ms'; SELECT pg_sleep(1)")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert_eq!(tenantry_store::sqlstate(&err).as_deref(), Some("57014"));
    assert!(is_transient(&err));
    assert!(!is_unavailable(&err));

    // A prepared statement whose result type changes underneath it.
    sqlx::raw_sql(
        "CREATE TABLE public.plan_probe (a integer); INSERT INTO public.plan_probe VALUES (1)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let probe = "SELECT a FROM public.plan_probe";
    sqlx::query(probe).fetch_all(&mut conn).await.unwrap();
    sqlx::raw_sql("ALTER TABLE public.plan_probe ALTER COLUMN a TYPE bigint")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = sqlx::query(probe).fetch_all(&mut conn).await.unwrap_err();
    assert!(is_cached_plan_invalidated(&err), "{err}");
    assert!(is_transient(&err));
    // Retrying as is fails forever on this connection: the prepared statement must be dropped,
    // which works even inside the aborted transaction a failed statement leaves behind.
    let mut tx = conn.begin().await.unwrap();
    let err = sqlx::query(probe).fetch_all(&mut *tx).await.unwrap_err();
    assert!(is_cached_plan_invalidated(&err), "{err}");
    tx.clear_cached_statements().await.unwrap();
    tx.rollback().await.unwrap();
    let rows = sqlx::query(probe).fetch_all(&mut conn).await.unwrap();
    assert_eq!(rows[0].get::<i64, _>(0), 1);
}

#[tokio::test]
async fn unreachable_database_is_unavailable() {
    let options: PgConnectOptions = "postgres://postgres@127.0.0.1:1/none?sslmode=disable"
        .parse()
        .unwrap();
    let pool = tenantry_store::connect_with(
        options,
        &PoolConfig {
            max_connections: 1,
            acquire_timeout: Duration::from_millis(500),
            ..PoolConfig::default()
        },
    )
    .unwrap();
    let err = tenantry_store::ping(&pool).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.is_transient(), "{err:?}");

    assert!(tenantry_store::connect("not a url", 1).await.is_err());
    assert!(matches!(
        tenantry_store::connect("postgres://localhost/x", 0).await,
        Err(StoreError::InvalidOption(_))
    ));
}
