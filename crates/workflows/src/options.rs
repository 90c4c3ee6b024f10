//! Activity option presets. The contract's retry intervals apply in production; tests shorten them
//! through settings because the dev server has no time skipping.

use std::sync::OnceLock;
use std::time::Duration;

use temporalio_common::RetryPolicy;
use temporalio_sdk::{ActivityCloseTimeouts, ActivityOptions, WorkflowCancellationToken};

#[derive(Debug, Clone, Copy)]
pub struct RetryTuning {
    pub initial: Duration,
    pub maximum: Duration,
}

impl Default for RetryTuning {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            maximum: Duration::from_secs(30),
        }
    }
}

static TUNING: OnceLock<RetryTuning> = OnceLock::new();

/// Set once at worker start, before any workflow runs, so every replay in this process sees the same
/// values.
pub fn set_tuning(tuning: RetryTuning) {
    let _ = TUNING.set(tuning);
}

fn tuning() -> RetryTuning {
    TUNING.get().copied().unwrap_or_default()
}

fn policy(max_attempts: u32, maximum: Duration) -> RetryPolicy {
    let t = tuning();
    RetryPolicy::builder()
        .initial_interval(t.initial)
        .backoff_coefficient(2.0)
        .maximum_interval(maximum.max(t.initial))
        .maximum_attempts(max_attempts)
        .build()
}

/// A step: bounded by `start_to_close`, retried up to `max_attempts` (0 = without limit).
pub fn step(start_to_close: Duration, max_attempts: u32) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(start_to_close)
        .retry_policy(policy(max_attempts, tuning().maximum))
        .build()
}

/// A long step that heartbeats, so a dead worker is noticed after `heartbeat` instead of `start_to_close`.
pub fn heartbeating_step(
    start_to_close: Duration,
    heartbeat: Duration,
    max_attempts: u32,
) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(start_to_close)
        .heartbeat_timeout(heartbeat)
        .retry_policy(policy(max_attempts, tuning().maximum))
        .build()
}

/// Forward-only steps (deletion) retry without limit, backing off to `maximum`.
pub fn unlimited_step(start_to_close: Duration, maximum: Duration) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(start_to_close)
        .retry_policy(policy(0, maximum.min(scale(maximum))))
        .build()
}

/// Compensations run even when the workflow is being cancelled: they get a detached cancellation token.
pub fn compensation(start_to_close: Duration) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(start_to_close)
        .retry_policy(policy(
            20,
            Duration::from_secs(60).min(scale(Duration::from_secs(60))),
        ))
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}

/// Long maximum intervals shrink in proportion when tests shorten the base interval.
fn scale(d: Duration) -> Duration {
    let t = tuning();
    let factor = t.initial.as_secs_f64() / RetryTuning::default().initial.as_secs_f64();
    d.mul_f64(factor.min(1.0))
}

/// `send_email`: 30 s per attempt, 10 attempts, never longer than a day in all.
pub fn send_email() -> ActivityOptions {
    ActivityOptions::with_close_timeouts(ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: Duration::from_secs(24 * 3600),
        start_to_close: Duration::from_secs(30),
    })
    .retry_policy(policy(10, tuning().maximum))
    .build()
}
