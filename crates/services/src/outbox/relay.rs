//! The outbox relay (workflows.md §2): claims due start requests with `FOR UPDATE SKIP LOCKED`, starts
//! them, and records the outcome in the same transaction. Any number of relays may run.

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt as _;
use sqlx::postgres::PgListener;
use tenantry_store::{Db, outbox};
use tokio_util::sync::CancellationToken;

use super::{StartError, StartOutcome, StartRequest, WorkflowStarter};

#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// How long one start RPC may take before it counts as failed.
    pub start_timeout: Duration,
    /// The relay polls at least this often even without notifications.
    pub poll_interval: Duration,
    /// Upper bound of the retry backoff.
    pub max_backoff: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            start_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

pub struct Relay {
    db: Db,
    starter: Arc<dyn WorkflowStarter>,
    options: RelayOptions,
}

/// `min(max, 2^attempts s)` with ±20 % jitter, so relays retrying one outage do not stampede together.
fn backoff(attempts: i32, max: Duration) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 30)).unwrap_or(30);
    let base = Duration::from_secs(1u64 << exp).min(max);
    let jitter = rand::rng().random_range(0.8..=1.2);
    base.mul_f64(jitter)
}

impl Relay {
    pub fn new(db: Db, starter: Arc<dyn WorkflowStarter>, options: RelayOptions) -> Self {
        Self {
            db,
            starter,
            options,
        }
    }

    /// Runs until `shutdown` is cancelled. A row being dispatched when it is cancelled is either committed
    /// or rolled back; either way it is started exactly once in the end.
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut listener = self.listen().await;
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match self.dispatch_due().await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox relay pass failed"),
            }
            self.update_gauges().await;
            let wait = tokio::time::sleep(self.options.poll_interval);
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = wait => {}
                notified = recv(&mut listener) => {
                    if !notified {
                        // The listener broke (database restart); reconnect on the next turn.
                        listener = None;
                    }
                }
            }
            if listener.is_none() {
                listener = self.listen().await;
            }
        }
    }

    /// LISTEN needs a session: the session pool (PostgreSQL itself behind a transaction-mode pooler).
    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(self.db.session_pool())
            .await
            .ok()?;
        listener.listen("tenantry_outbox").await.ok()?;
        Some(listener)
    }

    /// Dispatches every due row; returns how many were handled (started or failed).
    pub async fn dispatch_due(&self) -> Result<usize, sqlx::Error> {
        let mut handled = 0;
        while self.dispatch_one().await? {
            handled += 1;
        }
        Ok(handled)
    }

    /// Claims and dispatches one due row; `false` when none is due.
    pub async fn dispatch_one(&self) -> Result<bool, sqlx::Error> {
        let mut tx = self.db.begin().await?;
        let Some(claimed) = outbox::claim_due(&mut tx).await? else {
            tx.rollback().await?;
            return Ok(false);
        };
        let request = StartRequest {
            workflow_id: claimed.workflow_id.clone(),
            workflow_type: claimed.workflow_type.clone(),
            task_queue: claimed.task_queue.clone(),
            input: claimed.input.clone(),
        };
        let outcome =
            match tokio::time::timeout(self.options.start_timeout, self.starter.start(&request))
                .await
            {
                Ok(result) => result,
                Err(_) => Err(StartError::Unavailable("start timed out".to_owned())),
            };
        match outcome {
            Ok(outcome) => {
                let (result, run_id) = match &outcome {
                    StartOutcome::Started { run_id } => ("started", Some(run_id.as_str())),
                    StartOutcome::AlreadyStarted { run_id } => {
                        ("already_started", run_id.as_deref())
                    }
                };
                outbox::mark_dispatched(&mut tx, &claimed, run_id).await?;
                tx.commit().await?;
                metrics::counter!("tenantry_outbox_dispatch_total", "result" => result)
                    .increment(1);
                tracing::info!(workflow_id = %claimed.workflow_id, result, "workflow start dispatched");
            }
            Err(e) => {
                let delay = backoff(claimed.attempts + 1, self.options.max_backoff);
                outbox::mark_failed(&mut tx, &claimed, &e.to_string(), delay).await?;
                tx.commit().await?;
                metrics::counter!("tenantry_outbox_dispatch_total", "result" => "error")
                    .increment(1);
                match e {
                    StartError::Rejected(_) => {
                        tracing::error!(workflow_id = %claimed.workflow_id, error = %e, "workflow start rejected")
                    }
                    StartError::Unavailable(_) => {
                        tracing::warn!(workflow_id = %claimed.workflow_id, error = %e, retry_in = ?delay, "workflow start failed")
                    }
                }
            }
        }
        Ok(true)
    }

    async fn update_gauges(&self) {
        if let Ok(stats) = outbox::stats(&self.db).await {
            metrics::gauge!("tenantry_outbox_pending").set(stats.pending as f64);
            metrics::gauge!("tenantry_outbox_oldest_age_seconds").set(stats.oldest_age_seconds);
        }
    }
}

/// Waits for one notification; `false` when there is no listener or it failed.
async fn recv(listener: &mut Option<PgListener>) -> bool {
    match listener {
        Some(l) => l.recv().await.is_ok(),
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_bounded_jitter() {
        let max = Duration::from_secs(60);
        for attempts in 1..40 {
            let d = backoff(attempts, max);
            let base = Duration::from_secs(1u64 << attempts.min(30)).min(max);
            assert!(
                d >= base.mul_f64(0.79) && d <= base.mul_f64(1.21),
                "{attempts}: {d:?}"
            );
        }
    }
}
