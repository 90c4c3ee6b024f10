//! TokenCleanup's activities (workflows.md §4.5, data-model.md §6). Each purges one kind of data in
//! batches against cutoffs derived from the run's reference instant, heartbeating after every batch so a
//! dead worker is noticed within the heartbeat timeout and a retry resumes with the same cutoffs.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

use sqlx::types::time::OffsetDateTime;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tenantry_domain::workflow_ids::TENANT_DELETION;
use tenantry_domain::{deletion_workflow_id, tenant_queue, tenant_shard};
use tenantry_store::cleanup::{self, BATCH, Purge, REAP_BATCH};
use tenantry_store::{outbox, tenants};
use uuid::Uuid;

use super::Deps;
use crate::failure;

/// Start requests are kept this long after dispatch (data-model.md §6).
const START_REQUEST_DAYS: u64 = 7;
/// Settled emails are kept this long in production...
const EMAIL_DAYS: u64 = 7;
/// ...and this long in development and test, where the mailbox is the only reader.
const EMAIL_DAYS_DEV: u64 = 1;

/// Input of every purge activity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PurgeInput {
    pub retention_days: u32,
    /// The run's reference instant (workflow time, Unix milliseconds). Every cutoff derives from it, so
    /// a retry of one run purges exactly what the first attempt would have; absent → the activity's clock.
    #[serde(default)]
    pub as_of_unix_ms: Option<i64>,
}

impl PurgeInput {
    fn as_of(&self) -> OffsetDateTime {
        self.as_of_unix_ms
            .and_then(|ms| {
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
            })
            .unwrap_or_else(OffsetDateTime::now_utc)
    }

    fn days_before(&self, days: u64) -> OffsetDateTime {
        self.as_of() - Duration::from_secs(days * 86_400)
    }

