//! User rows (data-model.md §2.2).

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub hashed_password: String,
    pub full_name: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub email_verified_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str = "id, email, hashed_password, full_name, is_active, is_superuser, email_verified_at, created_at, updated_at";

#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub hashed_password: &'a str,
    pub full_name: &'a str,
    pub verified: bool,
    pub is_superuser: bool,
}

/// Inserts the user unless the email exists; `None` means the email was taken (possibly by a concurrent
/// transaction that committed first).
pub async fn insert_if_absent(
    conn: &mut PgConnection,
    u: &NewUser<'_>,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as::<_, UserRow>(&format!(
        "INSERT INTO public.users (id, email, hashed_password, full_name, is_superuser, email_verified_at) \
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END) \
         ON CONFLICT (email) DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(u.id)
    .bind(u.email)
    .bind(u.hashed_password)
    .bind(u.full_name)
    .bind(u.is_superuser)
    .bind(u.verified)
    .fetch_optional(conn)
    .await
}

pub async fn by_email(
    conn: &mut PgConnection,
    email: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as::<_, UserRow>(&format!(
        "SELECT {COLUMNS} FROM public.users WHERE email = $1"
    ))
    .bind(email)
    .fetch_optional(conn)
    .await
}

pub async fn by_id(conn: &mut PgConnection, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as::<_, UserRow>(&format!("SELECT {COLUMNS} FROM public.users WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The registration reaper's rule (workflows.md §5 `delete_unverified_registrant`).
pub async fn delete_unverified_registrant(
    conn: &mut PgConnection,
    tenant_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query(
        "DELETE FROM public.users u USING public.tenants t \
         WHERE t.id = $1 AND u.id = t.registered_by_user_id AND u.email_verified_at IS NULL \
           AND NOT EXISTS ( \
             SELECT 1 FROM public.user_tenant_membership m JOIN public.tenants o ON o.id = m.tenant_id \
             WHERE m.user_id = u.id AND m.is_active AND o.id <> t.id AND o.deleted_at IS NULL)",
    )
    .bind(tenant_id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(deleted == 1)
}
