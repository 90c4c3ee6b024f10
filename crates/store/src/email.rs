//! The email outbox (data-model.md §2.10): rows written by business transactions, delivered by the
//! `send_email` activity, readable through the development mailbox.

use sqlx::{PgConnection, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

/// A message to queue. `action_token` is stored only when the caller passes it (development/test).
#[derive(Debug, Clone)]
pub struct NewEmail<'a> {
    pub id: Uuid,
    pub kind: &'a str,
    pub to_email: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: &'a str,
    pub action_url: Option<&'a str>,
    pub action_token: Option<&'a str>,
    pub dedupe_key: Option<&'a str>,
    pub user_id: Option<Uuid>,
    pub tenant_id: Option<Uuid>,
}

/// Inserts the message unless its dedupe key exists; returns the id of the stored message either way.
pub async fn enqueue(conn: &mut PgConnection, email: &NewEmail<'_>) -> Result<Uuid, sqlx::Error> {
    let inserted: Option<(Uuid,)> = sqlx::query_as(
        "INSERT INTO public.email_outbox \
           (id, kind, to_email, subject, body_text, body_html, action_url, action_token, dedupe_key, user_id, tenant_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
    )
    .bind(email.id)
    .bind(email.kind)
    .bind(email.to_email)
    .bind(email.subject)
    .bind(email.body_text)
    .bind(email.body_html)
    .bind(email.action_url)
    .bind(email.action_token)
    .bind(email.dedupe_key)
    .bind(email.user_id)
    .bind(email.tenant_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((id,)) = inserted {
        return Ok(id);
    }
    let (id,): (Uuid,) = sqlx::query_as("SELECT id FROM public.email_outbox WHERE dedupe_key = $1")
        .bind(email.dedupe_key)
        .fetch_one(&mut *conn)
        .await?;
    Ok(id)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutgoingEmail {
    pub id: Uuid,
    pub kind: String,
    pub to_email: String,
    pub subject: String,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub sent_at: Option<OffsetDateTime>,
    pub failed_at: Option<OffsetDateTime>,
}

impl OutgoingEmail {
    pub fn is_settled(&self) -> bool {
        self.sent_at.is_some() || self.failed_at.is_some()
    }
}

/// Locks the message for delivery, so concurrent deliveries of one message serialize on its row.
pub async fn lock_for_delivery(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
) -> Result<Option<OutgoingEmail>, sqlx::Error> {
    sqlx::query_as::<_, OutgoingEmail>(
        "SELECT id, kind, to_email, subject, body_text, body_html, sent_at, failed_at \
         FROM public.email_outbox WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Records the delivery; in production the content (which may hold a live link) is scrubbed in the
/// same statement.
pub async fn mark_sent(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    scrub: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE public.email_outbox SET sent_at = now(), attempts = attempts + 1, \
           body_text = CASE WHEN $2 THEN NULL ELSE body_text END, \
           body_html = CASE WHEN $2 THEN NULL ELSE body_html END, \
           action_url = CASE WHEN $2 THEN NULL ELSE action_url END, \
           scrubbed_at = CASE WHEN $2 THEN now() ELSE scrubbed_at END \
         WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL",
    )
    .bind(id)
    .bind(scrub)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The provider refused the message for good.
pub async fn mark_failed(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    error: &str,
    scrub: bool,
) -> Result<(), sqlx::Error> {
    let error: String = error.chars().take(1000).collect();
    sqlx::query(
        "UPDATE public.email_outbox SET failed_at = now(), attempts = attempts + 1, last_error = $2, \
           body_text = CASE WHEN $3 THEN NULL ELSE body_text END, \
           body_html = CASE WHEN $3 THEN NULL ELSE body_html END, \
           action_url = CASE WHEN $3 THEN NULL ELSE action_url END, \
           scrubbed_at = CASE WHEN $3 THEN now() ELSE scrubbed_at END \
         WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL",
    )
    .bind(id)
    .bind(error)
    .bind(scrub)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Counts a transient delivery failure without settling the message.
pub async fn record_attempt_error(
    conn: &mut PgConnection,
    id: Uuid,
    error: &str,
) -> Result<(), sqlx::Error> {
    let error: String = error.chars().take(1000).collect();
    sqlx::query(
        "UPDATE public.email_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A development mailbox entry (api.md §7).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailboxEntry {
    pub id: Uuid,
    pub to_email: String,
    pub kind: String,
    pub subject: String,
    pub body_text: Option<String>,
    pub action_url: Option<String>,
    pub action_token: Option<String>,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
}

pub async fn mailbox(
    conn: &mut PgConnection,
    to_email: &str,
    limit: i64,
) -> Result<Vec<MailboxEntry>, sqlx::Error> {
    sqlx::query_as::<_, MailboxEntry>(
        "SELECT id, to_email, kind, subject, body_text, action_url, action_token, created_at, sent_at \
         FROM public.email_outbox WHERE to_email = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(to_email)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}
