//! Free-text fields of a project (api.md §4).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validation::{ErrorCode, FieldError};

pub const PROJECT_NAME_MAX_LEN: usize = 200;
pub const PROJECT_DESCRIPTION_MAX_LEN: usize = 1000;
pub const PROJECT_NAME_EMPTY_MESSAGE: &str = "Project name cannot be empty or whitespace only";

/// Trimmed, 1..200 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProjectName(String);

impl ProjectName {
    /// Errors name field `name`; rename with [`FieldError::for_field`].
    pub fn parse(s: &str) -> Result<ProjectName, FieldError> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(FieldError::new(
                "name",
                ErrorCode::TooShort,
                PROJECT_NAME_EMPTY_MESSAGE,
            ));
        }
        if trimmed.chars().count() > PROJECT_NAME_MAX_LEN {
            return Err(FieldError::too_long("name", PROJECT_NAME_MAX_LEN));
        }
        FieldError::reject_nul("name", trimmed)?;
        Ok(ProjectName(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Trimmed, 1..1000 characters; an empty description does not exist (it is stored as null).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProjectDescription(String);

impl ProjectDescription {
    /// `Ok(None)` when nothing is left after trimming. Errors name field `description`.
    pub fn parse(s: &str) -> Result<Option<ProjectDescription>, FieldError> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        if trimmed.chars().count() > PROJECT_DESCRIPTION_MAX_LEN {
            return Err(FieldError::too_long(
                "description",
                PROJECT_DESCRIPTION_MAX_LEN,
            ));
        }
        FieldError::reject_nul("description", trimmed)?;
        Ok(Some(ProjectDescription(trimmed.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

macro_rules! text_impls {
    ($name:ident) => {
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
    };
}

text_impls!(ProjectName);
text_impls!(ProjectDescription);

impl<'de> Deserialize<'de> for ProjectName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        ProjectName::parse(&s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// Only a non-empty description can be a value of this type; deserialize into
/// `Option<ProjectDescription>` via [`ProjectDescription::parse`] to get the "empty → null" rule.
impl<'de> Deserialize<'de> for ProjectDescription {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        match ProjectDescription::parse(&s) {
            Ok(Some(d)) => Ok(d),
            Ok(None) => Err(serde::de::Error::custom("description is empty")),
            Err(e) => Err(serde::de::Error::custom(e.message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        assert_eq!(ProjectName::parse(" Apollo ").unwrap().as_str(), "Apollo");
        let empty = ProjectName::parse(" \n ").unwrap_err();
        assert_eq!(
            (empty.code, empty.message.as_str()),
            (ErrorCode::TooShort, PROJECT_NAME_EMPTY_MESSAGE)
        );
        assert_eq!(
            ProjectName::parse("").unwrap_err().message,
            PROJECT_NAME_EMPTY_MESSAGE
        );
        assert!(ProjectName::parse(&"x".repeat(200)).is_ok());
        let long = ProjectName::parse(&"x".repeat(201)).unwrap_err();
        assert_eq!(
            (long.code, long.message.as_str()),
            (ErrorCode::TooLong, "Must be at most 200 characters")
        );
    }

    /// PostgreSQL cannot store U+0000: refused here rather than failing the insert (a 500).
    #[test]
    fn nul_characters_are_refused() {
        let e = ProjectName::parse("a\0b").unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code, e.message.as_str()),
            (
                "name",
                ErrorCode::InvalidFormat,
                "Must not contain NUL characters"
            )
        );
        let e = ProjectDescription::parse("line\0").unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code),
            ("description", ErrorCode::InvalidFormat)
        );
        assert!(ProjectDescription::parse("two\nlines\t").is_ok());
    }

    #[test]
    fn description_rules() {
        assert_eq!(ProjectDescription::parse("   ").unwrap(), None);
        assert_eq!(
            ProjectDescription::parse(" hi ").unwrap().unwrap().as_str(),
            "hi"
        );
        assert!(
            ProjectDescription::parse(&format!(" {} ", "x".repeat(1000)))
                .unwrap()
                .is_some()
        );
        let long = ProjectDescription::parse(&"x".repeat(1001)).unwrap_err();
        assert_eq!(
            (long.field.as_str(), long.code, long.message.as_str()),
            (
                "description",
                ErrorCode::TooLong,
                "Must be at most 1000 characters"
            )
        );
    }

    #[test]
    fn serde() {
        let name: ProjectName = serde_json::from_str("\" Apollo \"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"Apollo\"");
        assert!(serde_json::from_str::<ProjectName>("\"  \"").is_err());
        assert!(serde_json::from_str::<ProjectDescription>("\"  \"").is_err());
    }
}
