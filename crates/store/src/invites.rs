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

/// An invite as the API shows it; a pending invite past its expiry reads `expired`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InviteRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub role: String,
    pub status: String,
    pub created_at: time::OffsetDateTime,
    pub expires_at: time::OffsetDateTime,
    pub invited_by_user_id: Option<Uuid>,
}

const INVITE: &str = "SELECT id, tenant_id, email, role, \
    CASE WHEN status = 'pending' AND expires_at <= now() THEN 'expired' ELSE status END AS status, \
    created_at, expires_at, invited_by_user_id FROM public.tenant_invites";

/// Inserts a pending invite; a unique violation means a concurrent one for (tenant, email) won.
pub async fn insert_pending(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    email: &str,
    role: &str,
    token_hash: &str,
    invited_by: Uuid,
    expire_days: u32,
) -> Result<InviteRow, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO public.tenant_invites (id, tenant_id, email, token_hash, role, status, invited_by_user_id, expires_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, now() + make_interval(days => $7))",
    )
    .bind(id)
    .bind(tenant_id)
    .bind(email)
    .bind(token_hash)
    .bind(role)
    .bind(invited_by)
    .bind(i32::try_from(expire_days).unwrap_or(i32::MAX))
    .execute(&mut *conn)
    .await?;
    sqlx::query_as::<_, InviteRow>(&format!("{INVITE} WHERE id = $1"))
        .bind(id)
        .fetch_one(conn)
        .await
}

pub async fn by_id(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<InviteRow>, sqlx::Error> {
    sqlx::query_as::<_, InviteRow>(&format!("{INVITE} WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Invites of a tenant by reported status (`None` = all), newest first, strictly after `after`.
pub async fn list(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    status: Option<&str>,
    after: Option<(time::OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<InviteRow>, sqlx::Error> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as::<_, InviteRow>(&format!(
        "SELECT * FROM ({INVITE} WHERE tenant_id = $1) i \
         WHERE ($2::text IS NULL OR i.status = $2) \
           AND ($3::timestamptz IS NULL OR (i.created_at, i.id) < ($3, $4)) \
         ORDER BY i.created_at DESC, i.id DESC LIMIT $5"
    ))
    .bind(tenant_id)
    .bind(status)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Cancels one pending invite (compare-and-set); `false` when it was no longer pending.
pub async fn cancel(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE public.tenant_invites SET status = 'cancelled', cancelled_at = now() \
         WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
    )
    .bind(tenant_id)
    .bind(id)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// What the public invite endpoints need: the invite and its tenant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InviteByToken {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub role: String,
    pub live: bool,
    pub expires_at: time::OffsetDateTime,
    pub tenant_name: String,
    pub tenant_slug: String,
    pub tenant_usable: bool,
}

pub async fn by_token_hash(
    conn: &mut PgConnection,
    token_hash: &str,
) -> Result<Option<InviteByToken>, sqlx::Error> {
    sqlx::query_as::<_, InviteByToken>(
        "SELECT i.id, i.tenant_id, i.email, i.role, (i.status = 'pending' AND i.expires_at > now()) AS live, \
                i.expires_at, t.name AS tenant_name, t.slug AS tenant_slug, \
                (t.deleted_at IS NULL AND t.is_active AND t.status = 'ready') AS tenant_usable \
         FROM public.tenant_invites i JOIN public.tenants t ON t.id = i.tenant_id WHERE i.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await
}

/// Accepts a pending, unexpired invite (compare-and-set): of concurrent accepts exactly one wins. The
/// acceptor is recorded separately, since a new account's row is written after this.
pub async fn accept(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE public.tenant_invites SET status = 'accepted', accepted_at = now() \
         WHERE id = $1 AND status = 'pending' AND expires_at > now()",
    )
    .bind(id)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

pub async fn record_acceptor(
    conn: &mut PgConnection,
    id: Uuid,
    user_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE public.tenant_invites SET accepted_by_user_id = $2 WHERE id = $1")
        .bind(id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}
