//! One-time tokens (data-model.md §2.6): only SHA-256 hashes are stored.

use sqlx::PgConnection;
use uuid::Uuid;

/// Issues a verification token, invalidating the user's unused ones in the same transaction.
pub async fn issue_verification(
    conn: &mut PgConnection,
    user_id: Uuid,
    token_hash: &str,
    ttl_hours: u32,
) -> Result<(), sqlx::Error> {
    invalidate(conn, OneTime::Verification, user_id).await?;
    sqlx::query(
        "INSERT INTO public.email_verification_tokens (id, user_id, token_hash, expires_at) \
         VALUES ($1, $2, $3, now() + make_interval(hours => $4))",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(token_hash)
    .bind(i32::try_from(ttl_hours).unwrap_or(i32::MAX))
    .execute(conn)
    .await?;
    Ok(())
}

/// The two one-time token tables share one shape (data-model.md §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneTime {
    Verification,
    Reset,
}

impl OneTime {
    fn table(self) -> &'static str {
        match self {
            Self::Verification => "public.email_verification_tokens",
            Self::Reset => "public.password_reset_tokens",
        }
    }
}

/// Consumes a live token (compare-and-set: exactly one concurrent caller wins); returns its user.
pub async fn consume(
    conn: &mut PgConnection,
    kind: OneTime,
    token_hash: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    let row: Option<(Uuid,)> = sqlx::query_as(&format!(
        "UPDATE {} SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() \
         RETURNING user_id",
        kind.table()
    ))
    .bind(token_hash)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.0))
}

/// Marks a user's unused tokens of `kind` used (a new token replaces them, or a reset made them moot).
pub async fn invalidate(
    conn: &mut PgConnection,
    kind: OneTime,
    user_id: Uuid,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(&format!(
        "UPDATE {} SET used_at = now() WHERE user_id = $1 AND used_at IS NULL",
        kind.table()
    ))
    .bind(user_id)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Issues a reset token, invalidating the user's unused ones in the same transaction.
pub async fn issue_reset(
    conn: &mut PgConnection,
    user_id: Uuid,
    token_hash: &str,
    ttl_minutes: u32,
    ip: Option<std::net::IpAddr>,
) -> Result<(), sqlx::Error> {
    invalidate(conn, OneTime::Reset, user_id).await?;
    sqlx::query(
        "INSERT INTO public.password_reset_tokens (id, user_id, token_hash, expires_at, requested_ip) \
         VALUES ($1, $2, $3, now() + make_interval(mins => $4), $5)",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(token_hash)
    .bind(i32::try_from(ttl_minutes).unwrap_or(i32::MAX))
    .bind(ip.map(sqlx::types::ipnetwork::IpNetwork::from))
    .execute(conn)
    .await?;
    Ok(())
}

/// The user of a live token, without consuming it.
pub async fn peek(
    conn: &mut PgConnection,
    kind: OneTime,
    token_hash: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    let row: Option<(Uuid,)> = sqlx::query_as(&format!(
        "SELECT user_id FROM {} WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()",
        kind.table()
    ))
    .bind(token_hash)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.0))
}
