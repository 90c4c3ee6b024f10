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
        let mut conn = self.db.read().await?;
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

impl Services {
    /// `GET /users/me/tenants` and `GET /tenants`: active memberships in active, undeleted tenants.
    pub async fn my_tenants(
        &self,
        caller: &crate::auth::Principal,
        page: &crate::pagination::PageRequest,
    ) -> ServiceResult<crate::pagination::Page<crate::tenant_admin::TenantView>> {
        let mut conn = self.db.read().await?;
        let rows =
            tenants::for_member(&mut conn, caller.user_id, page.after(), page.fetch()).await?;
        Ok(crate::pagination::Page::from_rows(
            rows,
            page,
            |t| (t.created_at, t.id),
            |t| crate::tenant_admin::TenantView::from(t),
        ))
    }

    /// `GET /tenants/{slug}`: members see their undeleted tenant, superusers every tenant; anyone else
    /// learns nothing, not even whether it exists.
    pub async fn tenant_for(
        &self,
        caller: &crate::auth::Principal,
        raw_slug: &str,
    ) -> ServiceResult<crate::tenant_admin::TenantView> {
        let slug = Slug::parse(raw_slug).map_err(|_| tenant_not_found())?;
        let mut conn = self.db.read().await?;
        let tenant = tenants::by_slug(&mut conn, slug.as_str())
            .await?
            .ok_or_else(tenant_not_found)?;
        let superuser = caller.is_superuser && caller.assumed_by.is_none();
        if !superuser {
            let member = matches!(
                tenantry_store::sessions::membership(&mut conn, caller.user_id, tenant.id).await?,
                Some((_, true))
            );
            if !member || tenant.deleted_at.is_some() {
                return Err(tenant_not_found());
            }
        }
        Ok(crate::tenant_admin::TenantView::from(&tenant))
    }
}
