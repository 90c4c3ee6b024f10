//! `send_email`: delivers one email outbox row at least once, recorded on the row.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tenantry_services::email::{MailError, OutgoingMessage};
use tenantry_store::email as store;
use uuid::Uuid;

use super::Deps;
use crate::failure::{self, kind};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendEmailInput {
    pub email_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendEmailOutput {
    pub sent: bool,
}

pub struct EmailActivities {
    pub deps: Arc<Deps>,
}

#[activities]
impl EmailActivities {
    /// The row lock serializes concurrent deliveries of one message; a crash after the provider accepted
    /// but before the marker commits can repeat one delivery, with the same `Message-ID`.
    #[activity(name = "send_email")]
    pub async fn send_email(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: SendEmailInput,
    ) -> Result<SendEmailOutput, ActivityError> {
        let deps = &self.deps;
        deps.test_delay("send_email").await;
        let scrub = !deps.settings.app_env.is_dev_like();
        let mut tx = deps.db.begin().await.map_err(|e| failure::from_sql(&e))?;
        let Some(row) = store::lock_for_delivery(&mut tx, input.email_id)
            .await
            .map_err(|e| failure::from_sql(&e))?
        else {
            // Purged by retention: nothing left to deliver.
            return Ok(SendEmailOutput { sent: false });
        };
        if row.is_settled() {
            return Ok(SendEmailOutput {
                sent: row.sent_at.is_some(),
            });
        }
        let message = OutgoingMessage {
            id: row.id,
            to: row.to_email.clone(),
            subject: row.subject.clone(),
            body_text: row.body_text.clone().unwrap_or_default(),
            body_html: row.body_html.clone(),
        };
        match deps.mailer.send(&message).await {
            Ok(()) => {
                store::mark_sent(&mut tx, row.id, scrub)
                    .await
                    .map_err(|e| failure::from_sql(&e))?;
                tx.commit().await.map_err(|e| failure::from_sql(&e))?;
                Ok(SendEmailOutput { sent: true })
            }
            Err(MailError::Rejected(reason)) => {
                store::mark_failed(&mut tx, row.id, &reason, scrub)
                    .await
                    .map_err(|e| failure::from_sql(&e))?;
                tx.commit().await.map_err(|e| failure::from_sql(&e))?;
                Err(failure::non_retryable(kind::EMAIL_REJECTED, reason))
            }
            Err(e) => {
                drop(tx);
                let recorded = async {
                    let mut tx = deps.db.begin().await?;
                    store::record_attempt_error(&mut tx, row.id, &e.to_string()).await?;
                    tx.commit().await
                }
                .await;
                if let Err(db) = recorded {
                    tracing::warn!(error = %db, "could not record the email attempt");
                }
                Err(failure::retryable(e.to_string()))
            }
        }
    }
}
