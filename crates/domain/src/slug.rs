//! Tenant slug (api.md §4): the public handle of a tenant and the source of its schema name.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validation::{ErrorCode, FieldError};

pub const SLUG_MAX_LEN: usize = 56;

pub const SLUG_FORMAT_MESSAGE: &str = "Slug must start with a lowercase letter and contain only lowercase letters, digits and single '-' or '_' separators";
pub const SLUG_TOO_LONG_MESSAGE: &str = "Slug must be at most 56 characters";
pub const SLUG_RESERVED_MESSAGE: &str =
    "Slug is reserved: it must not contain 'pg_', 'public' or 'information_schema'";

/// Substrings that must not appear in a schema name: they would shadow or alias PostgreSQL's own schemas.
pub(crate) const RESERVED_SUBSTRINGS: [&str; 3] = ["pg_", "public", "information_schema"];

const DEFAULT_FIELD: &str = "slug";

/// A syntactically valid, non-reserved tenant slug.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug(String);

impl Slug {
    /// Validates `s` as-is (no trimming: a slug with surrounding spaces is a different, invalid slug).
    /// Errors name field `slug`; rename with [`FieldError::for_field`].
    pub fn parse(s: &str) -> Result<Slug, FieldError> {
        if s.chars().count() > SLUG_MAX_LEN {
            return Err(FieldError::new(
                DEFAULT_FIELD,
                ErrorCode::TooLong,
                SLUG_TOO_LONG_MESSAGE,
            ));
        }
        if !is_slug_format(s) {
            return Err(FieldError::new(
                DEFAULT_FIELD,
                ErrorCode::InvalidFormat,
                SLUG_FORMAT_MESSAGE,
            ));
        }
        let underscored = s.replace('-', "_");
        if contains_reserved(&underscored) {
            return Err(FieldError::new(
                DEFAULT_FIELD,
                ErrorCode::Reserved,
                SLUG_RESERVED_MESSAGE,
            ));
        }
        Ok(Slug(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// `^[a-z][a-z0-9]*([-_][a-z0-9]+)*$`
fn is_slug_format(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some((&first, rest)) = bytes.split_first() else {
        return false;
    };
    if !first.is_ascii_lowercase() {
        return false;
    }
    let mut prev_sep = false;
    for &b in rest {
        match b {
            b'a'..=b'z' | b'0'..=b'9' => prev_sep = false,
            b'-' | b'_' if !prev_sep => prev_sep = true,
            _ => return false,
        }
    }
    !prev_sep
}

pub(crate) fn contains_reserved(s: &str) -> bool {
    RESERVED_SUBSTRINGS.iter().any(|r| s.contains(r))
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Slug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Slug {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Slug::parse(s)
    }
}

impl Serialize for Slug {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Slug::parse(&s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::SchemaName;

    fn code(s: &str) -> ErrorCode {
        Slug::parse(s).unwrap_err().code
    }

    #[test]
    fn accepts_contract_examples() {
        for s in ["a", "acme", "acme-corp", "acme_corp", "a1-b2_c3", "x9"] {
            assert_eq!(Slug::parse(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn rejects_bad_format() {
        for s in [
            "", "1abc", "-a", "a-", "a--b", "a-_b", "Acme", "ac me", " acme", "acme!", "é", "a__b",
        ] {
            let e = Slug::parse(s).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidFormat, "{s:?}");
            assert_eq!(e.message, SLUG_FORMAT_MESSAGE);
            assert_eq!(e.field, "slug");
        }
    }

    #[test]
    fn length_limit_is_56() {
        assert!(Slug::parse(&"a".repeat(56)).is_ok());
        let e = Slug::parse(&"a".repeat(57)).unwrap_err();
        assert_eq!(e.code, ErrorCode::TooLong);
        assert_eq!(e.message, "Slug must be at most 56 characters");
    }

    #[test]
    fn reserved_after_dash_to_underscore() {
        for s in [
            "pg_x",
            "xpg-y",
            "public",
            "my-public-co",
            "information-schema",
            "information_schema2",
        ] {
            let e = Slug::parse(s).unwrap_err();
            assert_eq!(e.code, ErrorCode::Reserved, "{s:?}");
            assert_eq!(e.message, SLUG_RESERVED_MESSAGE);
        }
        assert_eq!(code("pg-x"), ErrorCode::Reserved);
        assert!(Slug::parse("pgx").is_ok());
        assert!(Slug::parse("publi-c").is_ok());
    }

    #[test]
    fn for_field_renames() {
        let e = Slug::parse("A").unwrap_err().for_field("tenant_slug");
        assert_eq!(e.field, "tenant_slug");
        assert_eq!(e.to_string(), format!("tenant_slug: {SLUG_FORMAT_MESSAGE}"));
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let slug = Slug::parse("acme-corp").unwrap();
        let json = serde_json::to_string(&slug).unwrap();
        assert_eq!(json, "\"acme-corp\"");
        assert_eq!(serde_json::from_str::<Slug>(&json).unwrap(), slug);
        assert!(serde_json::from_str::<Slug>("\"Acme\"").is_err());
    }

    proptest! {
        #[test]
        fn generated_slugs_parse_unless_reserved(s in "[a-z][a-z0-9]{0,10}([-_][a-z0-9]{1,8}){0,4}") {
            let reserved = contains_reserved(&s.replace('-', "_"));
            match Slug::parse(&s) {
                Ok(slug) => {
                    prop_assert!(!reserved);
                    let schema = SchemaName::from_slug(&slug);
                    prop_assert_eq!(SchemaName::parse(schema.as_str()), Ok(schema));
                }
                Err(e) => {
                    prop_assert!(reserved);
                    prop_assert_eq!(e.code, ErrorCode::Reserved);
                }
            }
        }

        #[test]
        fn accepted_strings_satisfy_the_rule(s in "\\PC{0,60}") {
            if let Ok(slug) = Slug::parse(&s) {
                prop_assert!(slug.as_str().len() <= SLUG_MAX_LEN);
                prop_assert!(slug.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'));
                prop_assert!(!slug.as_str().contains("--") && !slug.as_str().contains("__"));
                prop_assert!(SchemaName::parse(SchemaName::from_slug(&slug).as_str()).is_ok());
            }
        }

        #[test]
        fn longest_slugs_map_to_valid_schema(s in "[a-z][a-z0-9]{55}") {
            if let Ok(slug) = Slug::parse(&s) {
                let schema = SchemaName::from_slug(&slug);
                prop_assert_eq!(schema.as_str().len(), 63);
                prop_assert!(SchemaName::parse(schema.as_str()).is_ok());
            }
        }
    }
}
