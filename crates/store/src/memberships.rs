//! Memberships (data-model.md §2.3).

use sqlx::PgConnection;
use uuid::Uuid;

/// `INSERT … ON CONFLICT DO NOTHING`: an existing membership is success. Returns whether a row was added.
pub async fn insert_admin_if_absent(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let added = sqlx::query(
        "INSERT INTO public.user_tenant_membership (user_id, tenant_id, role, is_active) \
         VALUES ($1, $2, 'admin', true) ON CONFLICT (user_id, tenant_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(tenant_id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(added == 1)
}

pub async fn remove(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let removed = sqlx::query(
        "DELETE FROM public.user_tenant_membership WHERE user_id = $1 AND tenant_id = $2",
    )
    .bind(user_id)
    .bind(tenant_id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(removed == 1)
}

/// A member as the members endpoints show it (api.md §3 MemberRead).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: String,
    pub is_active: bool,
    pub created_at: time::OffsetDateTime,
}

const MEMBER: &str = "SELECT m.user_id, u.email, u.full_name, m.role, m.is_active, m.created_at \
                      FROM public.user_tenant_membership m JOIN public.users u ON u.id = m.user_id";

/// Members of a tenant, newest first by `(created_at, user_id)`, strictly after `after`.
pub async fn list(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    include_inactive: bool,
    after: Option<(time::OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<MemberRow>, sqlx::Error> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as::<_, MemberRow>(&format!(
        "{MEMBER} WHERE m.tenant_id = $1 AND ($2 OR m.is_active) \
           AND ($3::timestamptz IS NULL OR (m.created_at, m.user_id) < ($3, $4)) \
         ORDER BY m.created_at DESC, m.user_id DESC LIMIT $5"
    ))
    .bind(tenant_id)
    .bind(include_inactive)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    user_id: Uuid,
) -> Result<Option<MemberRow>, sqlx::Error> {
    sqlx::query_as::<_, MemberRow>(&format!(
        "{MEMBER} WHERE m.tenant_id = $1 AND m.user_id = $2"
    ))
    .bind(tenant_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// The last-admin rule's lock (data-model.md §2.3): changes that may remove an active admin lock the
/// tenant row first, so concurrent demotions see each other's result.
pub async fn lock_tenant(conn: &mut PgConnection, tenant_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1 FROM public.tenants WHERE id = $1 FOR UPDATE")
        .bind(tenant_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn active_admins(conn: &mut PgConnection, tenant_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM public.user_tenant_membership \
         WHERE tenant_id = $1 AND role = 'admin' AND is_active",
    )
    .bind(tenant_id)
    .fetch_one(conn)
    .await
}

pub async fn update(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    user_id: Uuid,
    role: &str,
    is_active: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE public.user_tenant_membership SET role = $3, is_active = $4, updated_at = now() \
         WHERE tenant_id = $1 AND user_id = $2",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(role)
    .bind(is_active)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether `email` belongs to an active member of the tenant.
pub async fn is_active_member_email(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    email: &str,
) -> Result<bool, sqlx::Error> {
    let row: Option<(i32,)> = sqlx::query_as(
        "SELECT 1 FROM public.user_tenant_membership m JOIN public.users u ON u.id = m.user_id \
         WHERE m.tenant_id = $1 AND u.email = $2 AND m.is_active",
    )
    .bind(tenant_id)
    .bind(email)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    Added,
    Reactivated,
    AlreadyActive,
}

/// Adds the user with `role`, or reactivates an inactive membership with `role`.
pub async fn join(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    user_id: Uuid,
    role: &str,
) -> Result<Joined, sqlx::Error> {
    let row: Option<(bool,)> = sqlx::query_as(
        "INSERT INTO public.user_tenant_membership (user_id, tenant_id, role, is_active) \
         VALUES ($1, $2, $3, true) \
         ON CONFLICT (user_id, tenant_id) DO UPDATE SET role = EXCLUDED.role, is_active = true, updated_at = now() \
           WHERE NOT public.user_tenant_membership.is_active \
         RETURNING (xmax::text = '0') AS inserted",
    )
    .bind(user_id)
    .bind(tenant_id)
    .bind(role)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some((true,)) => Joined::Added,
        Some((false,)) => Joined::Reactivated,
        None => Joined::AlreadyActive,
    })
}
