//! Refresh tokens (data-model.md §2.5): rotation inside one transaction that holds the token row and its
//! family, so of N concurrent refreshes of one token exactly one rotates it.

use std::net::IpAddr;

use sqlx::PgConnection;
use uuid::Uuid;

/// A presented token and its family, locked until the transaction ends. Time comparisons are made by the
/// database clock, the same clock that wrote the timestamps.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LockedToken {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub used: bool,
    /// Used, no longer ago than the grace window, and the parent of the family's newest token.
    pub replay_in_grace: bool,
    /// The token itself, its family's idle expiry or its family's absolute expiry has passed.
    pub expired: bool,
    pub family_revoked: bool,
}

/// Finds the token by hash and locks it with its family (`FOR UPDATE`).
pub async fn lock_by_hash(
    conn: &mut PgConnection,
    token_hash: &str,
    grace_seconds: u32,
) -> Result<Option<LockedToken>, sqlx::Error> {
    let locked: Option<(Uuid,)> = sqlx::query_as(
        "SELECT t.id FROM public.refresh_tokens t JOIN public.refresh_token_families f ON f.id = t.family_id \
         WHERE t.token_hash = $1 FOR UPDATE OF t, f",
    )
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id,)) = locked else {
        return Ok(None);
    };
    // A second statement, so its snapshot includes what a concurrent rotation committed while this
    // transaction waited for the lock (the child token that makes this one "the newest's parent").
    sqlx::query_as::<_, LockedToken>(
        "SELECT t.id, t.family_id, f.user_id, f.tenant_id, \
                t.used_at IS NOT NULL AS used, \
                coalesce(t.used_at >= now() - make_interval(secs => $2) \
                  AND t.id = (SELECT n.parent_id FROM public.refresh_tokens n WHERE n.family_id = t.family_id \
                              ORDER BY n.created_at DESC, n.id DESC LIMIT 1), false) AS replay_in_grace, \
                (t.expires_at <= now() OR f.expires_at <= now() OR f.idle_expires_at <= now()) AS expired, \
                f.revoked_at IS NOT NULL AS family_revoked \
         FROM public.refresh_tokens t JOIN public.refresh_token_families f ON f.id = t.family_id \
         WHERE t.id = $1",
    )
    .bind(id)
    .bind(f64::from(grace_seconds))
    .fetch_optional(conn)
    .await
}

/// Marks the token used; `false` when it already was.
pub async fn mark_used(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE public.refresh_tokens SET used_at = now() WHERE id = $1 AND used_at IS NULL",
    )
    .bind(id)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Inserts a token of `family_id` expiring after `days` (never after the family) and slides the family's
/// idle expiry to it.
pub async fn issue(
    conn: &mut PgConnection,
    family_id: Uuid,
    parent_id: Option<Uuid>,
    token_hash: &str,
    days: u32,
    ip: Option<IpAddr>,
) -> Result<(), sqlx::Error> {
    let ip = ip.map(sqlx::types::ipnetwork::IpNetwork::from);
    sqlx::query(
        "WITH fam AS ( \
           UPDATE public.refresh_token_families \
              SET idle_expires_at = least(now() + make_interval(days => $5), expires_at), \
                  last_used_at = now(), last_ip = coalesce($6, last_ip) \
            WHERE id = $2 RETURNING idle_expires_at) \
         INSERT INTO public.refresh_tokens (id, family_id, parent_id, token_hash, expires_at) \
         SELECT $1, $2, $3, $4, idle_expires_at FROM fam",
    )
    .bind(Uuid::now_v7())
    .bind(family_id)
    .bind(parent_id)
    .bind(token_hash)
    .bind(i32::try_from(days).unwrap_or(i32::MAX))
    .bind(ip)
    .execute(conn)
    .await?;
    Ok(())
}

/// The family of a token and its tenant, without locking (logout).
pub async fn family_of(
    conn: &mut PgConnection,
    token_hash: &str,
) -> Result<Option<(Uuid, Uuid, Option<Uuid>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT f.id, f.user_id, f.tenant_id FROM public.refresh_tokens t \
         JOIN public.refresh_token_families f ON f.id = t.family_id WHERE t.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await
}
