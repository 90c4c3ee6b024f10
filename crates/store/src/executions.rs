//! Workflow execution records (data-model.md §2.8): a lifecycle view for superusers, written with
//! compare-and-set transitions.

use sqlx::PgConnection;
use time::OffsetDateTime;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExecutionRow {
    pub workflow_id: String,
    pub workflow_type: String,
    pub status: String,
    pub error_message: Option<String>,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompleteOutcome {
    Written,
    /// Already terminal (or already this status): never overwritten.
    AlreadyFinal,
    Missing,
}

/// Moves a non-terminal record to `completed` or `failed`.
pub async fn complete(
    conn: &mut PgConnection,
    workflow_id: &str,
    status: &str,
    error: Option<&str>,
) -> Result<CompleteOutcome, sqlx::Error> {
    let error: Option<String> = error.map(|e| e.chars().take(1000).collect());
    let updated = sqlx::query(
        "UPDATE public.workflow_executions SET status = $2, error_message = $3, completed_at = now(), \
           started_at = coalesce(started_at, now()) \
         WHERE workflow_id = $1 AND status IN ('pending', 'running')",
    )
    .bind(workflow_id)
    .bind(status)
    .bind(error)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if updated == 1 {
        return Ok(CompleteOutcome::Written);
    }
    let exists: Option<(i32,)> =
        sqlx::query_as("SELECT 1 FROM public.workflow_executions WHERE workflow_id = $1")
            .bind(workflow_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(if exists.is_some() {
        CompleteOutcome::AlreadyFinal
    } else {
        CompleteOutcome::Missing
    })
}

pub async fn by_workflow_id(
    conn: &mut PgConnection,
    workflow_id: &str,
) -> Result<Option<ExecutionRow>, sqlx::Error> {
    sqlx::query_as::<_, ExecutionRow>(
        "SELECT workflow_id, workflow_type, status, error_message, created_at, started_at, completed_at \
         FROM public.workflow_executions WHERE workflow_id = $1",
    )
    .bind(workflow_id)
    .fetch_optional(conn)
    .await
}
