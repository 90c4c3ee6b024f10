//! Email address as stored and compared (api.md §4, data-model.md §1).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validation::{ErrorCode, FieldError};

pub const EMAIL_MAX_LEN: usize = 254;
pub const EMAIL_INVALID_MESSAGE: &str = "Invalid email address";

const DEFAULT_FIELD: &str = "email";

/// Trimmed and lower-cased, so equality here matches the database's unique index
/// (`CHECK (email = lower(btrim(email)))`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Errors name field `email`; rename with [`FieldError::for_field`].
    pub fn parse(s: &str) -> Result<Email, FieldError> {
        let normalized = s.trim().to_lowercase();
        if is_valid(&normalized) {
            Ok(Email(normalized))
        } else {
            Err(FieldError::new(
                DEFAULT_FIELD,
                ErrorCode::InvalidFormat,
                EMAIL_INVALID_MESSAGE,
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.split().0
    }

    pub fn domain(&self) -> &str {
        self.split().1
    }

    pub fn into_string(self) -> String {
        self.0
    }

    fn split(&self) -> (&str, &str) {
        // Construction guarantees exactly one '@'.
        self.0.split_once('@').unwrap_or((&self.0, ""))
    }
}

fn is_valid(s: &str) -> bool {
    if s.chars().count() > EMAIL_MAX_LEN {
        return false;
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if local.is_empty() || domain.contains('@') {
        return false;
    }
    // Empty labels ("a@.com", "a@b..c", "a@b.") can never receive mail, so "a dot" means one between labels.
    domain.contains('.') && domain.split('.').all(|label| !label.is_empty())
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Email {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Email::parse(s)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Email::parse(&s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn normalizes() {
        let e = Email::parse("  Alice.Smith@Example.COM \t").unwrap();
        assert_eq!(e.as_str(), "alice.smith@example.com");
        assert_eq!(e.local_part(), "alice.smith");
        assert_eq!(e.domain(), "example.com");
    }

    #[test]
    fn rejects() {
        for s in [
            "",
            "   ",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "alice@@example.com",
            "a@b@example.com",
            "al ice@example.com",
            "alice@exa mple.com",
            "alice\u{0}@example.com",
            "alice@.com",
            "alice@example.",
            "alice@example..com",
        ] {
            let e = Email::parse(s).unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.code, e.message.as_str()),
                ("email", ErrorCode::InvalidFormat, "Invalid email address"),
                "{s:?}"
            );
        }
    }

    #[test]
    fn length_limit_is_254_after_trim() {
        let ok = format!("{}@example.com", "a".repeat(254 - 12));
        assert_eq!(ok.len(), 254);
        assert!(Email::parse(&format!("  {ok}  ")).is_ok());
        assert!(Email::parse(&format!("a{ok}")).is_err());
    }

    proptest! {
        #[test]
        fn generated_addresses_parse(local in "[A-Za-z0-9._+-]{1,30}", domain in "[A-Za-z0-9-]{1,20}(\\.[A-Za-z]{2,6}){1,3}") {
            let raw = format!(" {local}@{domain} ");
            let e = Email::parse(&raw).unwrap();
            prop_assert_eq!(e.local_part(), local.to_lowercase());
            prop_assert_eq!(e.as_str(), e.as_str().to_lowercase());
        }

        #[test]
        fn parse_is_idempotent(s in "\\PC{0,80}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert_eq!(Email::parse(e.as_str()), Ok(e.clone()));
                prop_assert_eq!(e.as_str().matches('@').count(), 1);
            }
        }
    }
}
