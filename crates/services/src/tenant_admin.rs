//! Tenant lifecycle for admins and superusers (api.md §5.3, §5.7): deletion through the outbox, and the
//! superuser's status view.

use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use tenantry_domain::{Email, LoginPassword, SchemaName, Slug, TenantName, deletion_workflow_id};
use tenantry_store::audit::{self, AuditContext, NewAudit};
use tenantry_store::{executions, is_unique_violation, tenants, users};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Principal;
use crate::context::Services;
use crate::error::{ServiceError, ServiceResult};
use crate::registration::slug_conflict;
use crate::tenant_directory::ResolvedTenant;
use crate::workflow_requests::{request_deletion, request_provisioning};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeletionStarted {
    pub status: &'static str,
    pub workflow_id: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TenantCreated {
    pub workflow_id: String,
    pub slug: String,
    pub status: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BulkDeletion {
    pub status: &'static str,
    pub count: usize,
    pub workflow_ids: Vec<String>,
    pub has_more: bool,
}

/// TenantRead (api.md §3).
#[derive(Debug, Clone, Serialize)]
pub struct TenantView {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub status: String,
    pub is_active: bool,
    #[serde(with = "crate::time_format")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::time_format::option")]
    pub deleted_at: Option<OffsetDateTime>,
}

impl From<&tenants::TenantRow> for TenantView {
    fn from(t: &tenants::TenantRow) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            slug: t.slug.clone(),
            status: t.status.clone(),
            is_active: t.is_active,
            created_at: t.created_at,
            deleted_at: t.deleted_at,
        }
    }
}

/// WorkflowExecutionRead (api.md §3).
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionView {
    pub workflow_id: String,
    pub workflow_type: String,
    pub status: String,
    pub error_message: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::time_format::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "crate::time_format::option")]
    pub completed_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantStatusView {
    pub status: String,
    pub tenant: Option<TenantView>,
    pub error: Option<String>,
    pub workflow: Option<ExecutionView>,
}

async fn lock_tenant(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT status, slug FROM public.tenants WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await
}

impl Services {
    /// Soft-deletes a ready or failed tenant and requests the deletion workflow, in the caller's transaction.
    async fn start_deletion(
        &self,
        conn: &mut PgConnection,
        tenant_id: Uuid,
        actor: &Principal,
        ctx: &AuditContext,
    ) -> ServiceResult<String> {
        let change = tenants::set_status(conn, tenant_id, &["ready", "failed"], "deleting").await?;
        if !matches!(
            change,
            tenants::StatusChange::Changed | tenants::StatusChange::AlreadyThere
        ) {
            return Err(ServiceError::Conflict(
                "Tenant cannot be deleted in its current state".to_owned(),
            ));
        }
        let workflow_id = request_deletion(conn, &self.settings, tenant_id).await?;
        audit::insert(
            conn,
            ctx,
            &NewAudit::success("tenant.delete", "tenant", tenant_id)
                .tenant(tenant_id)
                .by(actor.user_id)
                .changes(json!({ "status": { "after": "deleting" } })),
        )
        .await?;
        Ok(workflow_id)
    }

    /// `DELETE /tenants/{slug}` by one of its admins, who confirms with the slug and their password.
    pub async fn delete_own_tenant(
        &self,
        actor: &Principal,
        tenant: &ResolvedTenant,
        password: &LoginPassword,
        ctx: &AuditContext,
    ) -> ServiceResult<DeletionStarted> {
        let hash = {
            let mut conn = self.db.read().await?;
            users::by_id(&mut conn, actor.user_id)
                .await?
                .map(|u| u.hashed_password)
        };
        if !self
            .passwords
            .verify(password.expose().to_owned(), hash)
            .await?
        {
            return Err(ServiceError::BadRequest(
                "Current password is incorrect".to_owned(),
            ));
        }
        let mut tx = self.db.begin().await?;
        match lock_tenant(&mut tx, tenant.id).await?.map(|r| r.0) {
            Some(s) if s == "ready" || s == "failed" => {}
            Some(s) if s == "deleting" || s == "deleted" => {
                return Err(ServiceError::Gone("Tenant has been deleted".to_owned()));
            }
            _ => return Err(ServiceError::NotFound("Tenant not found".to_owned())),
        }
        let workflow_id = self.start_deletion(&mut tx, tenant.id, actor, ctx).await?;
        tx.commit().await?;
        self.tenants.invalidate_all();
        Ok(DeletionStarted {
            status: "deletion_started",
            workflow_id,
        })
    }

