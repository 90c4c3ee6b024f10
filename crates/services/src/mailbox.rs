//! The development mailbox (api.md §7): messages as soon as their transaction commits.

use serde::Serialize;
use tenantry_domain::Email;
use tenantry_store::email;
use uuid::Uuid;

use crate::context::Services;
use crate::error::ServiceResult;

#[derive(Debug, Clone, Serialize)]
pub struct MailboxItem {
    pub id: Uuid,
    pub to: String,
    pub kind: String,
    pub subject: String,
    pub body_text: Option<String>,
    pub action_url: Option<String>,
    pub token: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "crate::time_format::option")]
    pub sent_at: Option<time::OffsetDateTime>,
}

impl Services {
    pub async fn mailbox(&self, to: &Email, limit: u8) -> ServiceResult<Vec<MailboxItem>> {
        let mut conn = self.db.read().await?;
        let rows = email::mailbox(&mut conn, to.as_str(), i64::from(limit)).await?;
        Ok(rows
            .into_iter()
            .map(|r| MailboxItem {
                id: r.id,
                to: r.to_email,
                kind: r.kind,
                subject: r.subject,
                body_text: r.body_text,
                action_url: r.action_url,
                token: r.action_token,
                created_at: r.created_at,
                sent_at: r.sent_at,
            })
            .collect())
    }
}
