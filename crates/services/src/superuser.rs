//! Superuser administration (api.md §5.7) and the tenant audit log (§5.8): the console login (a session
//! without a tenant and without refresh tokens), every tenant, assumed identities, and the operator
//! commands of §10 (`tenantry admin …`).

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use tenantry_domain::{
    AuditAction, Email, EntityType, FullName, LoginPassword, NewPassword, TenantStatus,
};
use tenantry_store::audit::{self, AuditContext, AuditFilter, AuditRow, NewAudit};
use tenantry_store::{sessions, tenants, users};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::auth::{AccessClaims, AssumedIdentity, Principal};
use crate::context::{Services, UserView};
use crate::error::{ServiceError, ServiceResult};
use crate::pagination::{Page, PageRequest};
use crate::sessions::INVALID_CREDENTIALS;
use crate::tenant_admin::TenantView;

pub const NOT_A_SUPERUSER: &str = "Not a superuser";
pub const TARGET_NOT_FOUND: &str = "Target user not found";
pub const TARGET_INACTIVE: &str = "Target user is inactive";
pub const TARGET_SUPERUSER: &str = "Cannot assume identity of another superuser";
pub const TENANT_NOT_FOUND: &str = "Tenant not found";
pub const TENANT_INACTIVE: &str = "Tenant is inactive";
pub const TARGET_NO_ACCESS: &str = "Target user does not have access to this tenant";

/// `POST /admin/login` answer: an access token without a tenant, and no refresh token.
#[derive(Debug, Clone, Serialize)]
pub struct ConsoleToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

/// `POST /admin/assume-identity` answer.
#[derive(Debug, Clone, Serialize)]
pub struct AssumedToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub assumed_user_id: Uuid,
    pub assumed_user_email: String,
    pub tenant_id: Uuid,
    pub tenant_slug: String,
}

/// What the operator asks for in `POST /admin/assume-identity` (validated by the caller).
#[derive(Debug, Clone)]
pub struct AssumeRequest {
    pub target_user_id: Uuid,
    pub tenant_id: Uuid,
    /// At most 500 characters.
    pub reason: Option<String>,
}

/// The filters of `GET /audit/logs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditQuery {
    pub action: Option<AuditAction>,
    pub user_id: Option<Uuid>,
    /// `true` = `success`, `false` = `failure`.
    pub success: Option<bool>,
}

/// api.md §3 AuditLogRead.
#[derive(Debug, Clone, Serialize)]
pub struct AuditLogView {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub assumed_by_user_id: Option<Uuid>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<Uuid>,
    pub changes: Option<Value>,
    /// A plain address, without the `/32` or `/128` of the stored `inet`.
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub status: String,
    pub error_message: Option<String>,
    #[serde(with = "crate::time_format")]
    pub created_at: OffsetDateTime,
}

impl From<&AuditRow> for AuditLogView {
    fn from(r: &AuditRow) -> Self {
        Self {
            id: r.id,
            tenant_id: r.tenant_id,
            user_id: r.user_id,
            assumed_by_user_id: r.assumed_by_user_id,
            action: r.action.clone(),
            entity_type: r.entity_type.clone(),
            entity_id: r.entity_id,
            changes: r.changes.clone(),
            ip_address: r.ip_address.map(|ip| ip.ip().to_string()),
            user_agent: r.user_agent.clone(),
            request_id: r.request_id.clone(),
            status: r.status.clone(),
            error_message: r.error_message.clone(),
            created_at: r.created_at,
        }
    }
}

/// Why a console login failed, as the audit row records it; the caller always sees
/// [`INVALID_CREDENTIALS`]. The order follows `/auth/login`, with the superuser check in place of the
/// membership check.
fn console_refusal(password_ok: bool, user: Option<&users::UserRow>) -> Option<&'static str> {
    let Some(user) = user else {
        return Some(INVALID_CREDENTIALS);
    };
    if !password_ok {
        Some(INVALID_CREDENTIALS)
    } else if !user.is_active {
        Some("User inactive")
    } else if user.email_verified_at.is_none() {
        Some("Email not verified")
    } else if !user.is_superuser {
        Some(NOT_A_SUPERUSER)
    } else {
        None
    }
}