    /// `DELETE /admin/tenants/{tenant_id}`: repeating it while deletion runs answers the same body.
    pub async fn admin_delete_tenant(
        &self,
        actor: &Principal,
        tenant_id: Uuid,
        ctx: &AuditContext,
    ) -> ServiceResult<DeletionStarted> {
        let mut tx = self.db.begin().await?;
        let workflow_id = match lock_tenant(&mut tx, tenant_id)
            .await?
            .map(|r| r.0)
            .as_deref()
        {
            None => return Err(ServiceError::NotFound("Tenant not found".to_owned())),
            Some("deleted") => {
                return Err(ServiceError::NotFound("Tenant already deleted".to_owned()));
            }
            Some("provisioning") => {
                return Err(ServiceError::Conflict(
                    "Tenant is still provisioning".to_owned(),
                ));
            }
            Some("deleting") => deletion_workflow_id(&tenant_id),
            Some(_) => self.start_deletion(&mut tx, tenant_id, actor, ctx).await?,
        };
        tx.commit().await?;
        self.tenants.invalidate_all();
        Ok(DeletionStarted {
            status: "deletion_started",
            workflow_id,
        })
    }

    /// `DELETE /admin/tenants?status=…&confirm=true`: at most 500 tenants of one status per call.
    pub async fn admin_bulk_delete(
        &self,
        actor: &Principal,
        status: &str,
        ctx: &AuditContext,
    ) -> ServiceResult<BulkDeletion> {
        const BATCH: usize = 500;
        let mut tx = self.db.begin().await?;
        // SKIP LOCKED: two concurrent bulk calls split the work instead of waiting on each other.
        let ids: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT id FROM public.tenants WHERE status = $1 AND deleted_at IS NULL \
             ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(status)
        .bind(i64::try_from(BATCH + 1).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        let has_more = ids.len() > BATCH;
        let mut workflow_ids = Vec::with_capacity(ids.len().min(BATCH));
        for (id,) in ids.into_iter().take(BATCH) {
            workflow_ids.push(self.start_deletion(&mut tx, id, actor, ctx).await?);
        }
        tx.commit().await?;
        self.tenants.invalidate_all();
        Ok(BulkDeletion {
            status: "deletion_started",
            count: workflow_ids.len(),
            workflow_ids,
            has_more,
        })
    }

    /// `POST /tenants` (superuser): an admin-created, already claimed tenant, provisioned through the outbox;
    /// with an owner email, provisioning ends by inviting that address as admin.
    pub async fn create_tenant(
        &self,
        actor: &Principal,
        name: &TenantName,
        slug: &Slug,
        owner_email: Option<&Email>,
        ctx: &AuditContext,
    ) -> ServiceResult<TenantCreated> {
        let schema = SchemaName::from_slug(slug);
        let mut tx = self.db.begin().await?;
        if tenants::slug_taken(&mut tx, slug.as_str(), schema.as_str()).await? {
            return Err(slug_conflict(slug.as_str()));
        }
        let tenant_id = Uuid::now_v7();
        let inserted = tenants::insert(
            &mut tx,
            &tenants::NewTenant {
                id: tenant_id,
                name: name.as_str(),
                slug: slug.as_str(),
                origin: "admin",
                registered_by_user_id: None,
                claimed: true,
            },
        )
        .await;
        if let Err(e) = inserted {
            return Err(if is_unique_violation(&e) {
                slug_conflict(slug.as_str())
            } else {
                e.into()
            });
        }
        let owner_invite = owner_email
            .map(|e| json!({ "email": e.as_str(), "invited_by_user_id": actor.user_id }));
        let workflow_id =
            request_provisioning(&mut tx, &self.settings, slug, tenant_id, None, owner_invite)
                .await?;
        audit::insert(
            &mut tx,
            ctx,
            &NewAudit::success("tenant.create", "tenant", tenant_id)
                .tenant(tenant_id)
                .by(actor.user_id)
                .changes(json!({ "name": name.as_str(), "slug": slug.as_str(), "owner_invited": owner_email.is_some() })),
        )
        .await?;
        tx.commit().await?;
        Ok(TenantCreated {
            workflow_id,
            slug: slug.as_str().to_owned(),
            status: "provisioning",
        })
    }

    /// `GET /tenants/{slug}/status` for superusers.
    pub async fn tenant_status(&self, slug: &str) -> ServiceResult<TenantStatusView> {
        let not_found = || ServiceError::NotFound(format!("Tenant '{slug}' not found"));
        // No tenant has a malformed slug; and one holding U+0000 would fail the query itself.
        if Slug::parse(slug).is_err() {
            return Err(not_found());
        }
        let mut conn = self.db.read().await?;
        let t = tenants::by_slug(&mut conn, slug)
            .await?
            .ok_or_else(not_found)?;
        let workflow_id = format!("tenant-provision-{}", t.slug);
        let execution = executions::by_workflow_id(&mut conn, &workflow_id).await?;
        let error = if t.status == "failed" {
            execution.as_ref().and_then(|e| e.error_message.clone())
        } else {
            None
        };
        Ok(TenantStatusView {
            status: t.status.clone(),
            tenant: (t.status == "ready").then(|| TenantView::from(&t)),
            error,
            workflow: execution.map(|e| ExecutionView {
                workflow_id: e.workflow_id,
                workflow_type: e.workflow_type,
                status: e.status,
                error_message: e.error_message,
                created_at: e.created_at,
                started_at: e.started_at,
                completed_at: e.completed_at,
            }),
        })
    }
}
