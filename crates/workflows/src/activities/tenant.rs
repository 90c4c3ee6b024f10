//! Provisioning and deletion steps of a tenant (workflows.md §5). Each converges to one end state however
//! often and however concurrently it runs: inserts ignore what exists, status writes are compare-and-set,
//! DDL uses IF [NOT] EXISTS.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tenantry_domain::SchemaName;
use tenantry_services::email::templates;
use tenantry_store::migrate::tenant::{MigrateError, MigrateOptions, TenantMigrations};
use tenantry_store::tenants::{StatusChange, TenantRow};
use tenantry_store::{email, executions, invites, memberships, tenants, users};
use uuid::Uuid;

use super::Deps;
use crate::failure::{self, kind, non_retryable, retryable};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantRef {
    pub tenant_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantInfo {
    pub id: Uuid,
    pub slug: String,
    pub schema_name: String,
    pub status: String,
    pub deleted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembershipRef {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusTransition {
    pub tenant_id: Uuid,
    pub from: Vec<String>,
    pub to: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompleteExecution {
    pub workflow_id: String,
    pub status: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OwnerInviteInput {
    pub tenant_id: Uuid,
    pub email: String,
    pub invited_by_user_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OwnerInviteRef {
    pub tenant_id: Uuid,
    pub email: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailRef {
    pub email_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DropOutcome {
    pub schema_existed: bool,
}

pub struct TenantActivities {
    pub deps: Arc<Deps>,
}

async fn load(deps: &Deps, tenant_id: Uuid) -> Result<TenantRow, ActivityError> {
    let mut conn = deps.read().await?;
    tenants::by_id(&mut conn, tenant_id)
        .await
        .map_err(|e| failure::from_sql(&e))?
        .ok_or_else(|| {
            non_retryable(
                kind::TENANT_NOT_FOUND,
                format!("tenant {tenant_id} not found"),
            )
        })
}

fn schema_of(t: &TenantRow) -> Result<SchemaName, ActivityError> {
    SchemaName::parse(&t.schema_name)
        .map_err(|e| non_retryable(kind::INVALID_SCHEMA_NAME, e.to_string()))
}

/// Concurrent `CREATE SCHEMA IF NOT EXISTS` can still collide in the catalog (42P06 or 23505): the schema
/// exists either way.
fn is_concurrent_create(e: &sqlx::Error) -> bool {
    matches!(
        tenantry_store::sqlstate(e).as_deref(),
        Some("42P06" | "23505")
    )
}

#[activities]
impl TenantActivities {
    #[activity(name = "load_tenant")]
    pub async fn load_tenant(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: TenantRef,
    ) -> Result<TenantInfo, ActivityError> {
        self.deps.test_delay("load_tenant").await;
        let t = load(&self.deps, input.tenant_id).await?;
        Ok(TenantInfo {
            id: t.id,
            slug: t.slug,
            schema_name: t.schema_name,
            status: t.status,
            deleted: t.deleted_at.is_some(),
        })
    }

    #[activity(name = "create_tenant_schema")]
    pub async fn create_tenant_schema(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: TenantRef,
    ) -> Result<(), ActivityError> {
        self.deps.test_delay("create_tenant_schema").await;
        let schema = schema_of(&load(&self.deps, input.tenant_id).await?)?;
        let mut tx = self.deps.begin().await?;
        let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {}", schema.quoted()))
            .execute(&mut *tx)
            .await;
        match created {
            Ok(_) => Deps::commit(tx).await,
            Err(e) if is_concurrent_create(&e) => Ok(()),
            Err(e) => Err(failure::from_sql(&e)),
        }
    }

    /// Applies pending tenant migrations under the schema's advisory lock, heartbeating meanwhile so a
    /// dead worker is noticed after the heartbeat timeout rather than the ten-minute bound.
    #[activity(name = "migrate_tenant_schema")]
    pub async fn migrate_tenant_schema(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: TenantRef,
    ) -> Result<(), ActivityError> {
        let deps = &self.deps;
        let tenant = load(deps, input.tenant_id).await?;
        let schema = schema_of(&tenant)?;
        let embedded = TenantMigrations::embedded();
        let with_failure;
        let set: &TenantMigrations = if deps.settings.test_hooks.fail_tenant_migration {
            let mut files: Vec<(i64, String, String)> = embedded
                .iter()
                .map(|m| (m.version(), m.description().to_owned(), m.sql().to_owned()))
                .collect();
            let next = embedded.latest_version() + 1;
            files.push((
                next,
                "test hook: fails halfway".to_owned(),
                "CREATE TABLE half (id int); SELECT 1/0;".to_owned(),
            ));
            with_failure = TenantMigrations::new(files).map_err(|e| retryable(e.to_string()))?;
            &with_failure
        } else {
            embedded
        };
        let options = MigrateOptions {
            lock_wait: None,
            ..MigrateOptions::default()
        };
        let migrate = async {
            deps.test_delay("migrate_tenant_schema").await;
            tenantry_store::migrate_schema(
                deps.db.session_pool(),
                &schema,
                tenant.id,
                set,
                &options,
                &mut |_| {},
            )
            .await
        };
        let heartbeat = async {
            let mut beat: u64 = 0;
            loop {
                let _ = ctx.record_heartbeat(beat).await;
                beat += 1;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        };
        let result = tokio::select! {
            r = migrate => r,
            () = heartbeat => return Err(retryable("heartbeat loop ended")),
        };
        match result {
            Ok(_) => Ok(()),
            Err(MigrateError::ChecksumMismatch { .. }) => Err(non_retryable(
                kind::MIGRATION_CHECKSUM_MISMATCH,
                result_text(&result),
            )),
            Err(ref e @ MigrateError::MigrationFailed { .. }) if !e.is_transient() => {
                Err(non_retryable(kind::MIGRATION_FAILED, e.to_string()))
            }
            Err(e) => Err(retryable(e.to_string())),
        }
    }

    #[activity(name = "create_admin_membership")]
    pub async fn create_admin_membership(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: MembershipRef,
    ) -> Result<(), ActivityError> {
        create_admin_membership(&self.deps, &input).await
    }

    /// One transaction: a pending admin invite and its email (dedupe key `owner-invite:<tenant_id>`). A
    /// re-run finds the email already queued and returns it, with no new token.
    #[activity(name = "create_owner_invite")]
    pub async fn create_owner_invite(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: OwnerInviteInput,
    ) -> Result<EmailRef, ActivityError> {
        let deps = &self.deps;
        let dedupe = format!("owner-invite:{}", input.tenant_id);
        let mut tx = deps.db.begin().await.map_err(|e| failure::from_sql(&e))?;
        if let Some(email_id) = invites::email_by_dedupe(&mut tx, &dedupe)
            .await
            .map_err(|e| failure::from_sql(&e))?
        {
            return Ok(EmailRef { email_id });
        }
        let tenant = tenants::by_id(&mut tx, input.tenant_id)
            .await
            .map_err(|e| failure::from_sql(&e))?
            .ok_or_else(|| {
                non_retryable(
                    kind::TENANT_NOT_FOUND,
                    format!("tenant {} not found", input.tenant_id),
                )
            })?;
        let settings = &deps.settings;
        let token = tenantry_services::tokens::new_token();
        invites::insert_pending_if_absent(
            &mut tx,
            input.tenant_id,
            &input.email,
            "admin",
            &tenantry_domain::token_hash(&token),
            input.invited_by_user_id,
            settings.invite_expire_days,
        )
        .await
        .map_err(|e| failure::from_sql(&e))?;
        let rendered = templates::invite(
            &settings.app_url,
            &settings.app_name,
            &tenant.name,
            &token,
            settings.invite_expire_days,
        );
        let email_id = email::enqueue(
            &mut tx,
            &email::NewEmail {
                id: Uuid::now_v7(),
                kind: rendered.kind,
                to_email: &input.email,
                subject: &rendered.subject,
                body_text: &rendered.body_text,
                body_html: &rendered.body_html,
                action_url: rendered.action_url.as_deref(),
                action_token: settings.app_env.is_dev_like().then_some(token.as_str()),
                dedupe_key: Some(&dedupe),
                user_id: None,
                tenant_id: Some(input.tenant_id),
            },
        )
        .await
        .map_err(|e| failure::from_sql(&e))?;
        tx.commit().await.map_err(|e| failure::from_sql(&e))?;
        Ok(EmailRef { email_id })
    }

    #[activity(name = "cancel_owner_invite")]
    pub async fn cancel_owner_invite(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: OwnerInviteRef,
    ) -> Result<(), ActivityError> {
        let mut tx = self.deps.begin().await?;
        invites::cancel_pending(&mut tx, input.tenant_id, &input.email)
            .await
            .map_err(|e| failure::from_sql(&e))?;
        Deps::commit(tx).await
    }

    #[activity(name = "remove_membership")]
    pub async fn remove_membership(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: MembershipRef,
    ) -> Result<(), ActivityError> {
        let mut tx = self.deps.begin().await?;
        memberships::remove(&mut tx, input.tenant_id, input.user_id)
            .await
            .map_err(|e| failure::from_sql(&e))?;
        Deps::commit(tx).await
    }

    #[activity(name = "set_tenant_status")]
    pub async fn set_tenant_status(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: StatusTransition,
    ) -> Result<(), ActivityError> {
        self.deps.test_delay("set_tenant_status").await;
        let from: Vec<&str> = input.from.iter().map(String::as_str).collect();
        let mut tx = self.deps.begin().await?;
        let change = tenants::set_status(&mut tx, input.tenant_id, &from, &input.to)
            .await
            .map_err(|e| failure::from_sql(&e))?;
        Deps::commit(tx).await?;
        status_outcome(
            change,
            input.tenant_id,
            &format!("cannot become {}", input.to),
        )
    }

    #[activity(name = "complete_execution")]
    pub async fn complete_execution(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: CompleteExecution,
    ) -> Result<(), ActivityError> {
        self.deps.test_delay("complete_execution").await;
        let mut tx = self.deps.begin().await?;
        let outcome = executions::complete(
            &mut tx,
            &input.workflow_id,
            &input.status,
            input.error.as_deref(),
        )
        .await
        .map_err(|e| failure::from_sql(&e))?;
        Deps::commit(tx).await?;
        if outcome == executions::CompleteOutcome::Missing {
            tracing::warn!(workflow_id = %input.workflow_id, "no execution record to complete");
        }
        Ok(())
    }

    /// Drops the schema whatever state it is in; a lock timeout is retried.
    #[activity(name = "drop_tenant_schema")]
    pub async fn drop_tenant_schema(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: TenantRef,
    ) -> Result<DropOutcome, ActivityError> {
        self.deps.test_delay("drop_tenant_schema").await;
        let tenant = load(&self.deps, input.tenant_id).await?;
        let schema = schema_of(&tenant)?;
        let mut tx = self
            .deps
            .db
            .begin()
            .await
            .map_err(|e| failure::from_sql(&e))?;
        let existed: Option<(i32,)> =
            sqlx::query_as("SELECT 1 FROM pg_namespace WHERE nspname = $1")
                .bind(schema.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| failure::from_sql(&e))?;
        sqlx::query("SET LOCAL lock_timeout = '5s'")
            .execute(&mut *tx)
            .await
            .map_err(|e| failure::from_sql(&e))?;
        sqlx::query(&format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            schema.quoted()
        ))
        .execute(&mut *tx)
        .await
        .map_err(|e| failure::from_sql(&e))?;
        tenants::delete_schema_version(&mut tx, tenant.id)
            .await
            .map_err(|e| failure::from_sql(&e))?;
        tx.commit().await.map_err(|e| failure::from_sql(&e))?;
        Ok(DropOutcome {
            schema_existed: existed.is_some(),
        })
    }

    #[activity(name = "soft_delete_tenant")]
    pub async fn soft_delete_tenant(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: TenantRef,
    ) -> Result<(), ActivityError> {
        self.deps.test_delay("soft_delete_tenant").await;
        let mut tx = self.deps.begin().await?;
        let change = tenants::soft_delete(&mut tx, input.tenant_id)
            .await
            .map_err(|e| failure::from_sql(&e))?;
        Deps::commit(tx).await?;
        status_outcome(change, input.tenant_id, "it cannot be deleted")
    }

    #[activity(name = "revoke_tenant_sessions")]
    pub async fn revoke_tenant_sessions(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: TenantRef,
    ) -> Result<u64, ActivityError> {
        self.deps.test_delay("revoke_tenant_sessions").await;
        let mut tx = self.deps.begin().await?;
        let revoked = sqlx::query(
            "UPDATE public.refresh_token_families SET revoked_at = now(), revoked_reason = 'tenant_deleted' \
             WHERE tenant_id = $1 AND revoked_at IS NULL",
        )
        .bind(input.tenant_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| failure::from_sql(&e))?
        .rows_affected();
        Deps::commit(tx).await?;
        Ok(revoked)
    }

    #[activity(name = "cancel_tenant_invites")]
    pub async fn cancel_tenant_invites(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: TenantRef,
    ) -> Result<u64, ActivityError> {
        self.deps.test_delay("cancel_tenant_invites").await;
        let mut tx = self.deps.begin().await?;
        let cancelled = sqlx::query(
            "UPDATE public.tenant_invites SET status = 'cancelled', cancelled_at = now() \
             WHERE tenant_id = $1 AND status = 'pending'",
        )
        .bind(input.tenant_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| failure::from_sql(&e))?
        .rows_affected();
        Deps::commit(tx).await?;
        Ok(cancelled)
    }

    #[activity(name = "delete_unverified_registrant")]
    pub async fn delete_unverified_registrant(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: TenantRef,
    ) -> Result<bool, ActivityError> {
        self.deps.test_delay("delete_unverified_registrant").await;
        let mut tx = self.deps.begin().await?;
        let deleted = users::delete_unverified_registrant(&mut tx, input.tenant_id)
            .await
            .map_err(|e| failure::from_sql(&e))?;
        Deps::commit(tx).await?;
        Ok(deleted)
    }
}

/// A status write that reached (or already was at) its target succeeds; anything else is final.
fn status_outcome(
    change: StatusChange,
    tenant_id: Uuid,
    refusal: &str,
) -> Result<(), ActivityError> {
    match change {
        StatusChange::Changed | StatusChange::AlreadyThere => Ok(()),
        StatusChange::Missing => Err(non_retryable(
            kind::TENANT_NOT_FOUND,
            format!("tenant {tenant_id} not found"),
        )),
        StatusChange::Refused { current } => Err(non_retryable(
            kind::INVALID_TRANSITION,
            format!("tenant {tenant_id} is {current}; {refusal}"),
        )),
    }
}

/// The body of `create_admin_membership`, callable directly so tests can run it many times at once.
/// An existing membership is success; a missing user or tenant (23503) is `ReferenceMissing`, not retried.
pub async fn create_admin_membership(
    deps: &Deps,
    input: &MembershipRef,
) -> Result<(), ActivityError> {
    deps.test_delay("create_admin_membership").await;
    let mut tx = deps.begin().await?;
    match memberships::insert_admin_if_absent(&mut tx, input.tenant_id, input.user_id).await {
        Ok(_) => Deps::commit(tx).await,
        // Unreachable with ON CONFLICT, but a unique violation means "already done" whatever produced it.
        Err(e) if tenantry_store::is_unique_violation(&e) => Ok(()),
        Err(e) => Err(failure::from_sql(&e)),
    }
}

fn result_text<T>(r: &Result<T, MigrateError>) -> String {
    r.as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default()
}
