//! Retention (data-model.md §6), applied by the TokenCleanup workflow (workflows.md §4.5).
//!
//! Every purge works in batches of [`BATCH`] rows, one statement (so one transaction) per batch, against a
//! cutoff the caller computes once per run: a batch loop against `now()` would chase a moving target, and
//! a re-run with the same cutoff finds nothing more than was due. Batches lock their rows with
//! `SKIP LOCKED`, so two runs at once share the work instead of waiting on each other.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// Rows per purge transaction.
pub const BATCH: i64 = 1000;
/// Registration tenants examined per reaper batch.
pub const REAP_BATCH: i64 = 100;

/// One retention rule with its fixed cutoff. Each variant is one batched statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// Families revoked, absolutely expired or idle-expired before the cutoff (their tokens cascade).
    RefreshFamilies { before: OffsetDateTime },
    /// Verification tokens used or expired before the cutoff.
    EmailVerificationTokens { before: OffsetDateTime },
    /// Password reset tokens used or expired before the cutoff.
    PasswordResetTokens { before: OffsetDateTime },
    /// Pending invites past `expires_at` at `now` become `expired` (an update, not a delete).
    ExpireInvites { now: OffsetDateTime },
    /// Non-pending invites created before the cutoff.
    DeleteInvites { before: OffsetDateTime },
    /// Idempotency records whose `expires_at` passed by `now`.
    IdempotencyKeys { now: OffsetDateTime },
    /// Start requests dispatched before the cutoff; undispatched rows are kept whatever their age, since
    /// the relay still owes them a start.
    StartRequests { before: OffsetDateTime },
    /// Settled (sent or failed) emails created before the cutoff; a message still being delivered is kept.
    Emails { before: OffsetDateTime },
    /// Audit rows created before the cutoff.
    AuditLogs { before: OffsetDateTime },
}

impl Purge {
    /// The statement of one batch: `$1` is the cutoff, `$2` the batch size.
    fn sql(&self) -> &'static str {
        match self {
            Self::RefreshFamilies { .. } => {
                "DELETE FROM public.refresh_token_families WHERE id IN ( \
                   SELECT id FROM public.refresh_token_families \
                   WHERE revoked_at < $1 OR expires_at < $1 OR idle_expires_at < $1 \
                   LIMIT $2 FOR UPDATE SKIP LOCKED)"
            }
            Self::EmailVerificationTokens { .. } => {
                "DELETE FROM public.email_verification_tokens WHERE id IN ( \
                   SELECT id FROM public.email_verification_tokens \
                   WHERE used_at < $1 OR expires_at < $1 \
                   LIMIT $2 FOR UPDATE SKIP LOCKED)"
            }
            Self::PasswordResetTokens { .. } => {
                "DELETE FROM public.password_reset_tokens WHERE id IN ( \
                   SELECT id FROM public.password_reset_tokens \
                   WHERE used_at < $1 OR expires_at < $1 \
                   LIMIT $2 FOR UPDATE SKIP LOCKED)"
            }
            // The status guard is repeated in the outer statement: an invite accepted after the inner
            // select saw it (READ COMMITTED re-checks the outer WHERE on the locked row) stays accepted.
            Self::ExpireInvites { .. } => {
                "UPDATE public.tenant_invites SET status = 'expired' \
                 WHERE status = 'pending' AND id IN ( \
                   SELECT id FROM public.tenant_invites \
                   WHERE status = 'pending' AND expires_at < $1 \
                   LIMIT $2 FOR UPDATE SKIP LOCKED)"
            }
            Self::DeleteInvites { .. } => {
                "DELETE FROM public.tenant_invites WHERE id IN ( \
                   SELECT id FROM public.tenant_invites \
                   WHERE status <> 'pending' AND created_at < $1 \
                   LIMIT $2 FOR UPDATE SKIP LOCKED)"
            }
            // The table's key is (scope, key); there is no id column.
            Self::IdempotencyKeys { .. } => {
                "DELETE FROM public.idempotency_keys WHERE (scope, key) IN ( \
                   SELECT scope, key FROM public.idempotency_keys \
                   WHERE expires_at < $1 \
                   LIMIT $2 FOR UPDATE SKIP LOCKED)"
            }
            Self::StartRequests { .. } => {
                "DELETE FROM public.workflow_start_requests WHERE id IN ( \
                   SELECT id FROM public.workflow_start_requests \
                   WHERE dispatched_at < $1 \
                   LIMIT $2 FOR UPDATE SKIP LOCKED)"
            }
            Self::Emails { .. } => {
                "DELETE FROM public.email_outbox WHERE id IN ( \
                   SELECT id FROM public.email_outbox \
                   WHERE created_at < $1 AND (sent_at IS NOT NULL OR failed_at IS NOT NULL) \
                   LIMIT $2 FOR UPDATE SKIP LOCKED)"
            }
            Self::AuditLogs { .. } => {
                "DELETE FROM public.audit_logs WHERE id IN ( \
                   SELECT id FROM public.audit_logs \
                   WHERE created_at < $1 \
                   LIMIT $2 FOR UPDATE SKIP LOCKED)"
            }
        }
    }

    fn cutoff(&self) -> OffsetDateTime {
        match *self {
            Self::RefreshFamilies { before }
            | Self::EmailVerificationTokens { before }
            | Self::PasswordResetTokens { before }
            | Self::DeleteInvites { before }
            | Self::StartRequests { before }
            | Self::Emails { before }
            | Self::AuditLogs { before } => before,
            Self::ExpireInvites { now } | Self::IdempotencyKeys { now } => now,
        }
    }
}

/// Applies one batch of `purge` (at most `limit` rows) and returns how many rows it deleted or updated.
/// Callers repeat until a batch comes back shorter than `limit`.
pub async fn purge_batch(
    conn: &mut PgConnection,
    purge: Purge,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(purge.sql())
        .bind(purge.cutoff())
        .bind(limit)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(done)
}

/// The rule of the registration reaper (workflows.md §4.5), shared by the selection and the
/// compare-and-set so a tenant claimed or deleted in between is left alone.
const UNCLAIMED: &str = "origin = 'registration' AND claimed_at IS NULL AND deleted_at IS NULL \
                         AND status IN ('ready', 'failed') AND created_at < $1";

/// Up to `limit` registration tenants created before `before` that nobody claimed, oldest first.
pub async fn unclaimed_registrations(
    conn: &mut PgConnection,
    before: OffsetDateTime,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(&format!(
        "SELECT id FROM public.tenants WHERE {UNCLAIMED} ORDER BY created_at, id LIMIT $2"
    ))
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Compare-and-set of one unclaimed registration tenant to `deleting` (soft delete). `false` when it no
/// longer qualifies (claimed, deleted or reaped meanwhile). Run it in the transaction that also requests
/// the deletion workflow, so the two commit together.
pub async fn mark_registration_reaped(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    before: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(&format!(
        "UPDATE public.tenants SET status = 'deleting', deleted_at = now(), is_active = false, \
           updated_at = now() \
         WHERE id = $2 AND {UNCLAIMED}"
    ))
    .bind(before)
    .bind(tenant_id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated == 1)
}
