//! `SendEmail` (workflows.md §4.4): one delivery attempt series for one email outbox row.

use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowResult};

use crate::activities::email::{EmailActivities, SendEmailInput, SendEmailOutput};
use crate::options;

#[workflow]
#[derive(Default)]
pub struct SendEmail;

#[workflow_methods]
impl SendEmail {
    #[run(name = "SendEmail")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: SendEmailInput,
    ) -> WorkflowResult<SendEmailOutput> {
        let opts = options::send_email();
        let out = ctx
            .execute_activity(EmailActivities::send_email, input, opts)
            .await?;
        Ok(out)
    }
}
