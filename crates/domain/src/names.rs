//! Display names of people and tenants (api.md §4: trimmed, 1..100 characters).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validation::{ErrorCode, FieldError};

pub const NAME_MAX_LEN: usize = 100;

fn parse_name(s: &str, field: &str) -> Result<String, FieldError> {
    let trimmed = s.trim();
    let len = trimmed.chars().count();
    if len == 0 {
        Err(FieldError::length(
            field,
            ErrorCode::TooShort,
            1,
            NAME_MAX_LEN,
        ))
    } else if len > NAME_MAX_LEN {
        Err(FieldError::length(
            field,
            ErrorCode::TooLong,
            1,
            NAME_MAX_LEN,
        ))
    } else {
        FieldError::reject_nul(field, trimmed)?;
        Ok(trimmed.to_owned())
    }
}

macro_rules! name_type {
    ($(#[$meta:meta])* $name:ident, $field:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Errors name field `", $field, "`; rename with [`FieldError::for_field`].")]
            pub fn parse(s: &str) -> Result<$name, FieldError> {
                parse_name(s, $field).map($name)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                $name::parse(&s).map_err(|e| serde::de::Error::custom(e.message))
            }
        }
    };
}

name_type!(
    /// A user's full name.
    FullName,
    "full_name"
);

name_type!(
    /// A tenant's display name.
    TenantName,
    "name"
);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn trims_and_limits() {
        assert_eq!(
            FullName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        let short = FullName::parse("   ").unwrap_err();
        assert_eq!(
            (short.field.as_str(), short.code, short.message.as_str()),
            (
                "full_name",
                ErrorCode::TooShort,
                "Must be 1 to 100 characters"
            )
        );
        let long = TenantName::parse(&"é".repeat(101)).unwrap_err();
        assert_eq!(
            (long.field.as_str(), long.code),
            ("name", ErrorCode::TooLong)
        );
        assert!(TenantName::parse(&"é".repeat(100)).is_ok());
    }

    /// PostgreSQL cannot store U+0000: a name holding one is refused here, not by the database (a 500).
    #[test]
    fn refuses_nul_characters() {
        for s in ["A\0B", "\0", " Ada\0 "] {
            let e = FullName::parse(s).unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.code, e.message.as_str()),
                (
                    "full_name",
                    ErrorCode::InvalidFormat,
                    "Must not contain NUL characters"
                )
            );
            assert_eq!(TenantName::parse(s).unwrap_err().field, "name");
        }
        assert!(FullName::parse("Ada\u{1}Lovelace").is_ok());
    }

    proptest! {
        #[test]
        fn accepted_names_are_trimmed_and_bounded(s in "\\PC{0,120}") {
            if let Ok(n) = FullName::parse(&s) {
                prop_assert_eq!(n.as_str(), n.as_str().trim());
                let len = n.as_str().chars().count();
                prop_assert!((1..=NAME_MAX_LEN).contains(&len));
            } else {
                let len = s.trim().chars().count();
                prop_assert!(len == 0 || len > NAME_MAX_LEN);
            }
        }
    }
}
