//! Value types of Tenantry that can only be built valid, and the validation error vocabulary. No IO.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod string_enum;

pub mod audit;
pub mod cursor;
pub mod email;
pub mod execution_status;
pub mod idempotency_key;
pub mod invite_status;
pub mod names;
pub mod one_time_token;
pub mod password;
pub mod project_text;
pub mod request_id;
pub mod role;
pub mod schema_name;
pub mod slug;
pub mod task_queue;
pub mod tenant_status;
pub mod validation;
pub mod workflow_ids;

pub use audit::{AuditAction, EntityType};
pub use cursor::Cursor;
pub use email::Email;
pub use execution_status::{ExecutionStatus, StatusWrite};
pub use idempotency_key::IdempotencyKey;
pub use invite_status::InviteStatus;
pub use names::{FullName, TenantName};
pub use one_time_token::{OneTimeToken, token_hash};
pub use password::{LoginPassword, NewPassword};
pub use project_text::{ProjectDescription, ProjectName};
pub use request_id::RequestId;
pub use role::Role;
pub use schema_name::{InvalidSchemaName, SchemaName};
pub use slug::Slug;
pub use task_queue::{QueueShards, jobs_queue, tenant_queue, tenant_shard};
pub use tenant_status::TenantStatus;
pub use validation::{ErrorCode, FieldError, ValidationErrors};
pub use workflow_ids::{
    deletion_workflow_id, email_workflow_id, onboarding_workflow_id, provisioning_workflow_id,
};
