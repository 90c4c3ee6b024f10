//! `UserOnboarding` (workflows.md §4.3): the welcome email, then the tenant's billing customer. No
//! compensation: a welcome email that went out stands even if billing fails.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ApplicationFailure, WorkflowContext, WorkflowResult};
use uuid::Uuid;

use super::provisioning::complete;
use crate::activities::email::{EmailActivities, SendEmailInput};
use crate::activities::onboarding::{
    BillingInput, EnqueueEmailInput, OnboardingActivities, WELCOME,
};
use crate::failure;
use crate::options;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OnboardingInput {
    pub user_id: Uuid,
    /// The tenant the user registered, if any (null for accounts created by accepting an invite).
    #[serde(default)]
    pub tenant_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OnboardingOutput {
    pub welcome_email_id: Uuid,
    pub billing_customer_id: Option<String>,
}

const STEP: Duration = Duration::from_secs(10);

#[workflow]
#[derive(Default)]
pub struct UserOnboarding;

#[workflow_methods]
impl UserOnboarding {
    #[run(name = "UserOnboarding")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: OnboardingInput,
    ) -> WorkflowResult<OnboardingOutput> {
        let ctx = ctx.clone();
        let workflow_id = ctx.workflow_id().to_owned();

        let enqueue = EnqueueEmailInput {
            kind: WELCOME.to_owned(),
            user_id: input.user_id,
            tenant_id: input.tenant_id,
            dedupe_key: format!("welcome:{}", input.user_id),
        };
        let queued = ctx
            .execute_activity(
                OnboardingActivities::enqueue_email,
                enqueue,
                options::step(STEP, 10),
            )
            .await;
        let email_id = match queued {
            Ok(r) => r.email_id,
            Err(e) => {
                return fail(&ctx, &workflow_id, "enqueue_email", &e).await;
            }
        };

        // A refused or undeliverable message is recorded on the email row; onboarding goes on.
        if let Err(e) = ctx
            .execute_activity(
                EmailActivities::send_email,
                SendEmailInput { email_id },
                options::send_email(),
            )
            .await
        {
            tracing::warn!(error = %failure::describe(&e).1, "welcome email not delivered");
        }

        let mut billing_customer_id = None;
        if let Some(tenant_id) = input.tenant_id {
            let billing = ctx
                .execute_activity(
                    OnboardingActivities::ensure_billing_customer,
                    BillingInput {
                        tenant_id,
                        user_id: input.user_id,
                    },
                    options::step(Duration::from_secs(30), 10),
                )
                .await;
            match billing {
                Ok(outcome) => billing_customer_id = outcome.billing_customer_id,
                Err(e) => return fail(&ctx, &workflow_id, "ensure_billing_customer", &e).await,
            }
        }

        complete(&ctx, &workflow_id, "completed", None).await?;
        Ok(OnboardingOutput {
            welcome_email_id: email_id,
            billing_customer_id,
        })
    }
}

/// Records the failed step on the execution record, then fails the workflow without retry (every step
/// already had its own retries).
async fn fail<T>(
    ctx: &WorkflowContext<UserOnboarding>,
    workflow_id: &str,
    step: &str,
    error: &temporalio_sdk::ActivityExecutionError,
) -> WorkflowResult<T> {
    let (kind, message) = failure::describe(error);
    let summary: String = format!(
        "{step} failed: {}{message}",
        kind.map(|k| format!("{k}: ")).unwrap_or_default()
    )
    .chars()
    .take(1000)
    .collect();
    if let Err(e) = complete(ctx, workflow_id, "failed", Some(summary.clone())).await {
        tracing::warn!(error = %failure::describe(&e).1, "could not record the failure");
    }
    Err(ApplicationFailure::builder(summary)
        .type_name("OnboardingFailed".to_owned())
        .non_retryable(true)
        .build()
        .into())
}
