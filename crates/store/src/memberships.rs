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
