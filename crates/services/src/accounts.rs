//! The account of the caller (api.md §5.1–§5.2): email verification, password reset and change, profile.
//! Whenever an email becomes verified for the first time, the same transaction claims the user's
//! registration tenants and requests their onboarding.

use serde_json::json;
use sqlx::PgConnection;
use tenantry_domain::{
    Email, ErrorCode, FieldError, FullName, LoginPassword, NewPassword, OneTimeToken,
    ValidationErrors, token_hash,
};
use tenantry_store::audit::{self, AuditContext, NewAudit};
use tenantry_store::tokens::{self, OneTime};
use tenantry_store::{sessions, tenants, users};
use uuid::Uuid;

use crate::auth::Principal;
use crate::context::{Services, UserView};
use crate::email::queue::{Recipient, queue};
use crate::email::templates;
use crate::error::{ServiceError, ServiceResult};
use crate::workflow_requests::request_onboarding;

pub const INVALID_VERIFICATION: &str = "Invalid or expired verification token";
pub const INVALID_RESET: &str = "Invalid or expired reset token";

/// Words zxcvbn must not find in a user's new password.
pub fn password_inputs(email: &str, full_name: &str) -> Vec<String> {
    let local = email.split('@').next().unwrap_or(email);
    vec![email.to_owned(), local.to_owned(), full_name.to_owned()]
}

fn strong_password(
    raw: &str,
    field: &str,
    email: &str,
    full_name: &str,
) -> ServiceResult<NewPassword> {
    let inputs = password_inputs(email, full_name);
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    NewPassword::parse(raw, &refs)
        .map_err(|e| ServiceError::Validation(ValidationErrors::from(vec![e.for_field(field)])))
}

/// Marks the email verified; the first time, claims the user's registration tenants and requests
/// onboarding. Returns the registration tenant (for the audit row), if any.
pub(crate) async fn verify_once(
    conn: &mut PgConnection,
    settings: &tenantry_settings::Settings,
    user_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    if !users::mark_verified(conn, user_id).await? {
        return Ok(None);
    }
    let claimed = tenants::claim_registrations(conn, user_id).await?;
    let tenant = claimed.first().copied();
    request_onboarding(conn, settings, user_id, tenant).await?;
    Ok(tenant)
}

impl Services {
    async fn user(&self, user_id: Uuid) -> ServiceResult<users::UserRow> {
        let mut conn = self.db.read().await?;
        users::by_id(&mut conn, user_id)
            .await?
            .ok_or_else(|| ServiceError::Unauthorized("User not found or inactive".to_owned()))
    }

    /// `GET /users/me`.
    pub async fn me(&self, caller: &Principal) -> ServiceResult<UserView> {
        Ok(UserView::from(&self.user(caller.user_id).await?))
    }

