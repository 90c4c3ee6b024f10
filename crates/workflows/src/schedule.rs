//! The TokenCleanup schedule (workflows.md §4.5), ensured by every jobs worker at start: created when
//! missing, updated when its definition differs from this worker's settings, left alone otherwise.
//!
//! "Differs" is decided by a note this code writes into the schedule state, because the server
//! normalises cron strings into calendar specs and a described spec never compares equal to the one sent.
//! The note is written last (after the catch-up window, which the create call cannot carry), so a
//! schedule whose setup was interrupted still differs and the next worker finishes it.

use std::time::Duration;

use temporalio_client::schedules::{
    CreateScheduleOptions, DeleteScheduleOptions, ScheduleAction, ScheduleError, ScheduleHandle,
    ScheduleOverlapPolicy, ScheduleSpec,
};
use temporalio_client::tonic::Code;
use temporalio_client::{Client, RpcOptions};
use tenantry_domain::task_queue::DEFAULT_QUEUE_PREFIX;
use tenantry_domain::{jobs_queue, workflow_ids::TOKEN_CLEANUP_SCHEDULE_ID};
use tenantry_settings::Settings;
use tokio_util::sync::CancellationToken;

use crate::workflows::cleanup::{CleanupInput, TokenCleanup};

/// Runs missed by more than this (server down at the scheduled minute) are skipped, not run late.
pub const CATCHUP_WINDOW: Duration = Duration::from_secs(3600);
/// The note of a schedule created but not yet fully configured: never equal to a desired note.
const SETUP_PENDING: &str = "setup pending";
const RPC_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ScheduleSetupError {
    #[error("temporal schedule call failed: {0}")]
    Temporal(#[from] ScheduleError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnsureOutcome {
    Created,
    Updated,
    Unchanged,
}

/// `tenantry-token-cleanup` for the default queue prefix (the contract's id). Any other prefix gets
/// `<prefix>-token-cleanup`: Temporal schedule ids are namespace-wide, and separate deployments sharing a
/// namespace (every test app runs with a prefix of its own against one server) would otherwise fight
/// over one schedule and point it at each other's queues. For the default prefix both forms coincide.
pub fn schedule_id(settings: &Settings) -> String {
    let prefix = settings.temporal_queue_prefix.as_str();
    if prefix == DEFAULT_QUEUE_PREFIX {
        TOKEN_CLEANUP_SCHEDULE_ID.to_owned()
    } else {
        format!("{prefix}-token-cleanup")
    }
}

/// Everything the schedule's definition depends on, in one comparable string. Bump `v1` when the
/// definition changes in a way the settings do not show, so running schedules get updated.
pub fn desired_note(settings: &Settings) -> String {
    format!(
        "tenantry v1; spec:{}; queue:{}; retention:{}; overlap:skip; catchup:{}s",
        settings.cleanup_schedule,
        jobs_queue(&settings.temporal_queue_prefix),
        settings.cleanup_retention_days,
        CATCHUP_WINDOW.as_secs(),
    )
}

fn spec(settings: &Settings) -> ScheduleSpec {
    // An empty time zone is UTC, as the contract requires.
    ScheduleSpec::builder()
        .cron_strings(vec![settings.cleanup_schedule.clone()])
        .build()
}

fn action(settings: &Settings) -> ScheduleAction {
    ScheduleAction::start_workflow(
        TokenCleanup::run,
        CleanupInput {
            retention_days: settings.cleanup_retention_days,
        },
        jobs_queue(&settings.temporal_queue_prefix),
        // Scheduled runs get this id plus the server's timestamp suffix.
        schedule_id(settings),
    )
}

fn rpc() -> RpcOptions {
    RpcOptions::builder().timeout(RPC_TIMEOUT).build()
}

/// Replaces spec, action and policies, then the note: one update call, so either all land or none.
async fn apply(handle: &ScheduleHandle<Client>, settings: &Settings) -> Result<(), ScheduleError> {
    let (spec, action, note) = (spec(settings), action(settings), desired_note(settings));
    handle
        .update(
            move |u| {
                u.set_spec(spec)
                    .set_action(action)
                    .set_overlap_policy(ScheduleOverlapPolicy::Skip)
                    .set_catchup_window(CATCHUP_WINDOW)
                    .set_note(note);
            },
            rpc(),
        )
        .await
}

/// Creates the schedule, or updates it when its note differs from this worker's settings. A concurrent
/// worker's create ("already exists") is not an error: the schedule is then checked like any other.
pub async fn ensure_cleanup_schedule(
    client: &Client,
    settings: &Settings,
) -> Result<EnsureOutcome, ScheduleSetupError> {
    let id = schedule_id(settings);
    let options = CreateScheduleOptions::builder()
        .action(action(settings))
        .spec(spec(settings))
        .overlap_policy(ScheduleOverlapPolicy::Skip)
        .note(SETUP_PENDING)
        .rpc_options(rpc())
        .build();
    match client.create_schedule(id.clone(), options).await {
        Ok(handle) => {
            apply(&handle, settings).await?;
            Ok(EnsureOutcome::Created)
        }
        Err(ScheduleError::Rpc(status)) if status.code() == Code::AlreadyExists => {
            let handle = client.get_schedule_handle(id);
            let current = handle.describe(rpc()).await?;
            if current.note() == Some(desired_note(settings).as_str()) {
                return Ok(EnsureOutcome::Unchanged);
            }
            apply(&handle, settings).await?;
            Ok(EnsureOutcome::Updated)
        }
        Err(e) => Err(e.into()),
    }
}

/// Deletes this deployment's schedule (for tests and decommissioning); a missing schedule is success.
pub async fn delete_cleanup_schedule(
    client: &Client,
    settings: &Settings,
) -> Result<(), ScheduleSetupError> {
    let handle = client.get_schedule_handle(schedule_id(settings));
    match handle
        .delete(DeleteScheduleOptions::builder().rpc_options(rpc()).build())
        .await
    {
        Ok(()) => Ok(()),
        Err(ScheduleError::Rpc(status)) if status.code() == Code::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The worker's call: a few attempts with backoff, then a logged error. Never fails the worker, since
/// the schedule only needs one of possibly many jobs workers to succeed, and the next start tries again.
pub async fn ensure_in_background(
    client: Client,
    settings: std::sync::Arc<Settings>,
    shutdown: CancellationToken,
) {
    let mut delay = Duration::from_secs(1);
    for attempt in 1..=5 {
        match ensure_cleanup_schedule(&client, &settings).await {
            Ok(outcome) => {
                tracing::info!(schedule_id = %schedule_id(&settings), ?outcome, "cleanup schedule ensured");
                return;
            }
            Err(e) if attempt == 5 => {
                tracing::error!(error = %e, "cleanup schedule could not be ensured; the worker keeps running");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, "cleanup schedule not ensured yet; retrying");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        delay *= 2;
    }
}
