//! Activities: idempotent steps that converge to one end state however often and however concurrently
//! they run (workflows.md §3, §5). Each area is its own type so its registrations stay together.

pub mod cleanup;
pub mod email;
pub mod onboarding;
pub mod tenant;

use std::sync::Arc;

use sqlx::{Postgres, Transaction};
use tenantry_services::email::Mailer;
use tenantry_settings::Settings;
use tenantry_store::{Db, ReadConn};

use crate::billing::BillingProvider;

/// What activities reach: the database, settings, the mail backend and the billing provider.
pub struct Deps {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub mailer: Arc<dyn Mailer>,
    /// [`crate::billing::NoBilling`] unless a deployment wires a real provider.
    pub billing: Arc<dyn BillingProvider>,
}

impl Deps {
    /// A connection for reads ([`Db::read`]); failing to get one is a transient activity failure.
    pub(crate) async fn read(&self) -> Result<ReadConn, temporalio_sdk::activities::ActivityError> {
        self.db
            .read()
            .await
            .map_err(|e| crate::failure::from_sql(&e))
    }

    /// A transaction for writes, ended with [`Deps::commit`]: each activity's writes commit together, and
    /// they run behind a transaction-mode pooler too ([`Db`]).
    pub(crate) async fn begin(
        &self,
    ) -> Result<Transaction<'static, Postgres>, temporalio_sdk::activities::ActivityError> {
        self.db
            .begin()
            .await
            .map_err(|e| crate::failure::from_sql(&e))
    }

    pub(crate) async fn commit(
        tx: Transaction<'static, Postgres>,
    ) -> Result<(), temporalio_sdk::activities::ActivityError> {
        tx.commit().await.map_err(|e| crate::failure::from_sql(&e))
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
