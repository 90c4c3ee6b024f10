//! What every use case reaches: the database, settings and password hashing.

use std::sync::Arc;

use tenantry_settings::Settings;
use tenantry_store::Db;

use crate::auth::TokenKeys;
use crate::error::ServiceError;
use crate::passwords::Passwords;
use crate::tenant_directory::TenantDirectory;

#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub passwords: Passwords,
    pub token_keys: TokenKeys,
    pub tenants: TenantDirectory,
}

impl Services {
    pub fn new(
        db: Db,
        settings: Arc<Settings>,
        passwords: Passwords,
    ) -> Result<Self, ServiceError> {
        let token_keys = TokenKeys::from_settings(&settings)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let tenants = TenantDirectory::new(db.clone());
        Ok(Self {
            db,
            settings,
            passwords,
            token_keys,
            tenants,
        })
    }
}

/// A user as every response shows it (api.md §3 UserRead).
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserView {
    pub id: uuid::Uuid,
    pub email: String,
    pub full_name: String,
    pub is_active: bool,
    pub is_superuser: bool,
    #[serde(with = "crate::time_format")]
    pub created_at: time::OffsetDateTime,
}

impl From<&tenantry_store::users::UserRow> for UserView {
    fn from(u: &tenantry_store::users::UserRow) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            full_name: u.full_name.clone(),
            is_active: u.is_active,
            is_superuser: u.is_superuser,
            created_at: u.created_at,
        }
    }
}
