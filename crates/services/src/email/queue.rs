//! Queueing an email inside the causing transaction: the outbox row and its SendEmail start request
//! commit (or roll back) with the business change.

use sqlx::PgConnection;
use tenantry_domain::{email_workflow_id, jobs_queue};
use tenantry_settings::Settings;
use tenantry_store::{email, outbox};
use uuid::Uuid;

use super::templates::Rendered;

pub struct Recipient<'a> {
    pub to: &'a str,
    pub user_id: Option<Uuid>,
    pub tenant_id: Option<Uuid>,
}

/// Returns the email id. `token` is stored in plaintext only in development/test, for the mailbox.
pub async fn queue(
    conn: &mut PgConnection,
    settings: &Settings,
    rendered: &Rendered,
    recipient: &Recipient<'_>,
    token: Option<&str>,
    dedupe_key: Option<&str>,
) -> Result<Uuid, sqlx::Error> {
    let id = email::enqueue(
        conn,
        &email::NewEmail {
            id: Uuid::now_v7(),
            kind: rendered.kind,
            to_email: recipient.to,
            subject: &rendered.subject,
            body_text: &rendered.body_text,
            body_html: &rendered.body_html,
            action_url: rendered.action_url.as_deref(),
            action_token: token.filter(|_| settings.app_env.is_dev_like()),
            dedupe_key,
            user_id: recipient.user_id,
            tenant_id: recipient.tenant_id,
        },
    )
    .await?;
    outbox::enqueue_start(
        conn,
        &outbox::NewStartRequest {
            workflow_id: &email_workflow_id(&id),
            workflow_type: tenantry_domain::workflow_ids::SEND_EMAIL,
            task_queue: &jobs_queue(&settings.temporal_queue_prefix),
            input: serde_json::json!({ "email_id": id }),
        },
        None,
    )
    .await?;
    Ok(id)
}
