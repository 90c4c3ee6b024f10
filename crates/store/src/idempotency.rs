//! Idempotency keys (data-model.md §2.11, api.md §0.6).
//!
//! A row is claimed `in_progress` (committed before the handler runs), then either completed with the
//! stored response or deleted so a retry runs again. The `locked_until` value returned by a claim is the
//! claimant's ownership token: completing, releasing and taking over are compare-and-set on it, so a
//! request whose row was taken over after its lock lapsed can no longer write to it. Every statement
//! here runs on its own (autocommit); none of them should be called inside a longer transaction.

use serde_json::Value;
use sqlx::PgConnection;
use time::OffsetDateTime;

/// What a claim holds on to: the row's `locked_until` when it was claimed.
pub type LockToken = OffsetDateTime;

/// An existing row, with its clocks already compared to the database's `now()`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IdempotencyRow {
    pub fingerprint: String,
    /// `in_progress` or `completed`.
    pub state: String,
    pub locked_until: OffsetDateTime,
    /// `locked_until` is still in the future.
    pub locked: bool,
    /// `expires_at` has passed: the row counts as absent.
    pub expired: bool,
    pub response_status: Option<i32>,
    pub response_headers: Option<Value>,
    pub response_body: Option<Vec<u8>>,
}

impl IdempotencyRow {
    pub fn is_completed(&self) -> bool {
        self.state == "completed"
    }
}

fn secs(lock_secs: u32) -> f64 {
    f64::from(lock_secs)
}

fn hours(ttl_hours: u32) -> i32 {
    i32::try_from(ttl_hours).unwrap_or(i32::MAX)
}

/// Claims `(scope, key)` as `in_progress` for `lock_secs`, expiring after `ttl_hours`. `None` when a row
/// already exists (`ON CONFLICT DO NOTHING`); otherwise the claim's token.
pub async fn claim(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    fingerprint: &str,
    lock_secs: u32,
    ttl_hours: u32,
) -> Result<Option<LockToken>, sqlx::Error> {
    sqlx::query_scalar::<_, OffsetDateTime>(
        "INSERT INTO public.idempotency_keys (scope, key, fingerprint, state, locked_until, expires_at) \
         VALUES ($1, $2, $3, 'in_progress', now() + make_interval(secs => $4::float8), \
                 now() + make_interval(hours => $5)) \
         ON CONFLICT (scope, key) DO NOTHING \
         RETURNING locked_until",
    )
    .bind(scope)
    .bind(key)
    .bind(fingerprint)
    .bind(secs(lock_secs))
    .bind(hours(ttl_hours))
    .fetch_optional(conn)
    .await
}

/// The row of `(scope, key)`, if any.
pub async fn find(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
) -> Result<Option<IdempotencyRow>, sqlx::Error> {
    sqlx::query_as::<_, IdempotencyRow>(
        "SELECT fingerprint, state, locked_until, locked_until > now() AS locked, \
                expires_at <= now() AS expired, response_status, response_headers, response_body \
         FROM public.idempotency_keys WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(conn)
    .await
}

/// Deletes `(scope, key)` if it has expired, so the key can be claimed afresh. True when a row went.
pub async fn delete_expired(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM public.idempotency_keys \
         WHERE scope = $1 AND key = $2 AND expires_at <= now()",
    )
    .bind(scope)
    .bind(key)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes over an `in_progress` row whose lock has lapsed (its request crashed), compare-and-set on the
/// token read with [`find`]. `None` when someone else took it, completed it or released it first.
pub async fn take_over(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    fingerprint: &str,
    seen: LockToken,
    lock_secs: u32,
) -> Result<Option<LockToken>, sqlx::Error> {
    sqlx::query_scalar::<_, OffsetDateTime>(
        "UPDATE public.idempotency_keys \
         SET locked_until = now() + make_interval(secs => $5::float8) \
         WHERE scope = $1 AND key = $2 AND fingerprint = $3 AND state = 'in_progress' \
           AND locked_until = $4 AND locked_until <= now() AND expires_at > now() \
         RETURNING locked_until",
    )
    .bind(scope)
    .bind(key)
    .bind(fingerprint)
    .bind(seen)
    .bind(secs(lock_secs))
    .fetch_optional(conn)
    .await
}

/// The response a claimant stores.
#[derive(Debug, Clone)]
pub struct StoredResponse<'a> {
    pub status: i32,
    /// A JSON object of lower-case header name to value.
    pub headers: &'a Value,
    pub body: &'a [u8],
}

/// Stores the response and marks the row `completed`. False when the claim was lost (taken over).
pub async fn complete(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    token: LockToken,
    response: &StoredResponse<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE public.idempotency_keys \
         SET state = 'completed', response_status = $4, response_headers = $5, response_body = $6 \
         WHERE scope = $1 AND key = $2 AND state = 'in_progress' AND locked_until = $3",
    )
    .bind(scope)
    .bind(key)
    .bind(token)
    .bind(response.status)
    .bind(response.headers)
    .bind(response.body)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the claimant's `in_progress` row so a retry runs again. False when the claim was lost.
pub async fn release(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    token: LockToken,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM public.idempotency_keys \
         WHERE scope = $1 AND key = $2 AND state = 'in_progress' AND locked_until = $3",
    )
    .bind(scope)
    .bind(key)
    .bind(token)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Retention (data-model.md §6): deletes up to `batch` rows whose `expires_at` has passed, oldest first.
/// Returns how many went; a short batch means nothing is left.
pub async fn purge_expired(conn: &mut PgConnection, batch: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM public.idempotency_keys WHERE (scope, key) IN ( \
             SELECT scope, key FROM public.idempotency_keys WHERE expires_at <= now() \
             ORDER BY expires_at LIMIT $1)",
    )
    .bind(batch)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
