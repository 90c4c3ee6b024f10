//! The transactional outbox of workflow starts (data-model.md §2.9, workflows.md §2): writing start
//! requests beside business changes, and the relay's claim / mark queries.

use serde_json::Value;
use sqlx::{PgConnection, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::Db;

/// A start request as written by a business transaction.
#[derive(Debug, Clone)]
pub struct NewStartRequest<'a> {
    pub workflow_id: &'a str,
    pub workflow_type: &'a str,
    pub task_queue: &'a str,
    /// Ids only; never secrets, passwords or tokens.
    pub input: Value,
}

/// Which entity a tracked workflow is about (`workflow_executions`).
#[derive(Debug, Clone, Copy)]
pub struct Tracked<'a> {
    pub entity_type: &'a str,
    pub entity_id: Uuid,
}

/// Inserts the start request (and the `pending` execution record when tracked), both idempotent on the
/// workflow id, inside the caller's transaction. Returns whether the start request was new.
pub async fn enqueue_start(
    conn: &mut PgConnection,
    request: &NewStartRequest<'_>,
    tracked: Option<Tracked<'_>>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO public.workflow_start_requests (id, workflow_id, workflow_type, task_queue, input) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workflow_id) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(request.workflow_id)
    .bind(request.workflow_type)
    .bind(request.task_queue)
    .bind(&request.input)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if let Some(t) = tracked {
        sqlx::query(
            "INSERT INTO public.workflow_executions (id, workflow_id, workflow_type, entity_type, entity_id, status) \
             VALUES ($1, $2, $3, $4, $5, 'pending') ON CONFLICT (workflow_id) DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(request.workflow_id)
        .bind(request.workflow_type)
        .bind(t.entity_type)
        .bind(t.entity_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(inserted)
}

/// A claimed, due start request. The row stays locked by the transaction that claimed it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedStart {
    pub id: Uuid,
    pub workflow_id: String,
    pub workflow_type: String,
    pub task_queue: String,
    pub input: Value,
    pub attempts: i32,
}

/// Claims the most overdue undispatched row, skipping rows other relays hold.
pub async fn claim_due(
    tx: &mut Transaction<'_, Postgres>,
) -> Result<Option<ClaimedStart>, sqlx::Error> {
    sqlx::query_as::<_, ClaimedStart>(
        "SELECT id, workflow_id, workflow_type, task_queue, input, attempts \
         FROM public.workflow_start_requests \
         WHERE dispatched_at IS NULL AND next_attempt_at <= now() \
         ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(&mut **tx)
    .await
}

/// Temporal accepted the start (or had it already): the row is done, and the execution record moves
/// `pending → running` unless it already reached a later state.
pub async fn mark_dispatched(
    tx: &mut Transaction<'_, Postgres>,
    claimed: &ClaimedStart,
    run_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE public.workflow_start_requests SET dispatched_at = now() WHERE id = $1")
        .bind(claimed.id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE public.workflow_executions \
         SET status = 'running', started_at = coalesce(started_at, now()), run_id = coalesce($2, run_id) \
         WHERE workflow_id = $1 AND status = 'pending'",
    )
    .bind(&claimed.workflow_id)
    .bind(run_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The start failed: count the attempt and push the next one out by `delay`.
pub async fn mark_failed(
    tx: &mut Transaction<'_, Postgres>,
    claimed: &ClaimedStart,
    error: &str,
    delay: std::time::Duration,
) -> Result<(), sqlx::Error> {
    let error: String = error.chars().take(1000).collect();
    sqlx::query(
        "UPDATE public.workflow_start_requests \
         SET attempts = attempts + 1, last_error = $2, \
             next_attempt_at = now() + make_interval(secs => $3) \
         WHERE id = $1",
    )
    .bind(claimed.id)
    .bind(error)
    .bind(delay.as_secs_f64())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxStats {
    pub pending: i64,
    pub oldest_age_seconds: f64,
}

pub async fn stats(db: &Db) -> Result<OutboxStats, sqlx::Error> {
    let mut conn = db.read().await?;
    let row: (i64, Option<OffsetDateTime>) = sqlx::query_as(
        "SELECT count(*), min(created_at) FROM public.workflow_start_requests WHERE dispatched_at IS NULL",
    )
    .fetch_one(&mut *conn)
    .await?;
    let oldest_age_seconds = row
        .1
        .map(|t| (OffsetDateTime::now_utc() - t).as_seconds_f64().max(0.0))
        .unwrap_or(0.0);
    Ok(OutboxStats {
        pending: row.0,
        oldest_age_seconds,
    })
}

/// Whether Temporal has accepted the start of this workflow id (the public provisioning view reports
/// `pending` until then).
pub async fn is_dispatched(
    conn: &mut PgConnection,
    workflow_id: &str,
) -> Result<Option<bool>, sqlx::Error> {
    let row: Option<(Option<OffsetDateTime>,)> = sqlx::query_as(
        "SELECT dispatched_at FROM public.workflow_start_requests WHERE workflow_id = $1",
    )
    .bind(workflow_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.0.is_some()))
}
