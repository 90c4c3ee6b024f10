//! `TenantDeletion` (workflows.md §4.2): forward-only; every step retries until its cause clears, so
//! deletion always converges. Memberships, audit rows and the tenant row stay for history.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityExecutionError, WorkflowContext, WorkflowResult};
use uuid::Uuid;

use super::provisioning::{complete, fail};
use crate::activities::tenant::{StatusTransition, TenantActivities, TenantRef};
use crate::failure;
use crate::options;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletionInput {
    pub tenant_id: Uuid,
    #[serde(default)]
    pub purge_unverified_registrant: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletionOutput {
    pub deleted: bool,
    pub tenant_id: Uuid,
    pub schema_existed: bool,
}

const MAX_INTERVAL: Duration = Duration::from_secs(300);

#[workflow]
#[derive(Default)]
pub struct TenantDeletion;

#[workflow_methods]
impl TenantDeletion {
    #[run(name = "TenantDeletion")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: DeletionInput,
    ) -> WorkflowResult<DeletionOutput> {
        let ctx = ctx.clone();
        let workflow_id = ctx.workflow_id().to_owned();
        match Self::steps(&ctx, &input).await {
            Ok(schema_existed) => {
                complete(&ctx, &workflow_id, "completed", None).await?;
                Ok(DeletionOutput {
                    deleted: true,
                    tenant_id: input.tenant_id,
                    schema_existed,
                })
            }
            Err(e) => {
                let (kind, message) = failure::describe(&e);
                fail(
                    &ctx,
                    &workflow_id,
                    format!(
                        "{}{message}",
                        kind.map(|k| format!("{k}: ")).unwrap_or_default()
                    ),
                )
                .await
            }
        }
    }

    async fn steps(
        ctx: &WorkflowContext<Self>,
        input: &DeletionInput,
    ) -> Result<bool, ActivityExecutionError> {
        let tenant = TenantRef {
            tenant_id: input.tenant_id,
        };
        let step = |secs| options::unlimited_step(Duration::from_secs(secs), MAX_INTERVAL);
        ctx.execute_activity(
            TenantActivities::soft_delete_tenant,
            tenant.clone(),
            step(10),
        )
        .await?;
        ctx.execute_activity(
            TenantActivities::revoke_tenant_sessions,
            tenant.clone(),
            step(30),
        )
        .await?;
        ctx.execute_activity(
            TenantActivities::cancel_tenant_invites,
            tenant.clone(),
            step(30),
        )
        .await?;
        let dropped = ctx
            .execute_activity(
                TenantActivities::drop_tenant_schema,
                tenant.clone(),
                step(60),
            )
            .await?;
        if input.purge_unverified_registrant {
            ctx.execute_activity(
                TenantActivities::delete_unverified_registrant,
                tenant.clone(),
                step(10),
            )
            .await?;
        }
        let to_deleted = StatusTransition {
            tenant_id: input.tenant_id,
            from: vec!["deleting".to_owned()],
            to: "deleted".to_owned(),
        };
        ctx.execute_activity(TenantActivities::set_tenant_status, to_deleted, step(10))
            .await?;
        Ok(dropped.schema_existed)
    }
}
