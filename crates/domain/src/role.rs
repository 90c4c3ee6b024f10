//! Role of a user inside one tenant.

use crate::string_enum::string_enum;
use crate::validation::FieldError;

string_enum! {
    pub enum Role {
        Admin => "admin",
        Member => "member",
    }
}

impl Role {
    /// Errors name field `role`, code `invalid_choice`; rename with [`FieldError::for_field`].
    pub fn parse(s: &str) -> Result<Role, FieldError> {
        Role::from_wire(s).ok_or_else(|| FieldError::invalid_choice("role", Role::NAMES))
    }

    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

impl std::str::FromStr for Role {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn parse_and_wire_form() {
        assert_eq!(Role::parse("admin").unwrap(), Role::Admin);
        assert_eq!("member".parse::<Role>().unwrap(), Role::Member);
        let e = Role::parse("Admin").unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code, e.message.as_str()),
            (
                "role",
                ErrorCode::InvalidChoice,
                "Must be one of: admin, member"
            )
        );
        assert_eq!(serde_json::to_string(&Role::Admin).unwrap(), "\"admin\"");
        assert_eq!(
            serde_json::from_str::<Role>("\"member\"").unwrap(),
            Role::Member
        );
        assert!(serde_json::from_str::<Role>("\"owner\"").is_err());
        assert!(Role::Admin.is_admin() && !Role::Member.is_admin());
    }
}
