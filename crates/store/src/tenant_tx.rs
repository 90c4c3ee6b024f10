//! The only way to reach tenant data (data-model.md §3.2).
//!
//! The tenant `search_path` is set with `set_config(…, true)`, i.e. transaction-local: it ends with
//! the transaction whether that commits, rolls back, or is abandoned because the owning task was
//! cancelled (sqlx rolls the dropped transaction back before the connection is reused). A
//! session-level `SET search_path` could outlive a cancelled task on a pooled connection and would
//! break behind transaction-mode poolers, so it is never used. The transaction comes from [`Db::begin`],
//! so it is equally scoped when `DATABASE_URL` is a transaction-mode pooler.

use std::ops::{Deref, DerefMut};

use sqlx::{PgConnection, Postgres, Transaction};
use tenantry_domain::SchemaName;

use crate::db::Db;
use crate::error::StoreError;

/// A transaction whose `search_path` is the tenant schema only (`public` is not on it, so public
/// tables must be written `public.table`). Dereferences to [`PgConnection`] for running queries:
/// `sqlx::query(…).execute(&mut *tx)`.
#[derive(Debug)]
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    schema: SchemaName,
}

impl TenantTx {
    pub async fn begin(db: &Db, schema: &SchemaName) -> Result<TenantTx, StoreError> {
        let mut tx = db.begin().await?;
        // Bound as a parameter, never spliced: the quoted name is data for set_config.
        sqlx::query("SELECT set_config('search_path', $1, true)")
            .bind(schema.quoted())
            .execute(&mut *tx)
            .await?;
        Ok(TenantTx {
            tx,
            schema: schema.clone(),
        })
    }

    pub fn schema(&self) -> &SchemaName {
        &self.schema
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }

    /// Rolls back after a failed statement, first healing the connection when `err` is
    /// `0A000 cached plan must not change result type` (see
    /// [`is_cached_plan_invalidated`](crate::error::is_cached_plan_invalidated)): PostgreSQL
    /// refuses that prepared statement on this connection until it is re-prepared, so the
    /// connection's statement cache is dropped before it returns to the pool. The caller then
    /// retries once in a new `TenantTx`. Each pooled connection heals on its own first failure.
    pub async fn rollback_after_error(mut self, err: &sqlx::Error) -> Result<(), StoreError> {
        if crate::error::is_cached_plan_invalidated(err) {
            use sqlx::Connection as _;
            if let Err(error) = self.tx.clear_cached_statements().await {
                tracing::warn!(%error, "could not clear prepared statements after a stale plan");
            }
        }
        self.rollback().await
    }
}

impl Deref for TenantTx {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

impl AsMut<PgConnection> for TenantTx {
    fn as_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}
