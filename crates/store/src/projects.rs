//! Projects: tenant-schema data (data-model.md §3.3).
//!
//! Every query takes a [`TenantTx`], so it can only run where `search_path` is the tenant's schema;
//! table names stay unqualified and no schema name ever appears here.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::tenant_tx::TenantTx;

/// The unique index on `projects.name` (a violation means "name taken").
pub const NAME_UNIQUE: &str = "uq_projects_name";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProjectRow {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str = "id, name, description, created_at, updated_at";

/// Newest first by `(created_at, id)`, strictly after `after`.
pub async fn list(
    tx: &mut TenantTx,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<ProjectRow>, sqlx::Error> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as::<_, ProjectRow>(&format!(
        "SELECT {COLUMNS} FROM projects \
         WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2)) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// Fails with a unique violation on [`NAME_UNIQUE`] when the name is taken, also by a concurrent
/// transaction that commits first.
pub async fn insert(
    tx: &mut TenantTx,
    id: Uuid,
    name: &str,
    description: Option<&str>,
) -> Result<ProjectRow, sqlx::Error> {
    sqlx::query_as::<_, ProjectRow>(&format!(
        "INSERT INTO projects (id, name, description) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(description)
    .fetch_one(&mut **tx)
    .await
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<ProjectRow>, sqlx::Error> {
    sqlx::query_as::<_, ProjectRow>(&format!("SELECT {COLUMNS} FROM projects WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// The row, locked until the transaction ends, so a read-modify-write sees no concurrent change.
pub async fn lock(tx: &mut TenantTx, id: Uuid) -> Result<Option<ProjectRow>, sqlx::Error> {
    sqlx::query_as::<_, ProjectRow>(&format!(
        "SELECT {COLUMNS} FROM projects WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Writes both text columns and stamps `updated_at`. Unique violation on [`NAME_UNIQUE`] as for
/// [`insert`].
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    name: &str,
    description: Option<&str>,
) -> Result<Option<ProjectRow>, sqlx::Error> {
    sqlx::query_as::<_, ProjectRow>(&format!(
        "UPDATE projects SET name = $2, description = $3, updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(description)
    .fetch_optional(&mut **tx)
    .await
}

/// The deleted row, if there was one. A foreign-key violation (23503) means other tenant data still
/// references the project.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<Option<ProjectRow>, sqlx::Error> {
    sqlx::query_as::<_, ProjectRow>(&format!(
        "DELETE FROM projects WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}
