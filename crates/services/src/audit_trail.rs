//! Audit rows that have no business transaction to ride in (failures, read-only events): written in their
//! own short transaction; a failed write is logged and counted but never fails the request (api.md §6).

use tenantry_store::audit::{self, AuditContext, NewAudit};

use crate::context::Services;

impl Services {
    pub(crate) async fn audit_alone(&self, ctx: &AuditContext, row: NewAudit<'_>) {
        let written = async {
            let mut tx = self.db.begin().await?;
            audit::insert(&mut tx, ctx, &row).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = written {
            metrics::counter!("tenantry_audit_write_failures_total").increment(1);
            tracing::warn!(action = row.action, error = %e, "audit row could not be written");
        }
    }
}
