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
    sqlx::query(
        "UPDATE public.email_verification_tokens SET used_at = now() WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
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
