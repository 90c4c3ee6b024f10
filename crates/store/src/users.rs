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

pub async fn set_password(
    conn: &mut PgConnection,
    id: Uuid,
    hashed_password: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE public.users SET hashed_password = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(hashed_password)
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces a hash only if it is still `old` (a login re-hashing with new parameters must not undo a
/// concurrent password change).
pub async fn rehash_password(
    conn: &mut PgConnection,
    id: Uuid,
    old: &str,
    new: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE public.users SET hashed_password = $3 WHERE id = $1 AND hashed_password = $2",
    )
    .bind(id)
    .bind(old)
    .bind(new)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Sets `email_verified_at` if it is null; `true` exactly once per user (the first verification).
pub async fn mark_verified(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE public.users SET email_verified_at = now(), updated_at = now() \
         WHERE id = $1 AND email_verified_at IS NULL",
    )
    .bind(id)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Locks the user row (password changes serialize per user).
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as::<_, UserRow>(&format!(
        "SELECT {COLUMNS} FROM public.users WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Sets the full name when it differs; returns the row either way.
pub async fn update_full_name(
    conn: &mut PgConnection,
    id: Uuid,
    full_name: &str,
) -> Result<Option<(UserRow, bool)>, sqlx::Error> {
    let before = lock(conn, id).await?;
    let Some(before) = before else {
        return Ok(None);
    };
    if before.full_name == full_name {
        return Ok(Some((before, false)));
    }
    let after = sqlx::query_as::<_, UserRow>(&format!(
        "UPDATE public.users SET full_name = $2, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(full_name)
    .fetch_one(conn)
    .await?;
    Ok(Some((after, true)))
}

/// The account of `email` and whether it has an active membership in `tenant_id`, in one query (login
/// performs the same queries whatever the outcome).
pub async fn with_membership(
    conn: &mut PgConnection,
    email: &str,
    tenant_id: Uuid,
) -> Result<(Option<UserRow>, bool), sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: UserRow,
        member: bool,
    }
    let columns = COLUMNS
        .split(", ")
        .map(|c| format!("u.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let row = sqlx::query_as::<_, Row>(&format!(
        "SELECT {columns}, (m.user_id IS NOT NULL) AS member FROM public.users u \
         LEFT JOIN public.user_tenant_membership m \
           ON m.user_id = u.id AND m.tenant_id = $2 AND m.is_active \
         WHERE u.email = $1"
    ))
    .bind(email)
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some(r) => (Some(r.user), r.member),
        None => (None, false),
    })
}

/// Whether the user is active, an active member of the tenant, and the tenant usable (not deleted,
/// active, ready): what every refresh re-checks.
pub async fn has_access(
    conn: &mut PgConnection,
    user_id: Uuid,
    tenant_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let row: Option<(i32,)> = sqlx::query_as(
        "SELECT 1 FROM public.users u \
         JOIN public.user_tenant_membership m ON m.user_id = u.id AND m.tenant_id = $2 AND m.is_active \
         JOIN public.tenants t ON t.id = m.tenant_id \
         WHERE u.id = $1 AND u.is_active AND t.deleted_at IS NULL AND t.is_active AND t.status = 'ready'",
    )
    .bind(user_id)
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Sets or clears `is_superuser` on the account of `email`; `None` when there is no such account,
/// otherwise the value before the change (`updated_at` moves only when the value changed).
pub async fn set_superuser(
    conn: &mut PgConnection,
    email: &str,
    is_superuser: bool,
) -> Result<Option<bool>, sqlx::Error> {
    let row: Option<(bool,)> = sqlx::query_as(
        "WITH prev AS (SELECT id, is_superuser FROM public.users WHERE email = $1 FOR UPDATE) \
         UPDATE public.users u SET is_superuser = $2, \
           updated_at = CASE WHEN prev.is_superuser <> $2 THEN now() ELSE u.updated_at END \
         FROM prev WHERE u.id = prev.id RETURNING prev.is_superuser",
    )
    .bind(email)
    .bind(is_superuser)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.0))
}

/// The user row, read under `FOR SHARE` so a decision taken in this transaction (e.g. assuming the
/// identity) cannot race a concurrent deactivation or promotion.
pub async fn share_lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as::<_, UserRow>(&format!(
        "SELECT {COLUMNS} FROM public.users WHERE id = $1 FOR SHARE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Whether the user has an active membership in the tenant, read under `FOR SHARE`.
pub async fn share_lock_active_membership(
    conn: &mut PgConnection,
    user_id: Uuid,
    tenant_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let row: Option<(bool,)> = sqlx::query_as(
        "SELECT is_active FROM public.user_tenant_membership WHERE user_id = $1 AND tenant_id = $2 FOR SHARE",
    )
    .bind(user_id)
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some_and(|r| r.0))
}
