//! UserOnboarding's own steps (workflows.md §4.3, §5): queueing the welcome email and ensuring the
//! tenant's billing customer. Delivery reuses `send_email`; completion reuses `complete_execution`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tenantry_services::email::templates;
use tenantry_store::{email, users};
use uuid::Uuid;

use super::Deps;
use super::tenant::EmailRef;
use crate::billing::BillingError;
use crate::failure::{self, kind, non_retryable, retryable};

/// The only kind onboarding queues; the field is in the input so histories say which email it was.
pub const WELCOME: &str = "welcome";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnqueueEmailInput {
    pub kind: String,
    pub user_id: Uuid,
    #[serde(default)]
    pub tenant_id: Option<Uuid>,
    pub dedupe_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BillingInput {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BillingOutcome {
    pub billing_customer_id: Option<String>,
}

pub struct OnboardingActivities {
    pub deps: Arc<Deps>,
}

#[activities]
impl OnboardingActivities {
    #[activity(name = "enqueue_email")]
    pub async fn enqueue_email(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: EnqueueEmailInput,
    ) -> Result<EmailRef, ActivityError> {
        enqueue_email(&self.deps, &input).await
    }

    #[activity(name = "ensure_billing_customer")]
    pub async fn ensure_billing_customer(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: BillingInput,
    ) -> Result<BillingOutcome, ActivityError> {
        ensure_billing_customer(&self.deps, &input).await
    }
}

/// The body of `enqueue_email`, callable directly by tests. Renders and inserts the message unless its
/// dedupe key exists, returning the stored id either way. Only the email row is written: the workflow
/// delivers it itself, so no SendEmail start request goes with it (unlike services' `queue`).
pub async fn enqueue_email(
    deps: &Deps,
    input: &EnqueueEmailInput,
) -> Result<EmailRef, ActivityError> {
    deps.test_delay("enqueue_email").await;
    if input.kind != WELCOME {
        return Err(non_retryable(
            "UnsupportedEmailKind",
            format!("enqueue_email cannot render kind '{}'", input.kind),
        ));
    }
    let settings = &deps.settings;
    let user = existing_user(deps, input.user_id).await?;
    let mut tx = deps.begin().await?;
    let rendered = templates::welcome(&settings.app_url, &settings.app_name, &user.full_name);
    let email_id = email::enqueue(
        &mut tx,
        &email::NewEmail {
            id: Uuid::now_v7(),
            kind: rendered.kind,
            to_email: &user.email,
            subject: &rendered.subject,
            body_text: &rendered.body_text,
            body_html: &rendered.body_html,
            action_url: rendered.action_url.as_deref(),
            action_token: None,
            dedupe_key: Some(&input.dedupe_key),
            user_id: Some(user.id),
            tenant_id: input.tenant_id,
        },
    )
    .await;
    match email_id {
        Ok(email_id) => {
            Deps::commit(tx).await?;
            Ok(EmailRef { email_id })
        }
        // A concurrent attempt inserted the same dedupe key between our insert and select: already done.
        // The failed statement ended our transaction; the row is read afresh.
        Err(e) if tenantry_store::is_unique_violation(&e) => {
            drop(tx);
            let mut conn = deps.read().await?;
            let (email_id,): (Uuid,) =
                sqlx::query_as("SELECT id FROM public.email_outbox WHERE dedupe_key = $1")
                    .bind(&input.dedupe_key)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| failure::from_sql(&e))?;
            Ok(EmailRef { email_id })
        }
        Err(e) => Err(failure::from_sql(&e)),
    }
}

#[derive(Debug, sqlx::FromRow)]
struct BillingTenant {
    name: String,
    billing_customer_id: Option<String>,
    deleted_at: Option<sqlx::types::time::OffsetDateTime>,
}

/// The body of `ensure_billing_customer`, callable directly by tests (which inject a provider). A stored
/// customer id skips the provider; a new one is stored only if none is there yet, so concurrent attempts
/// converge on the first id written. Deleted tenants get no customer.
pub async fn ensure_billing_customer(
    deps: &Deps,
    input: &BillingInput,
) -> Result<BillingOutcome, ActivityError> {
    deps.test_delay("ensure_billing_customer").await;
    let tenant = {
        let mut conn = deps.read().await?;
        sqlx::query_as::<_, BillingTenant>(
            "SELECT name, billing_customer_id, deleted_at FROM public.tenants WHERE id = $1",
        )
        .bind(input.tenant_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| failure::from_sql(&e))?
        .ok_or_else(|| {
            non_retryable(
                kind::TENANT_NOT_FOUND,
                format!("tenant {} not found", input.tenant_id),
            )
        })?
    };
    if let Some(existing) = tenant.billing_customer_id {
        return Ok(BillingOutcome {
            billing_customer_id: Some(existing),
        });
    }
    if tenant.deleted_at.is_some() {
        return Ok(BillingOutcome {
            billing_customer_id: None,
        });
    }
    let user = existing_user(deps, input.user_id).await?;
    // No connection is held across the provider call, which may be slow.
    let key = format!("tenant:{}", input.tenant_id);
    let created = deps
        .billing
        .ensure_customer(input.tenant_id, &user.email, &tenant.name, &key)
        .await;
    let customer_id = match created {
        Ok(Some(id)) => id,
        Ok(None) => {
            return Ok(BillingOutcome {
                billing_customer_id: None,
            });
        }
        Err(BillingError::Rejected(reason)) => {
            return Err(non_retryable(kind::BILLING_REJECTED, reason));
        }
        Err(e @ BillingError::Transient(_)) => return Err(retryable(e.to_string())),
    };
    let mut tx = deps.begin().await?;
    sqlx::query(
        "UPDATE public.tenants SET billing_customer_id = $2 WHERE id = $1 AND billing_customer_id IS NULL",
    )
    .bind(input.tenant_id)
    .bind(&customer_id)
    .execute(&mut *tx)
    .await
    .map_err(|e| failure::from_sql(&e))?;
    // Whatever an earlier or concurrent attempt stored wins; report that one.
    let stored: Option<(Option<String>,)> =
        sqlx::query_as("SELECT billing_customer_id FROM public.tenants WHERE id = $1")
            .bind(input.tenant_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| failure::from_sql(&e))?;
    Deps::commit(tx).await?;
    Ok(BillingOutcome {
        billing_customer_id: stored.and_then(|r| r.0).or(Some(customer_id)),
    })
}

/// The user an onboarding step is about; a missing one is a broken reference, which no retry mends.
async fn existing_user(deps: &Deps, user_id: Uuid) -> Result<users::UserRow, ActivityError> {
    let mut conn = deps.read().await?;
    users::by_id(&mut conn, user_id)
        .await
        .map_err(|e| failure::from_sql(&e))?
        .ok_or_else(|| non_retryable(kind::REFERENCE_MISSING, format!("user {user_id} not found")))
}
