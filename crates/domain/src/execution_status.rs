//! Lifecycle of a `workflow_executions` row (data-model.md §2.8, §5).

use crate::string_enum::string_enum;
use crate::validation::FieldError;

string_enum! {
    pub enum ExecutionStatus {
        Pending => "pending",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
    }
}

impl ExecutionStatus {
    /// Errors name field `status`, code `invalid_choice`.
    pub fn parse(s: &str) -> Result<ExecutionStatus, FieldError> {
        ExecutionStatus::from_wire(s)
            .ok_or_else(|| FieldError::invalid_choice("status", Self::NAMES))
    }

    /// Strict transitions only. Re-writing the current state is a no-op success for this table, which
    /// callers detect after a compare-and-set that matched no row (see [`ExecutionStatus::write_outcome`]).
    pub fn can_transition(from: ExecutionStatus, to: ExecutionStatus) -> bool {
        use ExecutionStatus::*;
        matches!(
            (from, to),
            (Pending, Running)
                | (Pending, Completed)
                | (Pending, Failed)
                | (Running, Completed)
                | (Running, Failed)
        )
    }

    pub fn can_transition_to(self, to: ExecutionStatus) -> bool {
        Self::can_transition(self, to)
    }

    pub fn allowed_from(to: ExecutionStatus) -> Vec<ExecutionStatus> {
        Self::ALL
            .iter()
            .copied()
            .filter(|&from| Self::can_transition(from, to))
            .collect()
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, ExecutionStatus::Completed | ExecutionStatus::Failed)
    }

    /// How a requested write from `current` to `to` should be treated.
    pub fn write_outcome(current: ExecutionStatus, to: ExecutionStatus) -> StatusWrite {
        if current == to {
            StatusWrite::NoOp
        } else if Self::can_transition(current, to) {
            StatusWrite::Apply
        } else {
            StatusWrite::Refused
        }
    }
}

/// Result of checking a status write against the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusWrite {
    Apply,
    /// Already in the requested state: success without a write, so retried activities converge.
    NoOp,
    Refused,
}

impl std::str::FromStr for ExecutionStatus {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ExecutionStatus::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::ExecutionStatus::*;
    use super::*;

    #[test]
    fn transitions() {
        let allowed = [
            (Pending, Running),
            (Pending, Completed),
            (Pending, Failed),
            (Running, Completed),
            (Running, Failed),
        ];
        for &from in ExecutionStatus::ALL {
            for &to in ExecutionStatus::ALL {
                assert_eq!(
                    ExecutionStatus::can_transition(from, to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
        assert_eq!(
            ExecutionStatus::allowed_from(Completed),
            vec![Pending, Running]
        );
    }

    #[test]
    fn rewriting_the_current_state_is_a_no_op() {
        assert_eq!(
            ExecutionStatus::write_outcome(Completed, Completed),
            StatusWrite::NoOp
        );
        assert_eq!(
            ExecutionStatus::write_outcome(Running, Completed),
            StatusWrite::Apply
        );
        assert_eq!(
            ExecutionStatus::write_outcome(Failed, Completed),
            StatusWrite::Refused
        );
        assert_eq!(
            ExecutionStatus::write_outcome(Running, Pending),
            StatusWrite::Refused
        );
        assert!(Completed.is_terminal() && Failed.is_terminal() && !Running.is_terminal());
    }

    #[test]
    fn wire_form() {
        assert_eq!(serde_json::to_string(&Running).unwrap(), "\"running\"");
        assert_eq!("failed".parse::<ExecutionStatus>().unwrap(), Failed);
        assert!("done".parse::<ExecutionStatus>().is_err());
    }
}