    /// `PATCH /users/me`: `None` is the no-op of an empty body.
    pub async fn update_me(
        &self,
        caller: &Principal,
        tenant_id: Uuid,
        full_name: Option<FullName>,
        ctx: &AuditContext,
    ) -> ServiceResult<UserView> {
        let Some(full_name) = full_name else {
            return self.me(caller).await;
        };
        let mut tx = self.db.begin().await?;
        let Some((user, changed)) =
            users::update_full_name(&mut tx, caller.user_id, full_name.as_str()).await?
        else {
            return Err(ServiceError::Unauthorized(
                "User not found or inactive".to_owned(),
            ));
        };
        if changed {
            audit::insert(
                &mut tx,
                ctx,
                &NewAudit::success("user.update", "user", user.id)
                    .tenant(tenant_id)
                    .by(user.id)
                    .changes(json!({ "full_name": user.full_name })),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(UserView::from(&user))
    }

    /// `POST /users/me/password`: every other session is revoked; returns how many.
    pub async fn change_password(
        &self,
        caller: &Principal,
        current: &LoginPassword,
        new: &NewPassword,
        ctx: &AuditContext,
    ) -> ServiceResult<u64> {
        let user = self.user(caller.user_id).await?;
        let ok = self
            .passwords
            .verify(
                current.expose().to_owned(),
                Some(user.hashed_password.clone()),
            )
            .await?;
        if !ok {
            return Err(ServiceError::BadRequest(
                "Current password is incorrect".to_owned(),
            ));
        }
        let hashed = self.passwords.hash(new.expose().to_owned()).await?;
        let mut tx = self.db.begin().await?;
        users::set_password(&mut tx, user.id, &hashed).await?;
        let revoked =
            sessions::revoke_user(&mut tx, user.id, "password_change", caller.sid).await?;
        self.queue_password_changed(&mut tx, &user).await?;
        audit::insert(
            &mut tx,
            ctx,
            &NewAudit::success("password.change", "user", user.id)
                .by(user.id)
                .changes(json!({ "revoked_sessions": revoked })),
        )
        .await?;
        tx.commit().await?;
        Ok(revoked)
    }

    async fn queue_password_changed(
        &self,
        conn: &mut PgConnection,
        user: &users::UserRow,
    ) -> Result<(), sqlx::Error> {
        let rendered = templates::password_changed(&self.settings.app_url, &self.settings.app_name);
        queue(
            conn,
            &self.settings,
            &rendered,
            &Recipient {
                to: &user.email,
                user_id: Some(user.id),
                tenant_id: None,
            },
            None,
            None,
        )
        .await?;
        Ok(())
    }

    /// `POST /auth/verify-email`: single use; an already verified user still gets 200.
    pub async fn verify_email(
        &self,
        token: &OneTimeToken,
        ctx: &AuditContext,
    ) -> ServiceResult<UserView> {
        let mut tx = self.db.begin().await?;
        let Some(user_id) = tokens::consume(&mut tx, OneTime::Verification, &token.hash()).await?
        else {
            return Err(ServiceError::BadRequest(INVALID_VERIFICATION.to_owned()));
        };
        let tenant = verify_once(&mut tx, &self.settings, user_id).await?;
        let user = users::by_id(&mut tx, user_id)
            .await?
            .ok_or_else(|| ServiceError::BadRequest(INVALID_VERIFICATION.to_owned()))?;
        audit::insert(
            &mut tx,
            ctx,
            &NewAudit::success("user.email_verify", "user", user_id)
                .tenant(tenant)
                .by(user_id),
        )
        .await?;
        tx.commit().await?;
        Ok(UserView::from(&user))
    }

    /// `POST /auth/resend-verification`: only an existing, active, unverified account gets an email.
    pub async fn resend_verification(&self, email: &Email) -> ServiceResult<()> {
        let mut tx = self.db.begin().await?;
        let Some(user) = users::by_email(&mut tx, email.as_str()).await? else {
            return Ok(());
        };
        if !user.is_active || user.email_verified_at.is_some() {
            return Ok(());
        }
        self.queue_verification(&mut tx, user.id, &user.email, &user.full_name, None)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `POST /auth/forgot-password`: only an existing, active account gets a link.
    pub async fn forgot_password(&self, email: &Email, ctx: &AuditContext) -> ServiceResult<()> {
        let s = &self.settings;
        let mut tx = self.db.begin().await?;
        let Some(user) = users::by_email(&mut tx, email.as_str()).await? else {
            return Ok(());
        };
        if !user.is_active {
            return Ok(());
        }
        let token = crate::tokens::new_token();
        tokens::issue_reset(
            &mut tx,
            user.id,
            &token_hash(&token),
            s.password_reset_expire_minutes,
            ctx.ip,
        )
        .await?;
        let rendered = templates::password_reset(
            &s.app_url,
            &s.app_name,
            &token,
            s.password_reset_expire_minutes,
        );
        queue(
            &mut tx,
            s,
            &rendered,
            &Recipient {
                to: &user.email,
                user_id: Some(user.id),
                tenant_id: None,
            },
            Some(&token),
            None,
        )
        .await?;
        audit::insert(
            &mut tx,
            ctx,
            &NewAudit::success("password.reset_request", "user", user.id).by(user.id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `POST /auth/reset-password`: the token is consumed with a compare-and-set, so of concurrent uses
    /// exactly one succeeds; every session of the user is revoked.
    pub async fn reset_password(
        &self,
        token: &OneTimeToken,
        new_password: &LoginPassword,
        ctx: &AuditContext,
    ) -> ServiceResult<()> {
        let hash = token.hash();
        // The strength rule needs the account's words, so the token's user is looked up before it is
        // consumed; the consumption below decides.
        let user = {
            let mut conn = self.db.read().await?;
            match tokens::peek(&mut conn, OneTime::Reset, &hash).await? {
                Some(id) => users::by_id(&mut conn, id).await?,
                None => None,
            }
        }
        .ok_or_else(|| ServiceError::BadRequest(INVALID_RESET.to_owned()))?;
        let new = strong_password(
            new_password.expose(),
            "new_password",
            &user.email,
            &user.full_name,
        )?;
        let hashed = self.passwords.hash(new.expose().to_owned()).await?;
        let mut tx = self.db.begin().await?;
        if tokens::consume(&mut tx, OneTime::Reset, &hash).await? != Some(user.id) {
            return Err(ServiceError::BadRequest(INVALID_RESET.to_owned()));
        }
        users::set_password(&mut tx, user.id, &hashed).await?;
        tokens::invalidate(&mut tx, OneTime::Reset, user.id).await?;
        // The link proves ownership of the address.
        verify_once(&mut tx, &self.settings, user.id).await?;
        let revoked = sessions::revoke_user(&mut tx, user.id, "password_reset", None).await?;
        self.queue_password_changed(&mut tx, &user).await?;
        audit::insert(
            &mut tx,
            ctx,
            &NewAudit::success("password.reset", "user", user.id)
                .by(user.id)
                .changes(json!({ "revoked_sessions": revoked })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A new password equal to the current one (checked before any hashing).
pub fn same_password_error() -> FieldError {
    FieldError::new(
        "new_password",
        ErrorCode::Invalid,
        "New password must differ from the current password",
    )
}
