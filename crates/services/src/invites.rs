//! Invites (api.md §5.5): at most one pending invite per (tenant, email), enforced by the database; the
//! public accept flow creates or reuses an account and joins it in one transaction whose compare-and-set on
//! the invite lets exactly one of concurrent accepts through.

use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use tenantry_domain::{Email, FullName, LoginPassword, NewPassword, Role, token_hash};
use tenantry_store::audit::{self, AuditContext, NewAudit};
use tenantry_store::invites::{self, InviteRow};
use tenantry_store::memberships::{self, Joined};
use tenantry_store::{is_unique_violation, users};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::accounts::password_inputs;
use crate::auth::Principal;
use crate::context::Services;
use crate::email::queue::{Recipient, queue};
use crate::email::templates;
use crate::error::{ServiceError, ServiceResult};
use crate::pagination::{Page, PageRequest};
use crate::tenant_directory::ResolvedTenant;
use crate::workflow_requests::request_onboarding;

pub const ALREADY_MEMBER: &str = "User is already a member of this tenant";
pub const INVALID_INVITE_TOKEN: &str = "Invalid or expired invite token";

/// api.md §3 InviteRead.
#[derive(Debug, Clone, Serialize)]
pub struct InviteView {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    pub status: String,
    #[serde(with = "crate::time_format")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::time_format")]
    pub expires_at: OffsetDateTime,
    pub invited_by_user_id: Option<Uuid>,
}

impl From<&InviteRow> for InviteView {
    fn from(i: &InviteRow) -> Self {
        Self {
            id: i.id,
            email: i.email.clone(),
            role: i.role.clone(),
            status: i.status.clone(),
            created_at: i.created_at,
            expires_at: i.expires_at,
            invited_by_user_id: i.invited_by_user_id,
        }
    }
}

/// The answer of create and resend.
#[derive(Debug, Clone, Serialize)]
pub struct InviteSent {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    #[serde(with = "crate::time_format")]
    pub expires_at: OffsetDateTime,
    pub message: &'static str,
}

/// `GET /invites/t/{token}`.
#[derive(Debug, Clone, Serialize)]
pub struct InviteInfo {
    pub email: String,
    pub tenant_name: String,
    pub tenant_slug: String,
    pub role: String,
    #[serde(with = "crate::time_format")]
    pub expires_at: OffsetDateTime,
    pub account_exists: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct InviteAccepted {
    pub message: &'static str,
    pub tenant_slug: String,
    pub user_id: Uuid,
}

pub struct AcceptCommand {
    pub token: String,
    pub email: Email,
    pub password: LoginPassword,
    pub full_name: Option<FullName>,
}

fn invite_not_found() -> ServiceError {
    ServiceError::NotFound("Invite not found".to_owned())
}

fn bad(detail: &str) -> ServiceError {
    ServiceError::BadRequest(detail.to_owned())
}

impl Services {
    /// Cancels any pending invite of (tenant, email), writes a new one and queues its email. A concurrent
    /// duplicate is retried once, so the result is exactly one pending invite.
    async fn write_invite(
        &self,
        actor: &Principal,
        tenant: &ResolvedTenant,
        email: &str,
        role: &str,
        action: &'static str,
        ctx: &AuditContext,
    ) -> ServiceResult<InviteRow> {
        let mut retried = false;
        loop {
            let attempt = self
                .write_invite_once(actor, tenant, email, role, action, ctx)
                .await;
            match attempt {
                Err(WriteError::Db(e)) if is_unique_violation(&e) && !retried => retried = true,
                Err(WriteError::Db(e)) if is_unique_violation(&e) => {
                    return Err(ServiceError::Conflict(
                        "Another invite for this email was created at the same time".to_owned(),
                    ));
                }
                Err(WriteError::Db(e)) => return Err(e.into()),
                Err(WriteError::Service(e)) => return Err(e),
                Ok(row) => return Ok(row),
            }
        }
    }

