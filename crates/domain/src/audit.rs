//! Audit vocabulary (api.md §6). `audit_logs.action` has no database CHECK, so this enum is the only guard.

use crate::string_enum::string_enum;
use crate::validation::{ErrorCode, FieldError};

string_enum! {
    pub enum EntityType {
        User => "user",
        Tenant => "tenant",
        Membership => "membership",
        Invite => "invite",
        Project => "project",
        Token => "token",
        Session => "session",
    }
}

impl EntityType {
    /// Errors name field `entity_type`, code `invalid_choice`.
    pub fn parse(s: &str) -> Result<EntityType, FieldError> {
        EntityType::from_wire(s)
            .ok_or_else(|| FieldError::invalid_choice("entity_type", Self::NAMES))
    }
}

impl std::str::FromStr for EntityType {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntityType::parse(s)
    }
}

string_enum! {
    pub enum AuditAction {
        UserRegister => "user.register",
        UserEmailVerify => "user.email_verify",
        UserLogin => "user.login",
        TokenRefresh => "token.refresh",
        TokenReuseDetected => "token.reuse_detected",
        UserLogout => "user.logout",
        UserLogoutAll => "user.logout_all",
        SessionRevoke => "session.revoke",
        PasswordChange => "password.change",
        PasswordResetRequest => "password.reset_request",
        PasswordReset => "password.reset",
        UserUpdate => "user.update",
        InviteCreate => "invite.create",
        InviteResend => "invite.resend",
        InviteCancel => "invite.cancel",
        InviteAccept => "invite.accept",
        MemberRoleChange => "member.role_change",
        MemberActivate => "member.activate",
        MemberDeactivate => "member.deactivate",
        MemberRemove => "member.remove",
        TenantCreate => "tenant.create",
        TenantDelete => "tenant.delete",
        IdentityAssumed => "identity.assumed",
        ProjectCreate => "project.create",
        ProjectUpdate => "project.update",
        ProjectDelete => "project.delete",
    }
}

pub const UNKNOWN_ACTION_MESSAGE: &str = "Unknown action";

impl AuditAction {
    /// Errors name field `action`, code `invalid_choice`, `Unknown action` (the list is too long to echo).
    pub fn parse(s: &str) -> Result<AuditAction, FieldError> {
        AuditAction::from_wire(s).ok_or_else(|| {
            FieldError::new("action", ErrorCode::InvalidChoice, UNKNOWN_ACTION_MESSAGE)
        })
    }

    /// The `entity_type` api.md §6 pairs with this action.
    pub fn entity_type(self) -> EntityType {
        use AuditAction::*;
        match self {
            UserRegister | UserEmailVerify | UserLogin | UserLogoutAll | PasswordChange
            | PasswordResetRequest | PasswordReset | UserUpdate | IdentityAssumed => {
                EntityType::User
            }
            TokenRefresh => EntityType::Token,
            TokenReuseDetected | UserLogout | SessionRevoke => EntityType::Session,
            InviteCreate | InviteResend | InviteCancel | InviteAccept => EntityType::Invite,
            MemberRoleChange | MemberActivate | MemberDeactivate | MemberRemove => {
                EntityType::Membership
            }
            TenantCreate | TenantDelete => EntityType::Tenant,
            ProjectCreate | ProjectUpdate | ProjectDelete => EntityType::Project,
        }
    }
}

impl std::str::FromStr for AuditAction {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditAction::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips() {
        assert_eq!(AuditAction::ALL.len(), 26);
        for &action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>().unwrap(), action);
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::Value::from(action.as_str())
            );
        }
    }

    #[test]
    fn unknown_action() {
        let e = "user.delete".parse::<AuditAction>().unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code, e.message.as_str()),
            ("action", ErrorCode::InvalidChoice, "Unknown action")
        );
    }

    #[test]
    fn entity_types_follow_the_table() {
        assert_eq!(AuditAction::UserLogout.entity_type(), EntityType::Session);
        assert_eq!(AuditAction::TokenRefresh.entity_type(), EntityType::Token);
        assert_eq!(
            AuditAction::MemberRemove.entity_type(),
            EntityType::Membership
        );
        assert_eq!(AuditAction::IdentityAssumed.entity_type(), EntityType::User);
        assert_eq!(
            EntityType::NAMES,
            [
                "user",
                "tenant",
                "membership",
                "invite",
                "project",
                "token",
                "session"
            ]
        );
        assert!("account".parse::<EntityType>().is_err());
    }
}
