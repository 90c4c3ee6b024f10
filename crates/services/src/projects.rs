//! Projects (api.md §5.6): tenant-schema data, reached only through a [`TenantTx`]. Success audit
//! rows (`project.create` / `project.update` / `project.delete`) are written in the same transaction.

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use serde_json::{Map, Value, json};
use tenantry_domain::{ProjectDescription, ProjectName, SchemaName};
use tenantry_store::audit::{self, AuditContext, NewAudit};
use tenantry_store::projects::{self, ProjectRow};
use tenantry_store::{TenantTx, constraint_name, is_foreign_key_violation, is_unique_violation};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::context::Services;
use crate::error::{ServiceError, ServiceResult};
use crate::pagination::{Page, PageRequest};
use crate::tenant_directory::ResolvedTenant;

pub const PROJECT_REFERENCED: &str = "Cannot delete project due to existing references";

/// api.md §3 ProjectRead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectView {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::time_format")]
    pub updated_at: OffsetDateTime,
}

impl From<&ProjectRow> for ProjectView {
    fn from(r: &ProjectRow) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            description: r.description.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A PATCH: `None` leaves a field as it is; `description: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProjectChanges {
    pub name: Option<ProjectName>,
    pub description: Option<Option<ProjectDescription>>,
}

pub fn project_not_found(id: Uuid) -> ServiceError {
    ServiceError::NotFound(format!("Project {} not found", id.hyphenated()))
}

pub fn name_taken(name: &str) -> ServiceError {
    ServiceError::Conflict(format!("Project with name '{name}' already exists"))
}

/// What ends one attempt of tenant work: a database error (which [`Services::in_tenant`] may retry)
/// or a business outcome, answered as is.
enum TxError {
    Db(sqlx::Error),
    Refused(ServiceError),
}

impl From<sqlx::Error> for TxError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e)
    }
}

/// The work is boxed so its future can borrow the transaction for any lifetime and stay `Send`.
type Work<'c, T> = Pin<Box<dyn Future<Output = Result<T, TxError>> + Send + 'c>>;

/// A write that collides with `uq_projects_name` is the client's 409; anything else stays a database
/// error.
fn or_name_taken(e: sqlx::Error, name: &str) -> TxError {
    if is_unique_violation(&e) && constraint_name(&e) == Some(projects::NAME_UNIQUE) {
        TxError::Refused(name_taken(name))
    } else {
        TxError::Db(e)
    }
}

fn audit_row(
    tenant_id: Uuid,
    user_id: Uuid,
    action: &'static str,
    project_id: Uuid,
    changes: Value,
) -> NewAudit<'static> {
    NewAudit::success(action, "project", project_id)
        .tenant(tenant_id)
        .by(user_id)
        .changes(changes)
}

/// `{before: {field: old}, after: {field: new}}` over the fields whose value differs.
fn diff(before: &ProjectRow, after: &ProjectRow) -> Option<Value> {
    let mut old = Map::new();
    let mut new = Map::new();
    if before.name != after.name {
        old.insert("name".to_owned(), json!(before.name));
        new.insert("name".to_owned(), json!(after.name));
    }
    if before.description != after.description {
        old.insert("description".to_owned(), json!(before.description));
        new.insert("description".to_owned(), json!(after.description));
    }
    if old.is_empty() {
        None
    } else {
        Some(json!({ "before": old, "after": new }))
    }
}

impl Services {
    /// Runs `work` in a [`TenantTx`] of the tenant and commits. A statement that fails because its
    /// cached plan no longer matches the schema (tenant schemas at different versions during a
    /// rollout) heals the connection and the whole unit runs once more (data-model.md §3.2).
    async fn in_tenant<T, F>(&self, tenant: &ResolvedTenant, mut work: F) -> ServiceResult<T>
    where
        F: for<'c> FnMut(&'c mut TenantTx) -> Work<'c, T>,
    {
        let schema = SchemaName::parse(&tenant.schema_name)
            .map_err(|e| ServiceError::Internal(format!("tenant {}: {e}", tenant.id)))?;
        let mut retried = false;
        loop {
            let mut tx = TenantTx::begin(&self.db, &schema).await?;
            match work(&mut tx).await {
                Ok(value) => {
                    tx.commit().await?;
                    return Ok(value);
                }
                Err(TxError::Db(e))
                    if !retried && tenantry_store::is_cached_plan_invalidated(&e) =>
                {
                    retried = true;
                    tx.rollback_after_error(&e).await?;
                }
                Err(TxError::Db(e)) => return Err(e.into()),
                Err(TxError::Refused(e)) => return Err(e),
            }
        }
    }

    /// `GET /projects`.
    pub async fn list_projects(
        &self,
        tenant: &ResolvedTenant,
        page: &PageRequest,
    ) -> ServiceResult<Page<ProjectView>> {
        let (after, fetch) = (page.after(), page.fetch());
        let rows = self
            .in_tenant(tenant, move |tx| {
                Box::pin(async move { Ok(projects::list(tx, after, fetch).await?) })
            })
            .await?;
        Ok(Page::from_rows(
            rows,
            page,
            |r| (r.created_at, r.id),
            |r| ProjectView::from(r),
        ))
    }

    /// `GET /projects/{id}`.
    pub async fn get_project(
        &self,
        tenant: &ResolvedTenant,
        id: Uuid,
    ) -> ServiceResult<ProjectView> {
        self.in_tenant(tenant, move |tx| {
            Box::pin(async move {
                match projects::by_id(tx, id).await? {
                    Some(row) => Ok(ProjectView::from(&row)),
                    None => Err(TxError::Refused(project_not_found(id))),
                }
            })
        })
        .await
    }

    /// `POST /projects`: 409 when the name is taken, also by a concurrent create that commits first.
    pub async fn create_project(
        &self,
        tenant: &ResolvedTenant,
        user_id: Uuid,
        name: ProjectName,
        description: Option<ProjectDescription>,
        ctx: &AuditContext,
    ) -> ServiceResult<ProjectView> {
        let tenant_id = tenant.id;
        self.in_tenant(tenant, move |tx| {
            let name = name.clone();
            let description = description.clone();
            let ctx = ctx.clone();
            Box::pin(async move {
                let row = projects::insert(
                    tx,
                    Uuid::now_v7(),
                    name.as_str(),
                    description.as_ref().map(ProjectDescription::as_str),
                )
                .await
                .map_err(|e| or_name_taken(e, name.as_str()))?;
                let changes = json!({ "name": row.name, "description": row.description });
                audit::insert(
                    tx,
                    &ctx,
                    &audit_row(tenant_id, user_id, "project.create", row.id, changes),
                )
                .await?;
                Ok(ProjectView::from(&row))
            })
        })
        .await
    }

    /// `PATCH /projects/{id}`. A change that leaves every field as it was writes nothing (no
    /// `updated_at` bump, no audit row) and answers the project as it is.
    pub async fn update_project(
        &self,
        tenant: &ResolvedTenant,
        user_id: Uuid,
        id: Uuid,
        changes: ProjectChanges,
        ctx: &AuditContext,
    ) -> ServiceResult<ProjectView> {
        let tenant_id = tenant.id;
        self.in_tenant(tenant, move |tx| {
            let changes = changes.clone();
            let ctx = ctx.clone();
            Box::pin(async move {
                let Some(before) = projects::lock(tx, id).await? else {
                    return Err(TxError::Refused(project_not_found(id)));
                };
                let name = changes
                    .name
                    .map_or_else(|| before.name.clone(), ProjectName::into_string);
                let description = match changes.description {
                    None => before.description.clone(),
                    Some(d) => d.map(ProjectDescription::into_string),
                };
                if name == before.name && description == before.description {
                    return Ok(ProjectView::from(&before));
                }
                let Some(after) = projects::update(tx, id, &name, description.as_deref())
                    .await
                    .map_err(|e| or_name_taken(e, &name))?
                else {
                    return Err(TxError::Refused(project_not_found(id)));
                };
                if let Some(diff) = diff(&before, &after) {
                    audit::insert(
                        tx,
                        &ctx,
                        &audit_row(tenant_id, user_id, "project.update", id, diff),
                    )
                    .await?;
                }
                Ok(ProjectView::from(&after))
            })
        })
        .await
    }

    /// `DELETE /projects/{id}`: 409 while other tenant data references the project.
    pub async fn delete_project(
        &self,
        tenant: &ResolvedTenant,
        user_id: Uuid,
        id: Uuid,
        ctx: &AuditContext,
    ) -> ServiceResult<()> {
        let tenant_id = tenant.id;
        self.in_tenant(tenant, move |tx| {
            let ctx = ctx.clone();
            Box::pin(async move {
                let deleted = projects::delete(tx, id).await.map_err(|e| {
                    if is_foreign_key_violation(&e) {
                        TxError::Refused(ServiceError::Conflict(PROJECT_REFERENCED.to_owned()))
                    } else {
                        TxError::Db(e)
                    }
                })?;
                let Some(row) = deleted else {
                    return Err(TxError::Refused(project_not_found(id)));
                };
                let changes = json!({ "name": row.name, "description": row.description });
                audit::insert(
                    tx,
                    &ctx,
                    &audit_row(tenant_id, user_id, "project.delete", id, changes),
                )
                .await?;
                Ok(())
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, description: Option<&str>) -> ProjectRow {
        ProjectRow {
            id: Uuid::nil(),
            name: name.to_owned(),
            description: description.map(str::to_owned),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn diff_lists_only_changed_fields() {
        assert_eq!(diff(&row("a", None), &row("a", None)), None);
        assert_eq!(
            diff(&row("a", Some("d")), &row("b", Some("d"))),
            Some(json!({ "before": { "name": "a" }, "after": { "name": "b" } }))
        );
        assert_eq!(
            diff(&row("a", Some("d")), &row("a", None)),
            Some(json!({ "before": { "description": "d" }, "after": { "description": null } }))
        );
    }

    #[test]
    fn messages() {
        let id = Uuid::from_u128(0x0190_b2a4_7c3e_7d1a_9f00_1234_5678_9abc);
        assert_eq!(
            project_not_found(id).to_string(),
            "not found: Project 0190b2a4-7c3e-7d1a-9f00-123456789abc not found"
        );
        assert_eq!(
            name_taken("Apollo").to_string(),
            "conflict: Project with name 'Apollo' already exists"
        );
    }
}
