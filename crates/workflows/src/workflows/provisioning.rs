//! `TenantProvisioning` (workflows.md §4.1): a saga. The schema drop is registered before the schema step,
//! so whatever fails, a half-made schema is dropped, the tenant ends `failed` and the execution record
//! holds the error.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityExecutionError, ApplicationFailure, WorkflowContext, WorkflowResult};
use uuid::Uuid;

use crate::activities::email::{EmailActivities, SendEmailInput};
use crate::activities::tenant::{
    CompleteExecution, MembershipRef, OwnerInviteInput, OwnerInviteRef, StatusTransition,
    TenantActivities, TenantRef,
};
use crate::failure;
use crate::options;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OwnerInvite {
    pub email: String,
    pub invited_by_user_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProvisioningInput {
    pub tenant_id: Uuid,
    #[serde(default)]
    pub owner_user_id: Option<Uuid>,
    #[serde(default)]
    pub owner_invite: Option<OwnerInvite>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProvisioningOutput {
    pub tenant_id: Uuid,
    pub status: String,
}

const STEP: Duration = Duration::from_secs(10);

/// Undo steps, run in reverse order of registration.
#[derive(Debug, Clone)]
enum Compensation {
    DropSchema,
    RemoveMembership(Uuid),
    CancelOwnerInvite(String),
}

type StepError = (String, ActivityExecutionError);

fn step_failed(step: &str) -> impl FnOnce(ActivityExecutionError) -> StepError + '_ {
    move |e| (step.to_owned(), e)
}

#[workflow]
#[derive(Default)]
pub struct TenantProvisioning;

#[workflow_methods]
impl TenantProvisioning {
    #[run(name = "TenantProvisioning")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: ProvisioningInput,
    ) -> WorkflowResult<ProvisioningOutput> {
        let ctx = ctx.clone();
        let workflow_id = ctx.workflow_id().to_owned();
        let tenant = TenantRef {
            tenant_id: input.tenant_id,
        };
        let done = ProvisioningOutput {
            tenant_id: input.tenant_id,
            status: "ready".to_owned(),
        };

        let loaded = ctx
            .execute_activity(
                TenantActivities::load_tenant,
                tenant.clone(),
                options::step(STEP, 10),
            )
            .await;
        let info = match loaded {
            Ok(info) => info,
            Err(e) => {
                let (_, message) = failure::describe(&e);
                return fail(&ctx, &workflow_id, format!("load_tenant: {message}")).await;
            }
        };
        match info.status.as_str() {
            "provisioning" => {}
            // A re-run after success only records completion.
            "ready" => {
                complete(&ctx, &workflow_id, "completed", None).await?;
                return Ok(done);
            }
            other => {
                return fail(
                    &ctx,
                    &workflow_id,
                    format!("TenantNotProvisioning: tenant is {other}"),
                )
                .await;
            }
        }

        let mut compensations = Vec::new();
        let forward = Self::forward(&ctx, &input, &tenant, &mut compensations).await;
        match forward {
            Ok(invite_email) => {
                complete(&ctx, &workflow_id, "completed", None).await?;
                // After `ready`: a failed delivery is recorded on the email row and never un-provisions.
                if let Some(email_id) = invite_email
                    && let Err(e) = ctx
                        .execute_activity(
                            EmailActivities::send_email,
                            SendEmailInput { email_id },
                            options::send_email(),
                        )
                        .await
                {
                    tracing::warn!(error = %failure::describe(&e).1, "owner invite email not delivered");
                }
                Ok(done)
            }
            Err((step, e)) => {
                let (kind, message) = failure::describe(&e);
                let mut summary = format!(
                    "{step} failed: {}{message}",
                    kind.map(|k| format!("{k}: ")).unwrap_or_default()
                );
                for c in compensations.iter().rev() {
                    if let Err(ce) = compensate(&ctx, &tenant, c).await {
                        summary.push_str(&format!(
                            "; compensation {c:?} failed: {}",
                            failure::describe(&ce).1
                        ));
                    }
                }
                let to_failed = StatusTransition {
                    tenant_id: tenant.tenant_id,
                    from: vec!["provisioning".to_owned()],
                    to: "failed".to_owned(),
                };
                if let Err(se) = ctx
                    .execute_activity(
                        TenantActivities::set_tenant_status,
                        to_failed,
                        options::compensation(STEP),
                    )
                    .await
                {
                    summary.push_str(&format!("; marking failed: {}", failure::describe(&se).1));
                }
                fail(&ctx, &workflow_id, summary).await
            }
        }
    }

    async fn forward(
        ctx: &WorkflowContext<Self>,
        input: &ProvisioningInput,
        tenant: &TenantRef,
        compensations: &mut Vec<Compensation>,
    ) -> Result<Option<uuid::Uuid>, StepError> {
        // Registered first: a failure anywhere below, even inside the schema step, drops the schema.
        compensations.push(Compensation::DropSchema);
        ctx.execute_activity(
            TenantActivities::create_tenant_schema,
            tenant.clone(),
            options::step(Duration::from_secs(30), 10),
        )
        .await
        .map_err(step_failed("create_tenant_schema"))?;
        ctx.execute_activity(
            TenantActivities::migrate_tenant_schema,
            tenant.clone(),
            options::heartbeating_step(Duration::from_secs(600), Duration::from_secs(30), 5),
        )
        .await
        .map_err(step_failed("migrate_tenant_schema"))?;
        if let Some(owner) = input.owner_user_id {
            compensations.push(Compensation::RemoveMembership(owner));
            let membership = MembershipRef {
                tenant_id: tenant.tenant_id,
                user_id: owner,
            };
            ctx.execute_activity(
                TenantActivities::create_admin_membership,
                membership,
                options::step(STEP, 10),
            )
            .await
            .map_err(step_failed("create_admin_membership"))?;
        }
        let mut invite_email = None;
        if let Some(invite) = &input.owner_invite {
            compensations.push(Compensation::CancelOwnerInvite(invite.email.clone()));
            let create = OwnerInviteInput {
                tenant_id: tenant.tenant_id,
                email: invite.email.clone(),
                invited_by_user_id: invite.invited_by_user_id,
            };
            let queued = ctx
                .execute_activity(
                    TenantActivities::create_owner_invite,
                    create,
                    options::step(STEP, 10),
                )
                .await
                .map_err(step_failed("create_owner_invite"))?;
            invite_email = Some(queued.email_id);
        }
        let to_ready = StatusTransition {
            tenant_id: tenant.tenant_id,
            from: vec!["provisioning".to_owned()],
            to: "ready".to_owned(),
        };
        ctx.execute_activity(
            TenantActivities::set_tenant_status,
            to_ready,
            options::step(STEP, 10),
        )
        .await
        .map_err(step_failed("set_tenant_status"))?;
        Ok(invite_email)
    }
}

