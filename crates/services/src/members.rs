//! Members of a tenant (api.md §5.4). Changes that may remove an active admin run under the tenant's row
//! lock, so the last admin can never be demoted, deactivated or removed, even by concurrent requests.

use serde::Serialize;
use serde_json::json;
use tenantry_domain::Role;
use tenantry_store::audit::{self, AuditContext, NewAudit};
use tenantry_store::memberships::{self, MemberRow};
use tenantry_store::sessions;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Principal;
use crate::context::Services;
use crate::error::{ServiceError, ServiceResult};
use crate::pagination::{Page, PageRequest};

pub const LAST_ADMIN: &str = "Cannot remove or demote the last admin";

/// api.md §3 MemberRead.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: String,
    pub is_active: bool,
    #[serde(with = "crate::time_format")]
    pub created_at: OffsetDateTime,
}

impl From<&MemberRow> for MemberView {
    fn from(m: &MemberRow) -> Self {
        Self {
            user_id: m.user_id,
            email: m.email.clone(),
            full_name: m.full_name.clone(),
            role: m.role.clone(),
            is_active: m.is_active,
            created_at: m.created_at,
        }
    }
}

/// What a `PATCH /members/{user_id}` asks for; at least one member is set (checked by the caller).
#[derive(Debug, Clone, Copy, Default)]
pub struct MemberChange {
    pub role: Option<Role>,
    pub is_active: Option<bool>,
}

fn member_not_found() -> ServiceError {
    ServiceError::NotFound("Member not found".to_owned())
}

fn is_active_admin(m: &MemberRow) -> bool {
    m.is_active && m.role == "admin"
}

impl Services {
    /// `GET /members`.
    pub async fn list_members(
        &self,
        tenant_id: Uuid,
        include_inactive: bool,
        page: &PageRequest,
    ) -> ServiceResult<Page<MemberView>> {
        let mut conn = self.db.read().await?;
        let rows = memberships::list(
            &mut conn,
            tenant_id,
            include_inactive,
            page.after(),
            page.fetch(),
        )
        .await?;
        Ok(Page::from_rows(
            rows,
            page,
            |m| (m.created_at, m.user_id),
            |m| MemberView::from(m),
        ))
    }

    /// `PATCH /members/{user_id}`.
    pub async fn update_member(
        &self,
        actor: &Principal,
        tenant_id: Uuid,
        user_id: Uuid,
        change: MemberChange,
        ctx: &AuditContext,
    ) -> ServiceResult<MemberView> {
        let mut tx = self.db.begin().await?;
        memberships::lock_tenant(&mut tx, tenant_id).await?;
        let before = memberships::get(&mut tx, tenant_id, user_id)
            .await?
            .ok_or_else(member_not_found)?;
        let role = change
            .role
            .map_or_else(|| before.role.clone(), |r| r.as_str().to_owned());
        let is_active = change.is_active.unwrap_or(before.is_active);
        let stays_admin = is_active && role == "admin";
        if is_active_admin(&before)
            && !stays_admin
            && memberships::active_admins(&mut tx, tenant_id).await? <= 1
        {
            return Err(ServiceError::Conflict(LAST_ADMIN.to_owned()));
        }
        memberships::update(&mut tx, tenant_id, user_id, &role, is_active).await?;
        if before.is_active && !is_active {
            sessions::revoke_user_in_tenant(&mut tx, user_id, tenant_id, "member_deactivated")
                .await?;
        }
        let mut events: Vec<(&str, serde_json::Value)> = Vec::new();
        if role != before.role {
            events.push((
                "member.role_change",
                json!({ "before": { "role": before.role }, "after": { "role": role } }),
            ));
        }
        if is_active != before.is_active {
            events.push((
                if is_active {
                    "member.activate"
                } else {
                    "member.deactivate"
                },
                json!({ "before": { "is_active": before.is_active }, "after": { "is_active": is_active } }),
            ));
        }
        for (action, changes) in events {
            audit::insert(
                &mut tx,
                ctx,
                &NewAudit::success(action, "membership", user_id)
                    .tenant(tenant_id)
                    .by(actor.user_id)
                    .changes(changes),
            )
            .await?;
        }
        let after = memberships::get(&mut tx, tenant_id, user_id)
            .await?
            .ok_or_else(member_not_found)?;
        tx.commit().await?;
        Ok(MemberView::from(&after))
    }

    /// `DELETE /members/{user_id}`: admins remove anyone, members only themselves (leave).
    pub async fn remove_member(
        &self,
        actor: &Principal,
        actor_is_admin: bool,
        tenant_id: Uuid,
        user_id: Uuid,
        ctx: &AuditContext,
    ) -> ServiceResult<()> {
        if !actor_is_admin && actor.user_id != user_id {
            return Err(ServiceError::Forbidden(
                "Admin role required for this operation".to_owned(),
            ));
        }
        let mut tx = self.db.begin().await?;
        memberships::lock_tenant(&mut tx, tenant_id).await?;
        let before = memberships::get(&mut tx, tenant_id, user_id)
            .await?
            .ok_or_else(member_not_found)?;
        if is_active_admin(&before) && memberships::active_admins(&mut tx, tenant_id).await? <= 1 {
            return Err(ServiceError::Conflict(LAST_ADMIN.to_owned()));
        }
        memberships::remove(&mut tx, tenant_id, user_id).await?;
        sessions::revoke_user_in_tenant(&mut tx, user_id, tenant_id, "member_removed").await?;
        audit::insert(
            &mut tx,
            ctx,
            &NewAudit::success("member.remove", "membership", user_id)
                .tenant(tenant_id)
                .by(actor.user_id)
                .changes(
                    json!({ "before": { "role": before.role, "is_active": before.is_active } }),
                ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
