//! Tenant lifecycle (data-model.md §5).

use crate::string_enum::string_enum;
use crate::validation::FieldError;

string_enum! {
    pub enum TenantStatus {
        Provisioning => "provisioning",
        Ready => "ready",
        Failed => "failed",
        Deleting => "deleting",
        Deleted => "deleted",
    }
}

impl TenantStatus {
    /// Errors name field `status`, code `invalid_choice`.
    pub fn parse(s: &str) -> Result<TenantStatus, FieldError> {
        TenantStatus::from_wire(s).ok_or_else(|| FieldError::invalid_choice("status", Self::NAMES))
    }

    /// Same-state writes are not transitions; anything not listed in the state machine is refused.
    pub fn can_transition(from: TenantStatus, to: TenantStatus) -> bool {
        use TenantStatus::*;
        matches!(
            (from, to),
            (Provisioning, Ready)
                | (Provisioning, Failed)
                | (Ready, Deleting)
                | (Failed, Deleting)
                | (Deleting, Deleted)
        )
    }

    pub fn can_transition_to(self, to: TenantStatus) -> bool {
        Self::can_transition(self, to)
    }

    /// The `$allowed_from` of the compare-and-set `UPDATE … WHERE status = ANY($allowed_from)`.
    pub fn allowed_from(to: TenantStatus) -> Vec<TenantStatus> {
        Self::ALL
            .iter()
            .copied()
            .filter(|&from| Self::can_transition(from, to))
            .collect()
    }

    /// Value of `is_active` the state machine requires, where it pins one (only `provisioning` leaves it open
    /// for the registration path to decide).
    pub fn required_is_active(self) -> Option<bool> {
        match self {
            TenantStatus::Provisioning => None,
            TenantStatus::Ready => Some(true),
            TenantStatus::Failed | TenantStatus::Deleting | TenantStatus::Deleted => Some(false),
        }
    }

    /// `deleting` and `deleted` carry `deleted_at` (`ck_tenants_deleted`).
    pub fn is_deleted(self) -> bool {
        matches!(self, TenantStatus::Deleting | TenantStatus::Deleted)
    }
}

impl std::str::FromStr for TenantStatus {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TenantStatus::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::TenantStatus::*;
    use super::*;

    #[test]
    fn transitions_match_the_state_machine() {
        let allowed = [
            (Provisioning, Ready),
            (Provisioning, Failed),
            (Ready, Deleting),
            (Failed, Deleting),
            (Deleting, Deleted),
        ];
        for &from in TenantStatus::ALL {
            for &to in TenantStatus::ALL {
                assert_eq!(
                    TenantStatus::can_transition(from, to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
        assert_eq!(TenantStatus::allowed_from(Deleting), vec![Ready, Failed]);
        assert!(TenantStatus::allowed_from(Provisioning).is_empty());
    }

    #[test]
    fn wire_form() {
        for (&status, &name) in TenantStatus::ALL.iter().zip(TenantStatus::NAMES) {
            assert_eq!(status.as_str(), name);
            assert_eq!(name.parse::<TenantStatus>().unwrap(), status);
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::Value::from(name)
            );
        }
        assert_eq!(
            TenantStatus::parse("READY").unwrap_err().message,
            "Must be one of: provisioning, ready, failed, deleting, deleted"
        );
    }

    #[test]
    fn invariants() {
        assert_eq!(Ready.required_is_active(), Some(true));
        assert_eq!(Deleted.required_is_active(), Some(false));
        assert!(Deleting.is_deleted() && !Failed.is_deleted());
    }
}
