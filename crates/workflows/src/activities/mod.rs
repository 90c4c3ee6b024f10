//! Activities: idempotent steps that converge to one end state however often and however concurrently
//! they run (workflows.md §3, §5). Each area is its own type so its registrations stay together.

pub mod cleanup;
pub mod email;
pub mod onboarding;
pub mod tenant;

use std::sync::Arc;

use sqlx::PgPool;
use tenantry_services::email::Mailer;
use tenantry_settings::Settings;

use crate::billing::BillingProvider;

/// What activities reach: the pool, settings, the mail backend and the billing provider.
pub struct Deps {
    pub db: PgPool,
    pub settings: Arc<Settings>,
    pub mailer: Arc<dyn Mailer>,
    /// [`crate::billing::NoBilling`] unless a deployment wires a real provider.
    pub billing: Arc<dyn BillingProvider>,
}

impl Deps {
    /// A pooled connection; failing to get one is a transient activity failure.
    pub(crate) async fn conn(
        &self,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, temporalio_sdk::activities::ActivityError>
    {
        self.db
            .acquire()
            .await
            .map_err(|e| crate::failure::from_sql(&e))
    }

    /// Test-only injected delay (refused in production by settings), so crash tests can kill a worker
    /// while a named step runs.
    pub(crate) async fn test_delay(&self, activity: &str) {
        if let Some(delay) = self.settings.test_hooks.activity_delays.get(activity) {
            tracing::debug!(activity, ?delay, "test hook: delaying activity");
            tokio::time::sleep(*delay).await;
        }
    }
}
