//! Invite lifecycle (data-model.md §5): only a pending invite can change.

use crate::string_enum::string_enum;
use crate::validation::FieldError;

string_enum! {
    pub enum InviteStatus {
        Pending => "pending",
        Accepted => "accepted",
        Cancelled => "cancelled",
        Expired => "expired",
    }
}

impl InviteStatus {
    /// Errors name field `status`, code `invalid_choice`.
    pub fn parse(s: &str) -> Result<InviteStatus, FieldError> {
        InviteStatus::from_wire(s).ok_or_else(|| FieldError::invalid_choice("status", Self::NAMES))
    }

    pub fn can_transition(from: InviteStatus, to: InviteStatus) -> bool {
        from == InviteStatus::Pending && to != InviteStatus::Pending
    }

    pub fn can_transition_to(self, to: InviteStatus) -> bool {
        Self::can_transition(self, to)
    }

    pub fn is_terminal(self) -> bool {
        self != InviteStatus::Pending
    }
}

impl std::str::FromStr for InviteStatus {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InviteStatus::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::InviteStatus::*;
    use super::*;

    #[test]
    fn only_pending_moves() {
        for &from in InviteStatus::ALL {
            for &to in InviteStatus::ALL {
                let expected = from == Pending && matches!(to, Accepted | Cancelled | Expired);
                assert_eq!(
                    InviteStatus::can_transition(from, to),
                    expected,
                    "{from} -> {to}"
                );
            }
        }
        assert!(Accepted.is_terminal() && !Pending.is_terminal());
        assert_eq!(serde_json::to_string(&Cancelled).unwrap(), "\"cancelled\"");
        assert_eq!("expired".parse::<InviteStatus>().unwrap(), Expired);
    }
}
