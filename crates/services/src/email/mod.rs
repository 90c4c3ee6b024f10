//! Email delivery backends behind one trait: `mailbox` (development/test: the database row is the
//! delivery) and `smtp`.

pub mod queue;
mod smtp;
pub mod templates;

use async_trait::async_trait;
use tenantry_settings::{EmailBackend, Settings};
use uuid::Uuid;

pub use smtp::SmtpMailer;

/// A message ready to hand to a provider.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// The outbox row id; SMTP derives `Message-ID` from it so a repeated delivery is recognisable.
    pub id: Uuid,
    pub to: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Worth retrying: connection problems, 4xx temporary replies, timeouts, throttling.
    #[error("temporary delivery failure: {0}")]
    Transient(String),
    /// The provider refused this message for good.
    #[error("message rejected: {0}")]
    Rejected(String),
    #[error("mailer misconfigured: {0}")]
    Config(String),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), MailError>;
}

/// Sends nothing: the message is readable through `GET /dev/mailbox` from the moment it was committed.
pub struct MailboxMailer;

#[async_trait]
impl Mailer for MailboxMailer {
    async fn send(&self, _message: &OutgoingMessage) -> Result<(), MailError> {
        Ok(())
    }
}

pub fn mailer_from_settings(settings: &Settings) -> Result<std::sync::Arc<dyn Mailer>, MailError> {
    match settings.email_backend {
        EmailBackend::Mailbox => Ok(std::sync::Arc::new(MailboxMailer)),
        EmailBackend::Smtp => Ok(std::sync::Arc::new(SmtpMailer::from_settings(settings)?)),
    }
}
