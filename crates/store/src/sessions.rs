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
