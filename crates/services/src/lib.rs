//! Tenantry's use cases. Services own transactions and business rules; handlers and workflow activities
//! call them.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod context;
pub mod email;
pub mod error;
pub mod health;
pub mod mailbox;
pub mod outbox;
pub mod passwords;
pub mod registration;
pub mod tenant_admin;
pub mod tenant_directory;
pub mod tenant_workflows;
pub mod tenants;
pub mod time_format;
pub mod tokens;

pub use context::{Services, UserView};
pub use error::{ServiceError, ServiceResult};
pub use tenantry_store::audit::AuditContext;
