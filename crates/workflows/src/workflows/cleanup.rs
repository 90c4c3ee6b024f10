//! `TokenCleanup` (workflows.md §4.5): started by the schedule; runs every retention activity at once and
//! returns what each removed. The run's workflow time is the single reference instant of all cutoffs.

use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, ApplicationFailure, WorkflowContext, WorkflowResult,
};

use crate::activities::cleanup::{CleanupActivities, InvitePurge, OutboxPurge, PurgeInput};
use crate::failure;
use crate::options;

fn default_retention_days() -> u32 {
    30
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CleanupInput {
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
}

impl Default for CleanupInput {
    fn default() -> Self {
        Self {
            retention_days: default_retention_days(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupOutput {
    pub refresh_families: u64,
    pub one_time_tokens: u64,
    pub invites_expired: u64,
    pub invites_deleted: u64,
    pub idempotency_keys: u64,
    pub outbox_rows: u64,
    pub emails: u64,
    pub audit_logs: u64,
    pub registrations_reaped: u64,
}

fn purge_options() -> ActivityOptions {
    options::heartbeating_step(Duration::from_secs(600), Duration::from_secs(60), 5)
}

#[workflow]
#[derive(Default)]
pub struct TokenCleanup;

#[workflow_methods]
impl TokenCleanup {
    #[run(name = "TokenCleanup")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: CleanupInput,
    ) -> WorkflowResult<CleanupOutput> {
        let ctx = ctx.clone();
        // Workflow time is replay-safe: every attempt of every activity in this run gets the same cutoffs.
        let as_of_unix_ms = ctx
            .workflow_time()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_millis()).ok());
        let purge = PurgeInput {
            retention_days: input.retention_days,
            as_of_unix_ms,
        };
        let (families, tokens, invites, keys, outboxes, audit, reaped) = temporalio_sdk::workflows::join!(
            ctx.execute_activity(
                CleanupActivities::purge_refresh_families,
                purge.clone(),
                purge_options()
            ),
            ctx.execute_activity(
                CleanupActivities::purge_one_time_tokens,
                purge.clone(),
                purge_options()
            ),
            ctx.execute_activity(
                CleanupActivities::expire_and_purge_invites,
                purge.clone(),
                purge_options()
            ),
            ctx.execute_activity(
                CleanupActivities::purge_idempotency_keys,
                purge.clone(),
                purge_options()
            ),
            ctx.execute_activity(
                CleanupActivities::purge_outboxes,
                purge.clone(),
                purge_options()
            ),
            ctx.execute_activity(
                CleanupActivities::purge_audit_logs,
                purge.clone(),
                purge_options()
            ),
            ctx.execute_activity(
                CleanupActivities::reap_unclaimed_registrations,
                purge.clone(),
                purge_options()
            ),
        );

        // Every purge ran to its end before this point, so one failure never hides the others' work;
        // the run still fails (visible in Temporal), and the next scheduled run picks up what is left.
        let mut errors = Vec::new();
        let mut take = |step: &str, r: Result<u64, ActivityExecutionError>| {
            r.unwrap_or_else(|e| {
                errors.push(format!("{step}: {}", failure::describe(&e).1));
                0
            })
        };
        let refresh_families = take("purge_refresh_families", families);
        let one_time_tokens = take("purge_one_time_tokens", tokens);
        let idempotency_keys = take("purge_idempotency_keys", keys);
        let audit_logs = take("purge_audit_logs", audit);
        let registrations_reaped = take("reap_unclaimed_registrations", reaped);
        let invites = invites.unwrap_or_else(|e| {
            errors.push(format!(
                "expire_and_purge_invites: {}",
                failure::describe(&e).1
            ));
            InvitePurge::default()
        });
        let outboxes = outboxes.unwrap_or_else(|e| {
            errors.push(format!("purge_outboxes: {}", failure::describe(&e).1));
            OutboxPurge::default()
        });
        let output = CleanupOutput {
            refresh_families,
            one_time_tokens,
            invites_expired: invites.expired,
            invites_deleted: invites.deleted,
            idempotency_keys,
            outbox_rows: outboxes.outbox_rows,
            emails: outboxes.emails,
            audit_logs,
            registrations_reaped,
        };
        if errors.is_empty() {
            Ok(output)
        } else {
            tracing::warn!(?output, "token cleanup partly failed");
            let summary: String = errors.join("; ").chars().take(1000).collect();
            Err(ApplicationFailure::builder(summary)
                .type_name("TokenCleanupFailed".to_owned())
                .non_retryable(true)
                .build()
                .into())
        }
    }
}
