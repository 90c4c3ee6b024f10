//! Tenant invites (data-model.md §2.7).

use sqlx::PgConnection;
use uuid::Uuid;

/// Inserts a pending invite unless one is pending for (tenant, email) (`uq_tenant_invites_pending`).
/// Returns whether it was inserted.
pub async fn insert_pending_if_absent(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    email: &str,
    role: &str,
    token_hash: &str,
    invited_by: Option<Uuid>,
    expire_days: u32,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO public.tenant_invites (id, tenant_id, email, token_hash, role, status, invited_by_user_id, expires_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, now() + make_interval(days => $7)) \
         ON CONFLICT (tenant_id, email) WHERE status = 'pending' DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(tenant_id)
    .bind(email)
    .bind(token_hash)
    .bind(role)
    .bind(invited_by)
    .bind(i32::try_from(expire_days).unwrap_or(i32::MAX))
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Cancels the pending invite of (tenant, email); none pending is fine.
pub async fn cancel_pending(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    email: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE public.tenant_invites SET status = 'cancelled', cancelled_at = now() \
         WHERE tenant_id = $1 AND email = $2 AND status = 'pending'",
    )
    .bind(tenant_id)
    .bind(email)
    .execute(conn)
    .await?
    .rows_affected())
}

/// The id of the email queued under `dedupe_key`, if any.
pub async fn email_by_dedupe(
    conn: &mut PgConnection,
    dedupe_key: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    let row: Option<(Uuid,)> =
        sqlx::query_as("SELECT id FROM public.email_outbox WHERE dedupe_key = $1")
            .bind(dedupe_key)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|r| r.0))
}
