//! SMTP delivery through lettre (rustls, no OpenSSL).

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use tenantry_settings::Settings;

use super::{MailError, Mailer, OutgoingMessage};

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The host part of generated `Message-ID`s.
    domain: String,
}

impl SmtpMailer {
    pub fn from_settings(settings: &Settings) -> Result<Self, MailError> {
        let url = settings
            .smtp_url
            .as_ref()
            .ok_or_else(|| MailError::Config("SMTP_URL is not set".to_owned()))?;
        let transport: AsyncSmtpTransport<Tokio1Executor> =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                .map_err(|e| MailError::Config(format!("SMTP_URL: {e}")))?
                .build();
        let from: Mailbox = settings
            .email_from
            .parse()
            .map_err(|e| MailError::Config(format!("EMAIL_FROM: {e}")))?;
        let domain = settings
            .email_from
            .rsplit('@')
            .next()
            .unwrap_or("tenantry.local")
            .trim_end_matches('>')
            .to_owned();
        Ok(Self {
            transport,
            from,
            domain,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), MailError> {
        let to: Mailbox = message
            .to
            .parse()
            .map_err(|e| MailError::Rejected(format!("recipient: {e}")))?;
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(message.body_text.clone());
        let body = match &message.body_html {
            Some(html) => MultiPart::alternative().singlepart(text).singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html.clone()),
            ),
            None => MultiPart::mixed().singlepart(text),
        };
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(format!("<{}@{}>", message.id, self.domain)))
            .multipart(body)
            .map_err(|e| MailError::Rejected(e.to_string()))?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            // 5xx replies are permanent; everything else (4xx, I/O, TLS, timeouts) may pass later.
            Err(e) if e.is_permanent() => Err(MailError::Rejected(e.to_string())),
            Err(e) => Err(MailError::Transient(e.to_string())),
        }
    }
}
