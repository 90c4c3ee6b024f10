//! Tenant views: the public provisioning status (api.md §5.3).

use serde::Serialize;
use tenantry_domain::Slug;
use tenantry_store::{outbox, tenants};

use crate::context::Services;
use crate::error::{ServiceError, ServiceResult};

/// ProvisioningStatus: nothing but the slug, a coarse status and a fixed error text.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProvisioningView {
    pub slug: String,
    pub status: &'static str,
    pub error: Option<&'static str>,
}

fn tenant_not_found() -> ServiceError {
    ServiceError::NotFound("Tenant not found".to_owned())
}

impl Services {
    pub async fn provisioning_status(&self, raw_slug: &str) -> ServiceResult<ProvisioningView> {
        let slug = Slug::parse(raw_slug).map_err(|_| tenant_not_found())?;
        let mut conn = self.db.acquire().await?;
        let tenant = tenants::by_slug(&mut conn, slug.as_str())
            .await?
            .ok_or_else(tenant_not_found)?;
        if tenant.deleted_at.is_some() {
            return Err(tenant_not_found());
        }
        let (status, error) = match tenant.status.as_str() {
            "ready" => ("ready", None),
            "failed" => ("failed", Some("Provisioning failed")),
            _ => {
                let started = outbox::is_dispatched(
                    &mut conn,
                    &tenantry_domain::provisioning_workflow_id(&slug),
                )
                .await?
                .unwrap_or(false);
                (if started { "provisioning" } else { "pending" }, None)
            }
        };
        Ok(ProvisioningView {
            slug: tenant.slug,
            status,
            error,
        })
    }
}