    async fn write_invite_once(
        &self,
        actor: &Principal,
        tenant: &ResolvedTenant,
        email: &str,
        role: &str,
        action: &'static str,
        ctx: &AuditContext,
    ) -> Result<InviteRow, WriteError> {
        let s = &self.settings;
        let mut tx = self.db.begin().await?;
        // Writers for one address queue here, so each sees the previous one's invite to cancel.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("invite:{}:{email}", tenant.id))
            .execute(&mut *tx)
            .await?;
        if memberships::is_active_member_email(&mut tx, tenant.id, email).await? {
            return Err(WriteError::Service(ServiceError::Conflict(
                ALREADY_MEMBER.to_owned(),
            )));
        }
        invites::cancel_pending(&mut tx, tenant.id, email).await?;
        let token = crate::tokens::new_token();
        let row = invites::insert_pending(
            &mut tx,
            tenant.id,
            email,
            role,
            &token_hash(&token),
            actor.user_id,
            s.invite_expire_days,
        )
        .await?;
        let rendered = templates::invite(
            &s.app_url,
            &s.app_name,
            &tenant.name,
            &token,
            s.invite_expire_days,
        );
        queue(
            &mut tx,
            s,
            &rendered,
            &Recipient {
                to: email,
                user_id: None,
                tenant_id: Some(tenant.id),
            },
            Some(&token),
            None,
        )
        .await?;
        audit::insert(
            &mut tx,
            ctx,
            &NewAudit::success(action, "invite", row.id)
                .tenant(tenant.id)
                .by(actor.user_id)
                .changes(json!({ "email": email, "role": role })),
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// `POST /invites`.
    pub async fn create_invite(
        &self,
        actor: &Principal,
        tenant: &ResolvedTenant,
        email: &Email,
        role: Role,
        ctx: &AuditContext,
    ) -> ServiceResult<InviteSent> {
        let row = self
            .write_invite(
                actor,
                tenant,
                email.as_str(),
                role.as_str(),
                "invite.create",
                ctx,
            )
            .await?;
        Ok(sent(&row, "Invite sent successfully"))
    }

    /// `PUT /invites/{id}`: a new invite (token, expiry, inviter) replaces every pending one of that address.
    pub async fn resend_invite(
        &self,
        actor: &Principal,
        tenant: &ResolvedTenant,
        invite_id: Uuid,
        ctx: &AuditContext,
    ) -> ServiceResult<InviteSent> {
        let old = self.invite(tenant.id, invite_id).await?;
        if old.status == "accepted" {
            return Err(bad("Cannot resend invite with status: accepted"));
        }
        let row = self
            .write_invite(actor, tenant, &old.email, &old.role, "invite.resend", ctx)
            .await?;
        Ok(sent(&row, "Invite resent successfully"))
    }

    /// `DELETE /invites/{id}`.
    pub async fn cancel_invite(
        &self,
        actor: &Principal,
        tenant_id: Uuid,
        invite_id: Uuid,
        ctx: &AuditContext,
    ) -> ServiceResult<()> {
        let mut tx = self.db.begin().await?;
        let invite = invites::by_id(&mut tx, tenant_id, invite_id)
            .await?
            .ok_or_else(invite_not_found)?;
        if invite.status != "pending" || !invites::cancel(&mut tx, tenant_id, invite_id).await? {
            return Err(bad(&format!(
                "Cannot cancel invite with status: {}",
                invite.status
            )));
        }
        audit::insert(
            &mut tx,
            ctx,
            &NewAudit::success("invite.cancel", "invite", invite_id)
                .tenant(tenant_id)
                .by(actor.user_id)
                .changes(json!({ "before": { "status": "pending" }, "after": { "status": "cancelled" } })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `GET /invites/{id}` (other tenants' invites are not found).
    pub async fn invite(&self, tenant_id: Uuid, invite_id: Uuid) -> ServiceResult<InviteView> {
        let mut conn = self.db.read().await?;
        invites::by_id(&mut conn, tenant_id, invite_id)
            .await?
            .map(|i| InviteView::from(&i))
            .ok_or_else(invite_not_found)
    }

    /// `GET /invites`; `status` `None` lists all.
    pub async fn list_invites(
        &self,
        tenant_id: Uuid,
        status: Option<&str>,
        page: &PageRequest,
    ) -> ServiceResult<Page<InviteView>> {
        let mut conn = self.db.read().await?;
        let rows = invites::list(&mut conn, tenant_id, status, page.after(), page.fetch()).await?;
        Ok(Page::from_rows(
            rows,
            page,
            |i| (i.created_at, i.id),
            |i| InviteView::from(i),
        ))
    }

    /// `GET /invites/t/{token}`: only a live invite of a usable tenant is shown.
    pub async fn invite_info(&self, token: &str) -> ServiceResult<InviteInfo> {
        let not_found = || ServiceError::NotFound("Invalid or expired invite".to_owned());
        let mut conn = self.db.read().await?;
        let invite = invites::by_token_hash(&mut conn, &token_hash(token))
            .await?
            .filter(|i| i.live && i.tenant_usable)
            .ok_or_else(not_found)?;
        let account_exists = users::by_email(&mut conn, &invite.email).await?.is_some();
        Ok(InviteInfo {
            email: invite.email,
            tenant_name: invite.tenant_name,
            tenant_slug: invite.tenant_slug,
            role: invite.role,
            expires_at: invite.expires_at,
            account_exists,
        })
    }

    /// `POST /invites/t/{token}/accept`, with its checks in the contract's order.
    pub async fn accept_invite(
        &self,
        cmd: AcceptCommand,
        ctx: &AuditContext,
    ) -> ServiceResult<InviteAccepted> {
        let invite = {
            let mut conn = self.db.read().await?;
            invites::by_token_hash(&mut conn, &token_hash(&cmd.token)).await?
        }
        .filter(|i| i.live)
        .ok_or_else(|| bad(INVALID_INVITE_TOKEN))?;
        if invite.email != cmd.email.as_str() {
            return Err(bad("Email does not match invite"));
        }
        if !invite.tenant_usable {
            return Err(bad("Tenant is no longer available"));
        }
        let existing = {
            let mut conn = self.db.read().await?;
            users::by_email(&mut conn, cmd.email.as_str()).await?
        };
        let new_hash = match &existing {
            Some(user) => {
                let ok = self
                    .passwords
                    .verify(
                        cmd.password.expose().to_owned(),
                        Some(user.hashed_password.clone()),
                    )
                    .await?;
                if !ok || !user.is_active {
                    return Err(ServiceError::Unauthorized(
                        crate::sessions::INVALID_CREDENTIALS.to_owned(),
                    ));
                }
                None
            }
            None => {
                let full_name = cmd.full_name.as_ref().ok_or_else(|| {
                    ServiceError::Validation(tenantry_domain::ValidationErrors::from(vec![
                        tenantry_domain::FieldError::new(
                            "full_name",
                            tenantry_domain::ErrorCode::Missing,
                            "Full name is required to create an account",
                        ),
                    ]))
                })?;
                let inputs = password_inputs(cmd.email.as_str(), full_name.as_str());
                let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                let strong = NewPassword::parse(cmd.password.expose(), &refs).map_err(|e| {
                    ServiceError::Validation(tenantry_domain::ValidationErrors::from(vec![
                        e.for_field("password"),
                    ]))
                })?;
                Some(self.passwords.hash(strong.expose().to_owned()).await?)
            }
        };
        if let Some(user) = &existing {
            let mut conn = self.db.read().await?;
            if matches!(
                tenantry_store::sessions::membership(&mut conn, user.id, invite.tenant_id).await?,
                Some((_, true))
            ) {
                return Err(ServiceError::Conflict(ALREADY_MEMBER.to_owned()));
            }
        }

        let mut tx = self.db.begin().await?;
        let user_id = existing.as_ref().map_or_else(Uuid::now_v7, |u| u.id);
        // The compare-and-set comes first: a concurrent accept waits here and then finds it accepted.
        if !invites::accept(&mut tx, invite.id).await? {
            return Err(bad(INVALID_INVITE_TOKEN));
        }
        let created = match (&existing, &new_hash) {
            (None, Some(hash)) => {
                let full_name = cmd.full_name.as_ref().map_or("", |n| n.as_str());
                let inserted = users::insert_if_absent(
                    &mut tx,
                    &users::NewUser {
                        id: user_id,
                        email: cmd.email.as_str(),
                        hashed_password: hash,
                        full_name,
                        verified: true,
                        is_superuser: false,
                    },
                )
                .await?;
                // The address registered meanwhile: the caller must prove the password of that account.
                if inserted.is_none() {
                    return Err(ServiceError::Unauthorized(
                        crate::sessions::INVALID_CREDENTIALS.to_owned(),
                    ));
                }
                request_onboarding(&mut tx, &self.settings, user_id, None).await?;
                true
            }
            _ => {
                self.verify_existing(&mut tx, user_id).await?;
                false
            }
        };
        invites::record_acceptor(&mut tx, invite.id, user_id).await?;
        if memberships::join(&mut tx, invite.tenant_id, user_id, &invite.role).await?
            == Joined::AlreadyActive
        {
            return Err(ServiceError::Conflict(ALREADY_MEMBER.to_owned()));
        }
        audit::insert(
            &mut tx,
            ctx,
            &NewAudit::success("invite.accept", "invite", invite.id)
                .tenant(invite.tenant_id)
                .by(user_id)
                .changes(json!({ "role": invite.role, "new_account": created })),
        )
        .await?;
        tx.commit().await?;
        Ok(InviteAccepted {
            message: if created {
                "Account created and joined tenant successfully"
            } else {
                "Joined tenant successfully"
            },
            tenant_slug: invite.tenant_slug,
            user_id,
        })
    }

    /// An invite link proves the address: an unverified account becomes verified (first verification rule).
    async fn verify_existing(&self, conn: &mut PgConnection, user_id: Uuid) -> ServiceResult<()> {
        crate::accounts::verify_once(conn, &self.settings, user_id).await?;
        Ok(())
    }
}

fn sent(row: &InviteRow, message: &'static str) -> InviteSent {
    InviteSent {
        id: row.id,
        email: row.email.clone(),
        role: row.role.clone(),
        expires_at: row.expires_at,
        message,
    }
}

/// A failed invite write: a database error the caller may retry, or a final answer.
enum WriteError {
    Db(sqlx::Error),
    Service(ServiceError),
}

impl From<sqlx::Error> for WriteError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e)
    }
}
