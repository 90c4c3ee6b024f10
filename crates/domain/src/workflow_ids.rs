//! Deterministic workflow ids and workflow type names (workflows.md §1.3). Ids are derived, never random, so a
//! repeated start is recognised by Temporal as the same workflow.

use uuid::Uuid;

use crate::slug::Slug;

pub const TENANT_PROVISIONING: &str = "TenantProvisioning";
pub const TENANT_DELETION: &str = "TenantDeletion";
pub const USER_ONBOARDING: &str = "UserOnboarding";
pub const SEND_EMAIL: &str = "SendEmail";
pub const TOKEN_CLEANUP: &str = "TokenCleanup";

/// Schedule that starts TokenCleanup; its runs get ids from the schedule.
pub const TOKEN_CLEANUP_SCHEDULE_ID: &str = "tenantry-token-cleanup";

/// Keyed by slug rather than id because slugs are never reused and the slug is known before the tenant row.
pub fn provisioning_workflow_id(slug: &Slug) -> String {
    format!("tenant-provision-{slug}")
}

pub fn deletion_workflow_id(tenant_id: &Uuid) -> String {
    format!("tenant-deletion-{}", tenant_id.hyphenated())
}

pub fn onboarding_workflow_id(user_id: &Uuid) -> String {
    format!("user-onboarding-{}", user_id.hyphenated())
}

pub fn email_workflow_id(email_outbox_id: &Uuid) -> String {
    format!("email-{}", email_outbox_id.hyphenated())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let id = Uuid::parse_str("0190B2A4-7C3E-7D1A-9F00-123456789ABC").unwrap();
        assert_eq!(
            provisioning_workflow_id(&Slug::parse("acme-corp").unwrap()),
            "tenant-provision-acme-corp"
        );
        assert_eq!(
            deletion_workflow_id(&id),
            "tenant-deletion-0190b2a4-7c3e-7d1a-9f00-123456789abc"
        );
        assert_eq!(
            onboarding_workflow_id(&id),
            "user-onboarding-0190b2a4-7c3e-7d1a-9f00-123456789abc"
        );
        assert_eq!(
            email_workflow_id(&id),
            "email-0190b2a4-7c3e-7d1a-9f00-123456789abc"
        );
    }
}
