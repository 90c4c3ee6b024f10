//! Liveness probes of the dependencies, shared by the API's `/health` and `/ready` and the worker's health
//! server. Each probe is cheap and bounded by the caller's timeout.

use async_trait::async_trait;

/// A dependency that can be asked whether it answers right now.
#[async_trait]
pub trait Probe: Send + Sync {
    /// `Ok` when the dependency answered; the error text is for logs only, never for responses.
    async fn check(&self) -> Result<(), String>;
}

/// `SELECT 1` on the application pool (simple protocol: safe behind a transaction-mode pooler).
pub struct DatabaseProbe(pub sqlx::PgPool);

#[async_trait]
impl Probe for DatabaseProbe {
    async fn check(&self) -> Result<(), String> {
        tenantry_store::ping(&self.0)
            .await
            .map_err(|e| e.to_string())
    }
}