/// The first rule of §5.7's ordered list the target breaks, if any.
fn target_refusal(target: Option<&users::UserRow>) -> Option<&'static str> {
    match target {
        None => Some(TARGET_NOT_FOUND),
        Some(t) if !t.is_active => Some(TARGET_INACTIVE),
        Some(t) if t.is_superuser => Some(TARGET_SUPERUSER),
        Some(_) => None,
    }
}

#[derive(Debug, sqlx::FromRow)]
struct TenantFacts {
    slug: String,
    status: String,
    is_active: bool,
    deleted_at: Option<OffsetDateTime>,
}

/// The tenant's usability facts, read under `FOR SHARE` (the decision and its audit row share the
/// transaction, so a concurrent deletion waits for it or is seen by it).
async fn share_lock_tenant(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<TenantFacts>, sqlx::Error> {
    sqlx::query_as::<_, TenantFacts>(
        "SELECT slug, status, is_active, deleted_at FROM public.tenants WHERE id = $1 FOR SHARE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Services {
    /// `POST /admin/login`: one query and exactly one Argon2 verification whatever the outcome; success
    /// opens a console session (no tenant, no refresh token) that lives as long as its access token.
    pub async fn admin_login(
        &self,
        email: &Email,
        password: &LoginPassword,
        ctx: &AuditContext,
    ) -> ServiceResult<ConsoleToken> {
        let user = {
            let mut conn = self.db.read().await?;
            users::by_email(&mut conn, email.as_str()).await?
        };
        let password_ok = self
            .passwords
            .verify(
                password.expose().to_owned(),
                user.as_ref().map(|u| u.hashed_password.clone()),
            )
            .await?;
        let refusal = console_refusal(password_ok, user.as_ref());
        let (Some(user), None) = (user.as_ref(), refusal) else {
            // No tenant sees these rows, so the account is named whenever it exists.
            let audit_user = user.as_ref().map(|u| u.id);
            self.audit_alone(
                ctx,
                NewAudit::failure(
                    AuditAction::UserLogin.as_str(),
                    EntityType::User.as_str(),
                    refusal,
                )
                .by(audit_user)
                .entity(audit_user),
            )
            .await;
            return Err(ServiceError::Unauthorized(INVALID_CREDENTIALS.to_owned()));
        };
        let token = self.open_console_session(user, ctx).await?;
        if self.passwords.needs_rehash(&user.hashed_password) {
            self.rehash(user, password).await;
        }
        Ok(token)
    }

    async fn open_console_session(
        &self,
        user: &users::UserRow,
        ctx: &AuditContext,
    ) -> ServiceResult<ConsoleToken> {
        let ttl = i64::from(self.settings.access_token_expire_minutes) * 60;
        let expires_at = OffsetDateTime::now_utc() + Duration::seconds(ttl);
        let sid = Uuid::now_v7();
        let mut tx = self.db.begin().await?;
        sessions::insert_family(
            &mut tx,
            &sessions::NewFamily {
                id: sid,
                user_id: user.id,
                tenant_id: None,
                idle_expires_at: expires_at,
                expires_at,
                user_agent: ctx.user_agent.as_deref(),
                ip: ctx.ip,
            },
        )
        .await?;
        audit::insert(
            &mut tx,
            ctx,
            &NewAudit::success(
                AuditAction::UserLogin.as_str(),
                EntityType::User.as_str(),
                user.id,
            )
            .by(user.id)
            .changes(json!({ "session_id": sid, "console": true })),
        )
        .await?;
        let (access_token, expires_in) = self
            .token_keys
            .access_token(user.id, None, sid)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        tx.commit().await?;
        Ok(ConsoleToken {
            access_token,
            token_type: "bearer",
            expires_in,
        })
    }

    /// `GET /admin/tenants`: every tenant, deleted ones included.
    pub async fn admin_list_tenants(
        &self,
        status: Option<TenantStatus>,
        page: &PageRequest,
    ) -> ServiceResult<Page<TenantView>> {
        let mut conn = self.db.read().await?;
        let rows = tenants::all(
            &mut conn,
            status.map(TenantStatus::as_str),
            page.after(),
            page.fetch(),
        )
        .await?;
        Ok(Page::from_rows(
            rows,
            page,
            |t| (t.created_at, t.id),
            |t| TenantView::from(t),
        ))
    }

    /// `POST /admin/assume-identity`: the checks of §5.7 in their order, read under `FOR SHARE`; the
    /// decision and its `identity.assumed` row commit together.
    pub async fn assume_identity(
        &self,
        operator: &Principal,
        req: &AssumeRequest,
        ctx: &AuditContext,
    ) -> ServiceResult<AssumedToken> {
        let minutes = self.settings.assumed_identity_expire_minutes;
        let expires_in = u64::from(minutes) * 60;
        let mut tx = self.db.begin().await?;
        let target = users::share_lock(&mut tx, req.target_user_id).await?;
        let tenant = share_lock_tenant(&mut tx, req.tenant_id).await?;
        let refusal = match target_refusal(target.as_ref()) {
            Some(r) => Some(r),
            None => match &tenant {
                None => Some(TENANT_NOT_FOUND),
                Some(t) if t.deleted_at.is_some() => Some(TENANT_NOT_FOUND),
                Some(t) if !t.is_active || t.status != TenantStatus::Ready.as_str() => {
                    Some(TENANT_INACTIVE)
                }
                Some(_) => {
                    if users::share_lock_active_membership(
                        &mut tx,
                        req.target_user_id,
                        req.tenant_id,
                    )
                    .await?
                    {
                        None
                    } else {
                        Some(TARGET_NO_ACCESS)
                    }
                }
            },
        };
        let (Some(target), Some(tenant), None) = (target, tenant, refusal) else {
            drop(tx);
            let refusal = refusal.unwrap_or(TARGET_NOT_FOUND);
            // The contract audits granted identities only; refusals are logged for operators (no row in
            // a tenant's log could name a user of another tenant or the operator's free-text reason).
            tracing::warn!(operator = %operator.user_id, target = %req.target_user_id,
                tenant = %req.tenant_id, refusal, "identity assumption refused");
            return Err(ServiceError::BadRequest(refusal.to_owned()));
        };
        audit::insert(
            &mut tx,
            ctx,
            &NewAudit::success(
                AuditAction::IdentityAssumed.as_str(),
                EntityType::User.as_str(),
                target.id,
            )
            .tenant(req.tenant_id)
            .by(operator.user_id)
            .changes(json!({
                "assumed_user_id": target.id,
                "tenant_id": req.tenant_id,
                "reason": req.reason,
                "expires_in_seconds": expires_in,
            })),
        )
        .await?;
        let iat = unix_now();
        let claims = AccessClaims {
            sub: Some(target.id.to_string()),
            tenant_id: Some(req.tenant_id.to_string()),
            sid: None,
            token_type: Some("assumed_access".to_owned()),
            jti: Some(Uuid::now_v7().to_string()),
            iat,
            exp: iat + expires_in,
            iss: self.settings.jwt_issuer.clone(),
            assumed_identity: Some(AssumedIdentity {
                operator_user_id: Some(operator.user_id.to_string()),
                reason: req.reason.clone(),
                started_at: Some(iat),
            }),
        };
        let access_token = self
            .token_keys
            .sign(&claims)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        tx.commit().await?;
        tracing::info!(operator = %operator.user_id, target = %target.id, tenant = %req.tenant_id,
            "identity assumed");
        Ok(AssumedToken {
            access_token,
            token_type: "bearer",
            expires_in,
            assumed_user_id: target.id,
            assumed_user_email: target.email,
            tenant_id: req.tenant_id,
            tenant_slug: tenant.slug,
        })
    }

    /// `GET /audit/logs`: the rows of `tenant_id` only.
    pub async fn audit_logs(
        &self,
        tenant_id: Uuid,
        query: &AuditQuery,
        page: &PageRequest,
    ) -> ServiceResult<Page<AuditLogView>> {
        let filter = AuditFilter {
            action: query.action.map(AuditAction::as_str),
            user_id: query.user_id,
            status: query
                .success
                .map(|ok| if ok { "success" } else { "failure" }),
            entity: None,
        };
        self.audit_page(tenant_id, &filter, page).await
    }

    /// `GET /audit/logs/entity/{entity_type}/{entity_id}`: that entity's rows in `tenant_id` only.
    pub async fn audit_entity_history(
        &self,
        tenant_id: Uuid,
        entity_type: EntityType,
        entity_id: Uuid,
        page: &PageRequest,
    ) -> ServiceResult<Page<AuditLogView>> {
        let filter = AuditFilter {
            entity: Some((entity_type.as_str(), entity_id)),
            ..AuditFilter::default()
        };
        self.audit_page(tenant_id, &filter, page).await
    }

    async fn audit_page(
        &self,
        tenant_id: Uuid,
        filter: &AuditFilter<'_>,
        page: &PageRequest,
    ) -> ServiceResult<Page<AuditLogView>> {
        let mut conn = self.db.read().await?;
        let rows = audit::list_for_tenant(&mut conn, tenant_id, filter, page.after(), page.fetch())
            .await?;
        Ok(Page::from_rows(
            rows,
            page,
            |r| (r.created_at, r.id),
            |r| AuditLogView::from(r),
        ))
    }

    /// `tenantry admin create-superuser`: a verified, active superuser. 409 when the email is taken
    /// (also by a concurrent insert).
    pub async fn create_superuser(
        &self,
        email: &Email,
        full_name: &FullName,
        password: &NewPassword,
    ) -> ServiceResult<UserView> {
        let hash = self.passwords.hash(password.expose().to_owned()).await?;
        let mut tx = self.db.begin().await?;
        let created = users::insert_if_absent(
            &mut tx,
            &users::NewUser {
                id: Uuid::now_v7(),
                email: email.as_str(),
                hashed_password: &hash,
                full_name: full_name.as_str(),
                verified: true,
                is_superuser: true,
            },
        )
        .await?;
        tx.commit().await?;
        created
            .as_ref()
            .map(UserView::from)
            .ok_or_else(|| email_exists(email))
    }

    /// Whether an account uses `email` (the CLI asks before prompting for a password).
    pub async fn email_registered(&self, email: &Email) -> ServiceResult<bool> {
        let mut conn = self.db.read().await?;
        Ok(users::by_email(&mut conn, email.as_str()).await?.is_some())
    }

    /// `tenantry admin grant-superuser | revoke-superuser`: returns the previous value; 404 when no
    /// account has this email.
    pub async fn set_superuser(&self, email: &Email, is_superuser: bool) -> ServiceResult<bool> {
        let mut tx = self.db.begin().await?;
        let previous = users::set_superuser(&mut tx, email.as_str(), is_superuser).await?;
        tx.commit().await?;
        previous.ok_or_else(|| {
            ServiceError::NotFound(format!("No user with email '{}'", email.as_str()))
        })
    }
}

fn email_exists(email: &Email) -> ServiceError {
    ServiceError::Conflict(format!(
        "A user with email '{}' already exists",
        email.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(active: bool, verified: bool, superuser: bool) -> users::UserRow {
        let now = OffsetDateTime::now_utc();
        users::UserRow {
            id: Uuid::now_v7(),
            email: "a@example.com".into(),
            hashed_password: String::new(),
            full_name: "A".into(),
            is_active: active,
            is_superuser: superuser,
            email_verified_at: verified.then_some(now),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn console_refusals_follow_the_login_order() {
        assert_eq!(console_refusal(true, None), Some(INVALID_CREDENTIALS));
        let su = user(true, true, true);
        assert_eq!(console_refusal(false, Some(&su)), Some(INVALID_CREDENTIALS));
        assert_eq!(console_refusal(true, Some(&su)), None);
        assert_eq!(
            console_refusal(true, Some(&user(false, false, false))),
            Some("User inactive")
        );
        assert_eq!(
            console_refusal(true, Some(&user(true, false, true))),
            Some("Email not verified")
        );
        assert_eq!(
            console_refusal(true, Some(&user(true, true, false))),
            Some(NOT_A_SUPERUSER)
        );
    }

    #[test]
    fn target_refusals_in_contract_order() {
        assert_eq!(target_refusal(None), Some(TARGET_NOT_FOUND));
        assert_eq!(
            target_refusal(Some(&user(false, true, true))),
            Some(TARGET_INACTIVE)
        );
        assert_eq!(
            target_refusal(Some(&user(true, true, true))),
            Some(TARGET_SUPERUSER)
        );
        assert_eq!(target_refusal(Some(&user(true, false, false))), None);
    }
}
