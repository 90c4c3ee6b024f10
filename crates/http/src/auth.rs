//! Extractors that state what a handler needs (api.md §1.2–§1.4): a resolved tenant, a bearer token, a
//! membership, an admin role, superuser rights. Checks run in the contract's order; the first failure wins.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use tenantry_services::auth::Principal;
use tenantry_services::tenant_directory::ResolvedTenant;
use tenantry_store::audit::AssumedActor;

use crate::error::ApiError;
use crate::state::AppState;

/// The tenant named by `X-Tenant-Slug`, usable (exists, not deleted, active, ready).
pub struct Tenant(pub ResolvedTenant);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(t) = parts.extensions.get::<ResolvedTenant>() {
            return Ok(Self(t.clone()));
        }
        // A value that is not text (obs-text bytes) is present but no slug: 404, not the 400 of a missing
        // header (api.md §1.3).
        let header = parts
            .headers
            .get("x-tenant-slug")
            .map(|v| String::from_utf8_lossy(v.as_bytes()));
        let tenant = state.services().tenants.resolve(header.as_deref()).await?;
        tracing::Span::current().record("tenant", tenant.slug.as_str());
        parts.extensions.insert(tenant.clone());
        Ok(Self(tenant))
    }
}

/// Token level: a valid access or assumed-access token of an active user with a live session.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(Self(p.clone()));
        }
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let principal = state
            .services()
            .authenticate(authorization)
            .await?
            .map_err(|f| ApiError::Bearer(f.0.to_owned()))?;
        tracing::Span::current().record("user_id", tracing::field::display(principal.user_id));
        if let Some(operator_user_id) = principal.assumed_by {
            crate::meta::acting_slot(parts).set(AssumedActor {
                operator_user_id,
                reason: principal.assumed_reason.clone(),
            });
        }
        parts.extensions.insert(principal.clone());
        Ok(Self(principal))
    }
}

impl Caller {
    /// "no assumed": refuses assumed-identity tokens.
    pub fn not_assumed(&self) -> Result<(), ApiError> {
        if self.0.assumed_by.is_some() {
            return Err(ApiError::forbidden(
                "Not permitted while using an assumed identity",
            ));
        }
        Ok(())
    }
}

/// Member level: the header tenant, a token bound to it, and an active membership.
pub struct Member {
    pub tenant: ResolvedTenant,
    pub caller: Caller,
    pub is_admin: bool,
}

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Tenant(tenant) = Tenant::from_request_parts(parts, state).await?;
        let caller = Caller::from_request_parts(parts, state).await?;
        let Some(token_tenant) = caller.0.tenant_id else {
            return Err(ApiError::Bearer("Invalid token payload".to_owned()));
        };
        if token_tenant != tenant.id {
            return Err(ApiError::forbidden(
                "Token tenant does not match request tenant",
            ));
        }
        let membership = state
            .services()
            .membership(caller.0.user_id, tenant.id)
            .await?;
        let Some((role, true)) = membership else {
            return Err(ApiError::forbidden(
                "User does not have access to this tenant",
            ));
        };
        Ok(Self {
            tenant,
            caller,
            is_admin: role == "admin",
        })
    }
}

/// Admin level: a member whose role is `admin`.
pub struct Admin(pub Member);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let member = Member::from_request_parts(parts, state).await?;
        if !member.is_admin {
            return Err(ApiError::forbidden(
                "Admin role required for this operation",
            ));
        }
        Ok(Self(member))
    }
}

/// Superuser level: any access token of a superuser; assumed identities never pass.
pub struct Superuser(pub Principal);

impl FromRequestParts<AppState> for Superuser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Caller(p) = Caller::from_request_parts(parts, state).await?;
        if !p.is_superuser || p.assumed_by.is_some() {
            return Err(ApiError::forbidden("Superuser privileges required"));
        }
        Ok(Self(p))
    }
}
