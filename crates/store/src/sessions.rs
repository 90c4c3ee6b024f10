//! Sessions = refresh-token families (data-model.md §2.4).

use std::net::IpAddr;

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct NewFamily<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub idle_expires_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub user_agent: Option<&'a str>,
    pub ip: Option<IpAddr>,
}

pub async fn insert_family(conn: &mut PgConnection, f: &NewFamily<'_>) -> Result<(), sqlx::Error> {
    let ip = f.ip.map(sqlx::types::ipnetwork::IpNetwork::from);
    sqlx::query(
        "INSERT INTO public.refresh_token_families \
           (id, user_id, tenant_id, idle_expires_at, expires_at, user_agent, created_ip, last_ip) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(f.id)
    .bind(f.user_id)
    .bind(f.tenant_id)
    .bind(f.idle_expires_at)
    .bind(f.expires_at)
    .bind(
        f.user_agent
            .map(|u| u.chars().take(500).collect::<String>()),
    )
    .bind(ip)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the session exists and is not revoked (access tokens die with their family at once).
pub async fn is_live(
    conn: &mut PgConnection,
    sid: Uuid,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let row: Option<(i32,)> = sqlx::query_as(
        "SELECT 1 FROM public.refresh_token_families WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(sid)
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Revokes every live family of a tenant; returns how many.
pub async fn revoke_tenant(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE public.refresh_token_families SET revoked_at = now(), revoked_reason = $2 \
         WHERE tenant_id = $1 AND revoked_at IS NULL",
    )
    .bind(tenant_id)
    .bind(reason)
    .execute(conn)
    .await?
    .rows_affected())
}

/// The caller's membership in a tenant: `(role, is_active)`.
pub async fn membership(
    conn: &mut PgConnection,
    user_id: Uuid,
    tenant_id: Uuid,
) -> Result<Option<(String, bool)>, sqlx::Error> {
    sqlx::query_as("SELECT role, is_active FROM public.user_tenant_membership WHERE user_id = $1 AND tenant_id = $2")
        .bind(user_id)
        .bind(tenant_id)
        .fetch_optional(conn)
        .await
}

/// Revokes one family unless already revoked; returns whether this call revoked it.
pub async fn revoke(conn: &mut PgConnection, id: Uuid, reason: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE public.refresh_token_families SET revoked_at = now(), revoked_reason = $2 \
         WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(reason)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Revokes every live family of a user, except `keep`; returns how many.
pub async fn revoke_user(
    conn: &mut PgConnection,
    user_id: Uuid,
    reason: &str,
    keep: Option<Uuid>,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE public.refresh_token_families SET revoked_at = now(), revoked_reason = $2 \
         WHERE user_id = $1 AND revoked_at IS NULL AND ($3::uuid IS NULL OR id <> $3)",
    )
    .bind(user_id)
    .bind(reason)
    .bind(keep)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Revokes a user's active (unrevoked, unexpired) session by id; returns its tenant when it did.
pub async fn revoke_owned(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    reason: &str,
) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    let row: Option<(Option<Uuid>,)> = sqlx::query_as(
        "UPDATE public.refresh_token_families SET revoked_at = now(), revoked_reason = $3 \
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now() \
           AND idle_expires_at > now() RETURNING tenant_id",
    )
    .bind(id)
    .bind(user_id)
    .bind(reason)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.0))
}

/// A session as its owner lists it (api.md §3 SessionRead).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub tenant_slug: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub user_agent: Option<String>,
    pub last_ip: Option<sqlx::types::ipnetwork::IpNetwork>,
}

/// Active sessions of a user, newest first, strictly after `after` (keyset), at most `limit` rows.
pub async fn list_active(
    conn: &mut PgConnection,
    user_id: Uuid,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as::<_, SessionRow>(
        "SELECT f.id, f.tenant_id, t.slug AS tenant_slug, f.created_at, f.last_used_at, f.expires_at, \
                f.user_agent, f.last_ip \
         FROM public.refresh_token_families f LEFT JOIN public.tenants t ON t.id = f.tenant_id \
         WHERE f.user_id = $1 AND f.revoked_at IS NULL AND f.expires_at > now() AND f.idle_expires_at > now() \
           AND ($2::timestamptz IS NULL OR (f.created_at, f.id) < ($2, $3)) \
         ORDER BY f.created_at DESC, f.id DESC LIMIT $4",
    )
    .bind(user_id)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Revokes every live family of a user in one tenant (member deactivated or removed).
pub async fn revoke_user_in_tenant(
    conn: &mut PgConnection,
    user_id: Uuid,
    tenant_id: Uuid,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE public.refresh_token_families SET revoked_at = now(), revoked_reason = $3 \
         WHERE user_id = $1 AND tenant_id = $2 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(tenant_id)
    .bind(reason)
    .execute(conn)
    .await?
    .rows_affected())
}
