//! Sessions (api.md §1.1, §5.1–§5.2): login opens a refresh-token family, refresh rotates it with reuse
//! detection, logout revokes it. Every failure of login and refresh looks the same from outside.

use serde::Serialize;
use serde_json::json;
use tenantry_domain::{Email, LoginPassword, token_hash};
use tenantry_store::audit::{AuditContext, NewAudit};
use tenantry_store::{audit, refresh_tokens, sessions, users};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::auth::Principal;
use crate::context::Services;
use crate::error::{ServiceError, ServiceResult};
use crate::pagination::{Page, PageRequest};
use crate::tenant_directory::ResolvedTenant;
use crate::tokens::new_token;

pub const INVALID_CREDENTIALS: &str = "Invalid credentials";
pub const INVALID_REFRESH: &str = "Invalid or expired refresh token";

/// api.md §3 TokenPair.
#[derive(Debug, Clone, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
}

/// api.md §3 SessionRead.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub tenant_slug: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::time_format")]
    pub last_used_at: OffsetDateTime,
    #[serde(with = "crate::time_format")]
    pub expires_at: OffsetDateTime,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub current: bool,
}

/// Why a login failed, as the audit row records it; the caller always sees [`INVALID_CREDENTIALS`].
fn login_refusal(
    password_ok: bool,
    user: Option<&users::UserRow>,
    member: bool,
) -> Option<&'static str> {
    let user = user?;
    if !password_ok {
        Some(INVALID_CREDENTIALS)
    } else if !user.is_active {
        Some("User inactive")
    } else if user.email_verified_at.is_none() {
        Some("Email not verified")
    } else if !member {
        Some("No access to tenant")
    } else {
        None
    }
}

impl Services {
    /// `POST /auth/login`: one query and exactly one Argon2 verification whatever the outcome.
    pub async fn login(
        &self,
        tenant: &ResolvedTenant,
        email: &Email,
        password: &LoginPassword,
        ctx: &AuditContext,
    ) -> ServiceResult<TokenPair> {
        let (user, member) = {
            let mut conn = self.db.read().await?;
            users::with_membership(&mut conn, email.as_str(), tenant.id).await?
        };
        let password_ok = self
            .passwords
            .verify(
                password.expose().to_owned(),
                user.as_ref().map(|u| u.hashed_password.clone()),
            )
            .await?;
        let refusal = if user.is_none() {
            Some(INVALID_CREDENTIALS)
        } else {
            login_refusal(password_ok, user.as_ref(), member)
        };
        // The account is named in the audit row only when it belongs to this tenant.
        let audit_user = user.as_ref().filter(|_| member).map(|u| u.id);
        let (Some(user), None) = (user, refusal) else {
            self.audit_alone(
                ctx,
                NewAudit::failure("user.login", "user", refusal)
                    .tenant(tenant.id)
                    .by(audit_user)
                    .entity(audit_user),
            )
            .await;
            return Err(ServiceError::Unauthorized(INVALID_CREDENTIALS.to_owned()));
        };
        let pair = self.open_session(&user, tenant, ctx).await?;
        if self.passwords.needs_rehash(&user.hashed_password) {
            self.rehash(&user, password).await;
        }
        Ok(pair)
    }

    async fn open_session(
        &self,
        user: &users::UserRow,
        tenant: &ResolvedTenant,
        ctx: &AuditContext,
    ) -> ServiceResult<TokenPair> {
        let s = &self.settings;
        let now = OffsetDateTime::now_utc();
        let expires_at = now + Duration::days(i64::from(s.refresh_family_max_days));
        let idle = (now + Duration::days(i64::from(s.refresh_token_expire_days))).min(expires_at);
        let sid = Uuid::now_v7();
        let refresh = new_token();
        let mut tx = self.db.begin().await?;
        sessions::insert_family(
            &mut tx,
            &sessions::NewFamily {
                id: sid,
                user_id: user.id,
                tenant_id: Some(tenant.id),
                idle_expires_at: idle,
                expires_at,
                user_agent: ctx.user_agent.as_deref(),
                ip: ctx.ip,
            },
        )
        .await?;
        refresh_tokens::issue(
            &mut tx,
            sid,
            None,
            &token_hash(&refresh),
            s.refresh_token_expire_days,
            ctx.ip,
        )
        .await?;
        audit::insert(
            &mut tx,
            ctx,
            &NewAudit::success("user.login", "user", user.id)
                .tenant(tenant.id)
                .by(user.id)
                .changes(json!({ "session_id": sid })),
        )
        .await?;
        tx.commit().await?;
        self.pair(user.id, tenant.id, sid, refresh)
    }