    fn retention_cutoff(&self) -> OffsetDateTime {
        self.days_before(u64::from(self.retention_days))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InvitePurge {
    pub expired: u64,
    pub deleted: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OutboxPurge {
    pub outbox_rows: u64,
    pub emails: u64,
}

pub struct CleanupActivities {
    pub deps: Arc<Deps>,
}

async fn beat(ctx: &ActivityContext, progress: u64) {
    if let Err(e) = ctx.record_heartbeat(progress).await {
        tracing::warn!(error = %e, "could not record a cleanup heartbeat");
    }
}

/// Repeats one purge until a batch comes back short, heartbeating after each batch. A cancelled activity
/// (worker draining) stops between batches: what it already purged stays purged, and the retry finishes.
async fn drain(deps: &Deps, ctx: &ActivityContext, purge: Purge) -> Result<u64, ActivityError> {
    let mut total = 0u64;
    loop {
        let done = {
            let mut tx = deps.begin().await?;
            let done = cleanup::purge_batch(&mut tx, purge, BATCH)
                .await
                .map_err(|e| failure::from_sql(&e))?;
            Deps::commit(tx).await?;
            done
        };
        total += done;
        beat(ctx, total).await;
        if done < BATCH.unsigned_abs() {
            return Ok(total);
        }
        if ctx.is_cancelled() {
            return Err(ActivityError::cancelled());
        }
    }
}

/// One tenant, one transaction: the soft delete and the deletion request commit together or not at all.
/// `false` when the tenant stopped qualifying (claimed or deleted meanwhile).
async fn reap_one(
    deps: &Deps,
    tenant_id: Uuid,
    before: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let settings = &deps.settings;
    let mut tx = deps.db.begin().await?;
    if !cleanup::mark_registration_reaped(&mut tx, tenant_id, before).await? {
        return Ok(false);
    }
    // API caches drop the tenant at commit, as for every other status change.
    tenants::notify_changed(&mut tx, tenant_id).await?;
    // The same queue, id, type and tracking as services' `request_deletion`, with the registrant purge on.
    let workflow_id = deletion_workflow_id(&tenant_id);
    let queue = tenant_queue(
        &settings.temporal_queue_prefix,
        tenant_shard(&tenant_id, settings.temporal_queue_shards),
    );
    outbox::enqueue_start(
        &mut tx,
        &outbox::NewStartRequest {
            workflow_id: &workflow_id,
            workflow_type: TENANT_DELETION,
            task_queue: &queue,
            input: json!({ "tenant_id": tenant_id, "purge_unverified_registrant": true }),
        },
        Some(outbox::Tracked {
            entity_type: "tenant",
            entity_id: tenant_id,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

#[activities]
impl CleanupActivities {
    #[activity(name = "purge_refresh_families")]
    pub async fn purge_refresh_families(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: PurgeInput,
    ) -> Result<u64, ActivityError> {
        let before = input.retention_cutoff();
        drain(&self.deps, &ctx, Purge::RefreshFamilies { before }).await
    }

    #[activity(name = "purge_one_time_tokens")]
    pub async fn purge_one_time_tokens(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: PurgeInput,
    ) -> Result<u64, ActivityError> {
        let before = input.retention_cutoff();
        let verification =
            drain(&self.deps, &ctx, Purge::EmailVerificationTokens { before }).await?;
        let reset = drain(&self.deps, &ctx, Purge::PasswordResetTokens { before }).await?;
        Ok(verification + reset)
    }

    /// Expiry first, so an invite that expired long ago is both marked and (if old enough) deleted in one run.
    #[activity(name = "expire_and_purge_invites")]
    pub async fn expire_and_purge_invites(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: PurgeInput,
    ) -> Result<InvitePurge, ActivityError> {
        let expired = drain(
            &self.deps,
            &ctx,
            Purge::ExpireInvites { now: input.as_of() },
        )
        .await?;
        let deleted = drain(
            &self.deps,
            &ctx,
            Purge::DeleteInvites {
                before: input.retention_cutoff(),
            },
        )
        .await?;
        Ok(InvitePurge { expired, deleted })
    }

    #[activity(name = "purge_idempotency_keys")]
    pub async fn purge_idempotency_keys(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: PurgeInput,
    ) -> Result<u64, ActivityError> {
        drain(
            &self.deps,
            &ctx,
            Purge::IdempotencyKeys { now: input.as_of() },
        )
        .await
    }

    /// Both outboxes have fixed windows of their own; `retention_days` does not apply to them.
    #[activity(name = "purge_outboxes")]
    pub async fn purge_outboxes(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: PurgeInput,
    ) -> Result<OutboxPurge, ActivityError> {
        let outbox_rows = drain(
            &self.deps,
            &ctx,
            Purge::StartRequests {
                before: input.days_before(START_REQUEST_DAYS),
            },
        )
        .await?;
        let email_days = if self.deps.settings.app_env.is_dev_like() {
            EMAIL_DAYS_DEV
        } else {
            EMAIL_DAYS
        };
        let emails = drain(
            &self.deps,
            &ctx,
            Purge::Emails {
                before: input.days_before(email_days),
            },
        )
        .await?;
        Ok(OutboxPurge {
            outbox_rows,
            emails,
        })
    }

    /// `AUDIT_RETENTION_DAYS` = 0 keeps audit history forever.
    #[activity(name = "purge_audit_logs")]
    pub async fn purge_audit_logs(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: PurgeInput,
    ) -> Result<u64, ActivityError> {
        let days = self.deps.settings.audit_retention_days;
        if days == 0 {
            return Ok(0);
        }
        drain(
            &self.deps,
            &ctx,
            Purge::AuditLogs {
                before: input.days_before(u64::from(days)),
            },
        )
        .await
    }

    /// Soft-deletes registration tenants nobody claimed within `REGISTRATION_CLAIM_DAYS` and requests
    /// their deletion workflow (which also removes the never-verified registrant). Returns how many this
    /// attempt reaped; a tenant reaped by an earlier attempt no longer qualifies and is not counted again.
    #[activity(name = "reap_unclaimed_registrations")]
    pub async fn reap_unclaimed_registrations(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: PurgeInput,
    ) -> Result<u64, ActivityError> {
        let deps = &self.deps;
        let before = input.days_before(u64::from(deps.settings.registration_claim_days));
        let mut reaped = 0u64;
        loop {
            let candidates = {
                let mut conn = deps.read().await?;
                cleanup::unclaimed_registrations(&mut conn, before, REAP_BATCH)
                    .await
                    .map_err(|e| failure::from_sql(&e))?
            };
            for tenant_id in &candidates {
                if reap_one(deps, *tenant_id, before)
                    .await
                    .map_err(|e| failure::from_sql(&e))?
                {
                    tracing::info!(%tenant_id, "unclaimed registration reaped");
                    reaped += 1;
                }
            }
            beat(&ctx, reaped).await;
            if candidates.len() < REAP_BATCH.unsigned_abs() as usize {
                return Ok(reaped);
            }
            if ctx.is_cancelled() {
                return Err(ActivityError::cancelled());
            }
        }
    }
}