async fn compensate(
    ctx: &WorkflowContext<TenantProvisioning>,
    tenant: &TenantRef,
    c: &Compensation,
) -> Result<(), ActivityExecutionError> {
    match c {
        Compensation::DropSchema => ctx
            .execute_activity(
                TenantActivities::drop_tenant_schema,
                tenant.clone(),
                options::compensation(Duration::from_secs(60)),
            )
            .await
            .map(|_| ()),
        Compensation::RemoveMembership(user_id) => {
            ctx.execute_activity(
                TenantActivities::remove_membership,
                MembershipRef {
                    tenant_id: tenant.tenant_id,
                    user_id: *user_id,
                },
                options::compensation(STEP),
            )
            .await
        }
        Compensation::CancelOwnerInvite(email) => {
            ctx.execute_activity(
                TenantActivities::cancel_owner_invite,
                OwnerInviteRef {
                    tenant_id: tenant.tenant_id,
                    email: email.clone(),
                },
                options::compensation(STEP),
            )
            .await
        }
    }
}

pub(crate) async fn complete<W>(
    ctx: &WorkflowContext<W>,
    workflow_id: &str,
    status: &str,
    error: Option<String>,
) -> Result<(), ActivityExecutionError> {
    let input = CompleteExecution {
        workflow_id: workflow_id.to_owned(),
        status: status.to_owned(),
        error,
    };
    ctx.execute_activity(
        TenantActivities::complete_execution,
        input,
        options::compensation(STEP),
    )
    .await
}

/// Records the failure on the execution record, then fails the workflow (not retried: the saga is done).
pub(crate) async fn fail<W, T>(
    ctx: &WorkflowContext<W>,
    workflow_id: &str,
    summary: String,
) -> WorkflowResult<T> {
    let summary: String = summary.chars().take(1000).collect();
    if let Err(e) = complete(ctx, workflow_id, "failed", Some(summary.clone())).await {
        tracing::warn!(error = %failure::describe(&e).1, "could not record the failure");
    }
    Err(ApplicationFailure::builder(summary)
        .type_name("ProvisioningFailed".to_owned())
        .non_retryable(true)
        .build()
        .into())
}