    fn pair(
        &self,
        user_id: Uuid,
        tenant_id: Uuid,
        sid: Uuid,
        refresh_token: String,
    ) -> ServiceResult<TokenPair> {
        let (access_token, _) = self
            .token_keys
            .access_token(user_id, Some(tenant_id), sid)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            token_type: "bearer",
        })
    }

    /// Stored hashes follow the configured parameters; a concurrent password change wins.
    pub(crate) async fn rehash(&self, user: &users::UserRow, password: &LoginPassword) {
        let rehashed = async {
            let new = self.passwords.hash(password.expose().to_owned()).await?;
            let mut tx = self.db.begin().await?;
            users::rehash_password(&mut tx, user.id, &user.hashed_password, &new).await?;
            tx.commit().await?;
            Ok::<_, ServiceError>(())
        }
        .await;
        if let Err(e) = rehashed {
            tracing::warn!(error = %e, "password re-hash failed; the old hash stays valid");
        }
    }

    /// `POST /auth/refresh`: rotates the token inside one transaction that holds it and its family.
    pub async fn refresh(
        &self,
        tenant: &ResolvedTenant,
        presented: &str,
        ctx: &AuditContext,
    ) -> ServiceResult<TokenPair> {
        let grace = self.settings.refresh_reuse_grace_seconds;
        let mut tx = self.db.begin().await?;
        let locked = refresh_tokens::lock_by_hash(&mut tx, &token_hash(presented), grace).await?;
        let refused = |reason: &'static str, user_id: Option<Uuid>| {
            NewAudit::failure("token.refresh", "token", reason)
                .tenant(tenant.id)
                .by(user_id)
        };
        let Some(t) = locked else {
            drop(tx);
            self.audit_alone(ctx, refused("Unknown refresh token", None))
                .await;
            return Err(invalid_refresh());
        };
        if t.tenant_id != Some(tenant.id) {
            drop(tx);
            self.audit_alone(ctx, refused("Refresh token of another tenant", None))
                .await;
            return Err(invalid_refresh());
        }
        if t.family_revoked {
            drop(tx);
            self.audit_alone(ctx, refused("Session revoked", Some(t.user_id)))
                .await;
            return Err(invalid_refresh());
        }
        if t.used {
            if t.replay_in_grace {
                drop(tx);
                self.audit_alone(
                    ctx,
                    refused(
                        "Refresh token replayed within the grace window",
                        Some(t.user_id),
                    ),
                )
                .await;
                return Err(invalid_refresh());
            }
            sessions::revoke(&mut tx, t.family_id, "reuse_detected").await?;
            audit::insert(
                &mut tx,
                ctx,
                &NewAudit::success("token.reuse_detected", "session", t.family_id)
                    .tenant(t.tenant_id)
                    .by(t.user_id),
            )
            .await?;
            tx.commit().await?;
            tracing::warn!(session = %t.family_id, "refresh token reuse detected; session revoked");
            return Err(invalid_refresh());
        }
        if t.expired {
            drop(tx);
            self.audit_alone(ctx, refused("Refresh token expired", Some(t.user_id)))
                .await;
            return Err(invalid_refresh());
        }
        if !users::has_access(&mut tx, t.user_id, tenant.id).await? {
            sessions::revoke(&mut tx, t.family_id, "access_lost").await?;
            audit::insert(&mut tx, ctx, &refused("Access lost", Some(t.user_id))).await?;
            tx.commit().await?;
            return Err(invalid_refresh());
        }
        refresh_tokens::mark_used(&mut tx, t.id).await?;
        let refresh = new_token();
        refresh_tokens::issue(
            &mut tx,
            t.family_id,
            Some(t.id),
            &token_hash(&refresh),
            self.settings.refresh_token_expire_days,
            ctx.ip,
        )
        .await?;
        tx.commit().await?;
        self.pair(t.user_id, tenant.id, t.family_id, refresh)
    }

    /// `POST /auth/logout`: revokes the token's family when it belongs to the header tenant; silent
    /// otherwise.
    pub async fn logout(
        &self,
        tenant: &ResolvedTenant,
        presented: &str,
        ctx: &AuditContext,
    ) -> ServiceResult<()> {
        let mut tx = self.db.begin().await?;
        let Some((family, user_id, family_tenant)) =
            refresh_tokens::family_of(&mut tx, &token_hash(presented)).await?
        else {
            return Ok(());
        };
        if family_tenant != Some(tenant.id) {
            return Ok(());
        }
        if sessions::revoke(&mut tx, family, "logout").await? {
            audit::insert(
                &mut tx,
                ctx,
                &NewAudit::success("user.logout", "session", family)
                    .tenant(tenant.id)
                    .by(user_id),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `POST /auth/logout-all`: every session of the caller, in every tenant.
    pub async fn logout_all(&self, caller: &Principal, ctx: &AuditContext) -> ServiceResult<u64> {
        let mut tx = self.db.begin().await?;
        let revoked = sessions::revoke_user(&mut tx, caller.user_id, "logout_all", None).await?;
        audit::insert(
            &mut tx,
            ctx,
            &NewAudit::success("user.logout_all", "user", caller.user_id)
                .by(caller.user_id)
                .changes(json!({ "revoked_sessions": revoked })),
        )
        .await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// `GET /users/me/sessions`.
    pub async fn list_sessions(
        &self,
        caller: &Principal,
        page: &PageRequest,
    ) -> ServiceResult<Page<SessionView>> {
        let mut conn = self.db.read().await?;
        let rows =
            sessions::list_active(&mut conn, caller.user_id, page.after(), page.fetch()).await?;
        Ok(Page::from_rows(
            rows,
            page,
            |r| (r.created_at, r.id),
            |r| SessionView {
                id: r.id,
                tenant_id: r.tenant_id,
                tenant_slug: r.tenant_slug.clone(),
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                expires_at: r.expires_at,
                user_agent: r.user_agent.clone(),
                ip_address: r.last_ip.map(|ip| ip.ip().to_string()),
                current: caller.sid == Some(r.id),
            },
        ))
    }

    /// `DELETE /users/me/sessions/{id}`.
    pub async fn revoke_session(
        &self,
        caller: &Principal,
        session_id: Uuid,
        ctx: &AuditContext,
    ) -> ServiceResult<()> {
        let mut tx = self.db.begin().await?;
        let Some(tenant_id) =
            sessions::revoke_owned(&mut tx, caller.user_id, session_id, "user_revoked").await?
        else {
            return Err(ServiceError::NotFound("Session not found".to_owned()));
        };
        audit::insert(
            &mut tx,
            ctx,
            &NewAudit::success("session.revoke", "session", session_id)
                .tenant(tenant_id)
                .by(caller.user_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn invalid_refresh() -> ServiceError {
    ServiceError::Unauthorized(INVALID_REFRESH.to_owned())
}
