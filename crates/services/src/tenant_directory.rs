//! Tenant resolution by `X-Tenant-Slug` (api.md §1.3), cached up to 5 s per process. Status changes made
//! by Tenantry are announced with `NOTIFY tenantry_tenant_changed` and drop the cache at once.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tenantry_domain::Slug;
use tenantry_store::Db;
use tenantry_store::tenants::{self, TenantRow};
use tokio_util::sync::CancellationToken;

use crate::error::ServiceError;

const TTL: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct TenantDirectory {
    db: Db,
    cache: moka::future::Cache<String, TenantRow>,
}

/// A tenant that passed every check of §1.3: exists, not deleted, active, ready.
#[derive(Debug, Clone)]
pub struct ResolvedTenant {
    pub id: uuid::Uuid,
    pub slug: String,
    pub name: String,
    pub schema_name: String,
}

impl TenantDirectory {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(TTL)
                .build(),
        }
    }

    async fn lookup(&self, slug: &str) -> Result<Option<TenantRow>, ServiceError> {
        if let Some(row) = self.cache.get(slug).await {
            return Ok(Some(row));
        }
        let row = tenants::by_slug_pool(&self.db, slug).await?;
        // Unknown slugs are not cached, so a tenant created a moment later is found at once.
        if let Some(r) = &row {
            self.cache.insert(slug.to_owned(), r.clone()).await;
        }
        Ok(row)
    }

    /// The checks of §1.3 in their order; the header value is matched exactly.
    pub async fn resolve(&self, header: Option<&str>) -> Result<ResolvedTenant, ServiceError> {
        let raw = header.unwrap_or("");
        if raw.is_empty() {
            return Err(ServiceError::BadRequest(
                "X-Tenant-Slug header is required".to_owned(),
            ));
        }
        let not_found = || ServiceError::NotFound("Tenant not found".to_owned());
        let slug = Slug::parse(raw).map_err(|_| not_found())?;
        if slug.as_str() != raw {
            return Err(not_found());
        }
        let t = self.lookup(slug.as_str()).await?.ok_or_else(not_found)?;
        if t.deleted_at.is_some() {
            return Err(ServiceError::Gone("Tenant has been deleted".to_owned()));
        }
        if !t.is_active {
            return Err(ServiceError::Forbidden("Tenant is inactive".to_owned()));
        }
        if t.status != "ready" {
            return Err(ServiceError::Unavailable(format!("Tenant is {}", t.status)).into_visible());
        }
        Ok(ResolvedTenant {
            id: t.id,
            slug: t.slug,
            name: t.name,
            schema_name: t.schema_name,
        })
    }

    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }

    /// Listens for tenant changes until `shutdown`, reconnecting after database restarts. LISTEN needs a
    /// session, so it runs on the session pool (PostgreSQL itself behind a transaction-mode pooler).
    pub fn spawn_invalidation(&self, shutdown: CancellationToken) {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(mut listener) = PgListener::connect_with(this.db.session_pool()).await
                    && listener.listen("tenantry_tenant_changed").await.is_ok()
                {
                    {
                        // Anything may have changed while not listening.
                        this.invalidate_all();
                        loop {
                            tokio::select! {
                                () = shutdown.cancelled() => return,
                                n = listener.recv() => match n {
                                    Ok(_) => this.invalidate_all(),
                                    Err(_) => break,
                                },
                            }
                        }
                    }
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
    }
}
