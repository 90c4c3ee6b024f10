//! The billing seam of onboarding (workflows.md §4.3). Tenantry ships no billing integration: the
//! default provider does nothing, and a deployment plugs its own in through [`BillingProvider`].

use async_trait::async_trait;
use uuid::Uuid;

/// Why a provider did not return a customer. The split decides whether Temporal retries the step.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BillingError {
    /// Timeouts, 429s, 5xx: worth another attempt.
    #[error("billing provider unavailable: {0}")]
    Transient(String),
    /// The provider refused the request for good; becomes the non-retryable `BillingRejected`.
    #[error("billing provider rejected the customer: {0}")]
    Rejected(String),
}

/// Creates (or finds) the billing customer of a tenant. Implementations must be idempotent on
/// `idempotency_key` (`tenant:<tenant_id>`): the activity may call them more than once for one tenant.
#[async_trait]
pub trait BillingProvider: Send + Sync {
    /// The provider's customer id, or `None` when the provider keeps no customers.
    async fn ensure_customer(
        &self,
        tenant_id: Uuid,
        email: &str,
        name: &str,
        idempotency_key: &str,
    ) -> Result<Option<String>, BillingError>;
}

/// The default: no billing, so no customer id is ever stored.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBilling;

#[async_trait]
impl BillingProvider for NoBilling {
    async fn ensure_customer(
        &self,
        _tenant_id: Uuid,
        _email: &str,
        _name: &str,
        _idempotency_key: &str,
    ) -> Result<Option<String>, BillingError> {
        Ok(None)
    }
}
