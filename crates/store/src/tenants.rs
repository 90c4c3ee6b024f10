//! Tenant rows (data-model.md §2.1) and their compare-and-set status transitions (§5).

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub schema_name: String,
    pub status: String,
    pub is_active: bool,
    pub origin: String,
    pub registered_by_user_id: Option<Uuid>,
    pub claimed_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
}

const COLUMNS: &str = "id, name, slug, schema_name, status, is_active, origin, registered_by_user_id, \
                       claimed_at, created_at, updated_at, deleted_at";

#[derive(Debug, Clone)]
pub struct NewTenant<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub slug: &'a str,
    pub origin: &'a str,
    pub registered_by_user_id: Option<Uuid>,
    /// Admin-created tenants are claimed from the start.
    pub claimed: bool,
}

/// Inserts a `provisioning` tenant. A taken slug or schema name surfaces as a unique violation
/// (`uq_tenants_slug`, `uq_tenants_schema_name`).
pub async fn insert(conn: &mut PgConnection, t: &NewTenant<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO public.tenants (id, name, slug, status, is_active, origin, registered_by_user_id, claimed_at) \
         VALUES ($1, $2, $3, 'provisioning', true, $4, $5, CASE WHEN $6 THEN now() END)",
    )
    .bind(t.id)
    .bind(t.name)
    .bind(t.slug)
    .bind(t.origin)
    .bind(t.registered_by_user_id)
    .bind(t.claimed)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a tenant (deleted ones included) already holds this slug or its schema name.
pub async fn slug_taken(
    conn: &mut PgConnection,
    slug: &str,
    schema_name: &str,
) -> Result<bool, sqlx::Error> {
    let row: Option<(i32,)> =
        sqlx::query_as("SELECT 1 FROM public.tenants WHERE slug = $1 OR schema_name = $2 LIMIT 1")
            .bind(slug)
            .bind(schema_name)
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}

pub async fn by_id(conn: &mut PgConnection, id: Uuid) -> Result<Option<TenantRow>, sqlx::Error> {
    sqlx::query_as::<_, TenantRow>(&format!(
        "SELECT {COLUMNS} FROM public.tenants WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn by_slug(
    conn: &mut PgConnection,
    slug: &str,
) -> Result<Option<TenantRow>, sqlx::Error> {
    sqlx::query_as::<_, TenantRow>(&format!(
        "SELECT {COLUMNS} FROM public.tenants WHERE slug = $1"
    ))
    .bind(slug)
    .fetch_optional(conn)
    .await
}

pub async fn by_slug_pool(db: &Db, slug: &str) -> Result<Option<TenantRow>, sqlx::Error> {
    let mut conn = db.read().await?;
    by_slug(&mut conn, slug).await
}

/// Outcome of a compare-and-set status write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusChange {
    Changed,
    /// Already in the target status: writing it again is a no-op success.
    AlreadyThere,
    /// In another status from which the transition is not allowed.
    Refused {
        current: String,
    },
    Missing,
}

/// `UPDATE … SET status = to WHERE status = ANY(from)`, with `is_active` following the status and
/// `deleted_at` set on entering `deleting`. Announces the change so API caches drop the tenant.
pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    from: &[&str],
    to: &str,
) -> Result<StatusChange, sqlx::Error> {
    let from: Vec<String> = from.iter().map(|s| (*s).to_owned()).collect();
    let updated = sqlx::query(
        "UPDATE public.tenants SET status = $3, updated_at = now(), \
           is_active = ($3 = 'ready'), \
           deleted_at = CASE WHEN $3 IN ('deleting', 'deleted') THEN coalesce(deleted_at, now()) ELSE deleted_at END \
         WHERE id = $1 AND status = ANY($2)",
    )
    .bind(id)
    .bind(&from)
    .bind(to)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    settle(conn, id, updated, Some(to)).await
}

/// After a compare-and-set: announce a change, or say why nothing changed (`to` already reached counts as
/// success when given).
async fn settle(
    conn: &mut PgConnection,
    id: Uuid,
    updated: u64,
    to: Option<&str>,
) -> Result<StatusChange, sqlx::Error> {
    if updated == 1 {
        notify_changed(conn, id).await?;
        return Ok(StatusChange::Changed);
    }
    let current: Option<(String,)> =
        sqlx::query_as("SELECT status FROM public.tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(match current {
        None => StatusChange::Missing,
        Some((s,)) if Some(s.as_str()) == to => StatusChange::AlreadyThere,
        Some((current,)) => StatusChange::Refused { current },
    })
}

/// `NOTIFY tenantry_tenant_changed` with the tenant id, delivered at commit.
pub async fn notify_changed(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify('tenantry_tenant_changed', $1)")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// The deletion workflow's first step (workflows.md §5): idempotent soft delete of a ready or failed tenant.
pub async fn soft_delete(conn: &mut PgConnection, id: Uuid) -> Result<StatusChange, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE public.tenants SET deleted_at = coalesce(deleted_at, now()), is_active = false, updated_at = now(), \
           status = CASE WHEN status IN ('ready', 'failed') THEN 'deleting' ELSE status END \
         WHERE id = $1 AND status IN ('ready', 'failed', 'deleting', 'deleted')",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    settle(conn, id, updated, None).await
}

/// Marks the registrant's registration tenants claimed (first verification rule).
pub async fn claim_registrations(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "UPDATE public.tenants SET claimed_at = now(), updated_at = now() \
         WHERE registered_by_user_id = $1 AND origin = 'registration' AND claimed_at IS NULL RETURNING id",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Removes the tenant's schema summary row (after its schema is dropped).
pub async fn delete_schema_version(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM public.tenant_schema_versions WHERE tenant_id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Tenants where the user has an active membership and that are active and not deleted, newest first,
/// strictly after `after` (keyset), at most `limit` rows.
pub async fn for_member(
    conn: &mut PgConnection,
    user_id: Uuid,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<TenantRow>, sqlx::Error> {
    let (after_at, after_id) = after.unzip();
    let columns = COLUMNS
        .split(", ")
        .map(|c| format!("t.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query_as::<_, TenantRow>(&format!(
        "SELECT {columns} FROM public.tenants t \
         JOIN public.user_tenant_membership m ON m.tenant_id = t.id AND m.user_id = $1 AND m.is_active \
         WHERE t.is_active AND t.deleted_at IS NULL \
           AND ($2::timestamptz IS NULL OR (t.created_at, t.id) < ($2, $3)) \
         ORDER BY t.created_at DESC, t.id DESC LIMIT $4"
    ))
    .bind(user_id)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Every tenant (deleted ones included), optionally of one status, newest first, strictly after `after`.
pub async fn all(
    conn: &mut PgConnection,
    status: Option<&str>,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<TenantRow>, sqlx::Error> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as::<_, TenantRow>(&format!(
        "SELECT {COLUMNS} FROM public.tenants \
         WHERE ($1::text IS NULL OR status = $1) \
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(status)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}
