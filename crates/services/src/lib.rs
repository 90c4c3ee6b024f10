//! Tenantry's use cases. Services own transactions and business rules; handlers and workflow activities
//! call them.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod accounts;
pub mod audit_trail;
pub mod auth;
pub mod context;
pub mod email;
pub mod error;
pub mod health;
pub mod invites;
pub mod mailbox;
pub mod members;
pub mod outbox;
pub mod pagination;
pub mod passwords;
pub mod projects;
pub mod registration;
pub mod sessions;
pub mod superuser;
pub mod tenant_admin;
pub mod tenant_directory;
pub mod tenants;
pub mod time_format;
pub mod tokens;
pub mod workflow_requests;

pub use context::{Services, UserView};
pub use error::{ServiceError, ServiceResult};
pub use tenantry_store::audit::AuditContext;
