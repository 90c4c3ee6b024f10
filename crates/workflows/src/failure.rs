//! Activity failures with the contract's types (workflows.md §3): which errors Temporal retries and
//! which end the step at once.

use temporalio_common::error::IncomingError;
use temporalio_sdk::activities::ActivityError;
use temporalio_sdk::{ActivityExecutionError, ApplicationFailure};

/// The non-retryable failure types of workflows.md §3.
pub mod kind {
    pub const TENANT_NOT_FOUND: &str = "TenantNotFound";
    pub const TENANT_NOT_PROVISIONING: &str = "TenantNotProvisioning";
    pub const INVALID_TRANSITION: &str = "InvalidTransition";
    pub const INVALID_SCHEMA_NAME: &str = "InvalidSchemaName";
    pub const REFERENCE_MISSING: &str = "ReferenceMissing";
    pub const MIGRATION_CHECKSUM_MISMATCH: &str = "MigrationChecksumMismatch";
    pub const MIGRATION_FAILED: &str = "MigrationFailed";
    pub const EMAIL_REJECTED: &str = "EmailRejected";
    pub const BILLING_REJECTED: &str = "BillingRejected";
    /// Retryable failures carry this type so histories say what happened.
    pub const TRANSIENT: &str = "Transient";
}

pub fn non_retryable(kind: &str, message: impl Into<String>) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(message.into())
            .type_name(kind.to_owned())
            .non_retryable(true)
            .build(),
    )
}

pub fn retryable(message: impl Into<String>) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(message.into())
            .type_name(kind::TRANSIENT.to_owned())
            .build(),
    )
}

/// SQL errors: a foreign-key violation means a referenced row is gone and no retry can bring it back;
/// everything else (connections, deadlocks, timeouts…) is worth retrying.
pub fn from_sql(error: &sqlx::Error) -> ActivityError {
    if tenantry_store::is_foreign_key_violation(error) {
        non_retryable(
            kind::REFERENCE_MISSING,
            format!("referenced row is missing: {error}"),
        )
    } else {
        retryable(error.to_string())
    }
}

/// Type and message of an activity's failure as seen from the workflow.
pub fn describe(error: &ActivityExecutionError) -> (Option<String>, String) {
    match error.cause() {
        Some(IncomingError::Application(af)) => (
            af.type_name().map(str::to_owned),
            af.source_error().to_string(),
        ),
        Some(other) => (None, other.to_string()),
        None => (None, error.to_string()),
    }
}
