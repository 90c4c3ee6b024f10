//! Who is calling: the checks of api.md §1.4, in their order.

use tenantry_store::{sessions, users};
use uuid::Uuid;

use super::claims::AccessClaims;
use crate::context::Services;
use crate::error::ServiceError;

#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub is_superuser: bool,
    pub tenant_id: Option<Uuid>,
    pub sid: Option<Uuid>,
    /// The operator acting through an assumed identity.
    pub assumed_by: Option<Uuid>,
    /// The reason the operator gave for assuming the identity.
    pub assumed_reason: Option<String>,
}

/// A 401 of a bearer check (answered with `WWW-Authenticate: Bearer`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthFailure(pub &'static str);

/// The token of an `Authorization` value `Bearer <token>`; `None` for anything else (api.md §1.4 first row).
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    authorization
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Who a decoded token names, as far as the checks of api.md §1.4 that need no database tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSubject {
    pub assumed: bool,
    pub user_id: Uuid,
    pub tenant_id: Option<Uuid>,
}

/// The rows of api.md §1.4 from `type` to `tenant_id`, in their order; the user, session and operator rows
/// follow in [`Services::authenticate`]. Pure, so the fuzz targets (fuzz/) reach it without a database.
pub fn token_subject(c: &AccessClaims) -> Result<TokenSubject, AuthFailure> {
    let assumed = match c.token_type.as_deref() {
        Some("access") => false,
        Some("assumed_access") => true,
        _ => return Err(AuthFailure("Invalid token type")),
    };
    let Some(sub) = c.sub.as_deref() else {
        return Err(AuthFailure("Invalid token payload"));
    };
    if !assumed && c.sid.is_none() {
        return Err(AuthFailure("Invalid token payload"));
    }
    let Ok(user_id) = Uuid::parse_str(sub) else {
        return Err(AuthFailure("Invalid user_id in token"));
    };
    let tenant_id = match c.tenant_id.as_deref() {
        Some(t) => match Uuid::parse_str(t) {
            Ok(t) => Some(t),
            Err(_) => return Err(AuthFailure("Invalid tenant_id in token")),
        },
        None => None,
    };
    Ok(TokenSubject {
        assumed,
        user_id,
        tenant_id,
    })
}

impl Services {
    /// Token level: a valid access or assumed-access token of an active user with a live session.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Result<Principal, AuthFailure>, ServiceError> {
        let Some(token) = bearer_token(authorization) else {
            return Ok(Err(AuthFailure("Missing or invalid authorization header")));
        };
        let Some(claims) = self.token_keys.decode(token) else {
            return Ok(Err(AuthFailure("Invalid or expired token")));
        };
        self.check_claims(claims).await
    }

    async fn check_claims(
        &self,
        c: AccessClaims,
    ) -> Result<Result<Principal, AuthFailure>, ServiceError> {
        let TokenSubject {
            assumed,
            user_id,
            tenant_id,
        } = match token_subject(&c) {
            Ok(subject) => subject,
            Err(failure) => return Ok(Err(failure)),
        };
        let mut conn = self.db.read().await?;
        let Some(user) = users::by_id(&mut conn, user_id)
            .await?
            .filter(|u| u.is_active)
        else {
            return Ok(Err(AuthFailure("User not found or inactive")));
        };
        let sid = match c.sid.as_deref() {
            Some(s) => match Uuid::parse_str(s) {
                Ok(sid) if sessions::is_live(&mut conn, sid, user_id).await? => Some(sid),
                _ => return Ok(Err(AuthFailure("Session has been revoked"))),
            },
            None => None,
        };
        let mut assumed_by = None;
        if assumed {
            let Some(operator) = c
                .assumed_identity
                .as_ref()
                .and_then(|a| a.operator_user_id.as_deref())
            else {
                return Ok(Err(AuthFailure("Invalid assumed identity token")));
            };
            let Ok(operator_id) = Uuid::parse_str(operator) else {
                return Ok(Err(AuthFailure("Invalid operator_user_id in token")));
            };
            let Some(op) = users::by_id(&mut conn, operator_id)
                .await?
                .filter(|u| u.is_active)
            else {
                return Ok(Err(AuthFailure("Operator user not found or inactive")));
            };
            if !op.is_superuser {
                return Ok(Err(AuthFailure(
                    "Assumed identity not authorized - operator is not a superuser",
                )));
            }
            assumed_by = Some(operator_id);
        }
        Ok(Ok(Principal {
            user_id,
            email: user.email,
            full_name: user.full_name,
            is_superuser: user.is_superuser,
            tenant_id,
            sid,
            assumed_reason: c.assumed_identity.and_then(|a| a.reason),
            assumed_by,
        }))
    }

    /// `(role, is_active)` of the caller in a tenant.
    pub async fn membership(
        &self,
        user_id: Uuid,
        tenant_id: Uuid,
    ) -> Result<Option<(String, bool)>, ServiceError> {
        let mut conn = self.db.read().await?;
        Ok(sessions::membership(&mut conn, user_id, tenant_id).await?)
    }
}
