//! PostgreSQL schema name of a tenant (data-model.md §3.1): the only identifier ever interpolated into SQL.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::slug::{Slug, contains_reserved};

pub const SCHEMA_PREFIX: &str = "tenant_";

/// PostgreSQL truncates identifiers longer than this, which could silently alias two tenants.
pub const SCHEMA_NAME_MAX_BYTES: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tenant schema name: {reason}")]
pub struct InvalidSchemaName {
    pub reason: &'static str,
}

/// A schema name that is safe to double-quote into DDL and `search_path`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaName(String);

impl SchemaName {
    pub fn parse(s: &str) -> Result<SchemaName, InvalidSchemaName> {
        if s.len() > SCHEMA_NAME_MAX_BYTES {
            return Err(InvalidSchemaName {
                reason: "longer than 63 bytes",
            });
        }
        let Some(rest) = s.strip_prefix(SCHEMA_PREFIX) else {
            return Err(InvalidSchemaName {
                reason: "missing tenant_ prefix",
            });
        };
        if !is_schema_suffix(rest) {
            return Err(InvalidSchemaName {
                reason: "bad format",
            });
        }
        if contains_reserved(s) {
            return Err(InvalidSchemaName {
                reason: "reserved substring",
            });
        }
        Ok(SchemaName(s.to_owned()))
    }

    /// Infallible because slug validation already enforces the schema rules on the slug with `-` → `_`
    /// (≤ 56 chars + 7-byte prefix ≤ 63; the prefix cannot complete a reserved substring).
    pub fn from_slug(slug: &Slug) -> SchemaName {
        SchemaName(format!(
            "{SCHEMA_PREFIX}{}",
            slug.as_str().replace('-', "_")
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Double-quoted identifier; no escaping is needed because the character set excludes `"`.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

/// `[a-z][a-z0-9]*(_[a-z0-9]+)*`
fn is_schema_suffix(s: &str) -> bool {
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
            b'_' if !prev_sep => prev_sep = true,
            _ => return false,
        }
    }
    !prev_sep
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SchemaName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&Slug> for SchemaName {
    fn from(slug: &Slug) -> Self {
        SchemaName::from_slug(slug)
    }
}

impl std::str::FromStr for SchemaName {
    type Err = InvalidSchemaName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SchemaName::parse(s)
    }
}

impl Serialize for SchemaName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SchemaName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        SchemaName::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn from_slug_replaces_dashes() {
        let slug = Slug::parse("acme-corp_eu").unwrap();
        let schema = SchemaName::from_slug(&slug);
        assert_eq!(schema.as_str(), "tenant_acme_corp_eu");
        assert_eq!(schema.to_string(), "tenant_acme_corp_eu");
        assert_eq!(schema.quoted(), "\"tenant_acme_corp_eu\"");
    }

    #[test]
    fn colliding_slugs_share_a_schema() {
        let a = SchemaName::from_slug(&Slug::parse("acme-corp").unwrap());
        let b = SchemaName::from_slug(&Slug::parse("acme_corp").unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn parse_rejects() {
        for s in [
            "",
            "tenant_",
            "acme",
            "public",
            "tenant_Acme",
            "tenant_1a",
            "tenant_a-b",
            "tenant_a__b",
            "tenant_a_",
            "tenant_pg_x",
            "tenant_xpublic",
            "tenant_information_schema",
            "tenant_a\"; drop schema public; --",
            "\"tenant_a\"",
        ] {
            assert!(SchemaName::parse(s).is_err(), "{s:?}");
        }
        assert!(SchemaName::parse(&format!("tenant_{}", "a".repeat(56))).is_ok());
        assert!(SchemaName::parse(&format!("tenant_{}", "a".repeat(57))).is_err());
    }

    #[test]
    fn serde_validates() {
        let s: SchemaName = serde_json::from_str("\"tenant_acme\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"tenant_acme\"");
        assert!(serde_json::from_str::<SchemaName>("\"public\"").is_err());
    }

    /// Slugs of the rule's shape, including reserved words and both separators, so collisions under `-` → `_`
    /// and reserved rejections are both frequent.
    fn slug_like() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            "[a-z][a-z0-9]{0,6}",
            Just("pg".to_owned()),
            Just("public".to_owned()),
            Just("information".to_owned()),
            Just("schema".to_owned()),
            Just("acme".to_owned()),
        ];
        (
            word.clone(),
            proptest::collection::vec(("[-_]", word), 0..5),
        )
            .prop_map(|(first, rest)| {
                let mut s = first;
                for (sep, w) in rest {
                    s.push_str(&sep);
                    s.push_str(&w);
                }
                s
            })
    }

    /// A double-quoted PostgreSQL identifier that needs no escaping: no `"` and no NUL inside, at most 63 bytes
    /// (longer ones are truncated, which could alias two tenants).
    fn is_plain_quoted_identifier(quoted: &str) -> bool {
        let Some(inner) = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')) else {
            return false;
        };
        !inner.is_empty()
            && inner.len() <= SCHEMA_NAME_MAX_BYTES
            && !inner.contains('"')
            && !inner.contains('\0')
            && inner.is_ascii()
    }

    proptest! {
        #[test]
        fn parsed_names_are_safe_to_quote(s in "\\PC{0,70}") {
            if let Ok(name) = SchemaName::parse(&s) {
                prop_assert!(name.as_str().len() <= SCHEMA_NAME_MAX_BYTES);
                prop_assert!(name.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
                prop_assert!(!contains_reserved(name.as_str()));
                prop_assert!(is_plain_quoted_identifier(&name.quoted()));
            }
        }

        /// The mapping folds exactly `-` into `_` and nothing else: two slugs share a schema if and only if they
        /// are equal once `-` reads as `_` (the registration 409 for `acme-corp` vs `acme_corp` relies on it).
        #[test]
        fn slug_to_schema_is_injective_up_to_dash_underscore(a in slug_like(), b in slug_like()) {
            let (Ok(sa), Ok(sb)) = (Slug::parse(&a), Slug::parse(&b)) else {
                return Ok(());
            };
            let same_schema = SchemaName::from_slug(&sa) == SchemaName::from_slug(&sb);
            prop_assert_eq!(same_schema, a.replace('-', "_") == b.replace('-', "_"), "{} vs {}", a, b);
        }

        /// Every valid slug maps to a schema name that parses and is a plain quoted identifier; every valid
        /// schema name is the image of a slug (its own suffix), so parsing and mapping agree on what is allowed.
        #[test]
        fn slug_and_schema_rules_agree(s in slug_like()) {
            let slug = Slug::parse(&s);
            let as_schema = SchemaName::parse(&format!("{SCHEMA_PREFIX}{}", s.replace('-', "_")));
            prop_assert_eq!(slug.is_ok(), as_schema.is_ok() && s.chars().count() <= crate::slug::SLUG_MAX_LEN, "{}", s);
            if let Ok(slug) = slug {
                let schema = SchemaName::from_slug(&slug);
                prop_assert_eq!(SchemaName::parse(schema.as_str()), Ok(schema.clone()));
                prop_assert!(is_plain_quoted_identifier(&schema.quoted()));
                prop_assert_eq!(Some(schema), as_schema.ok());
            }
        }

        #[test]
        fn every_schema_name_has_a_slug(s in "tenant_[a-z][a-z0-9_]{0,60}") {
            if let Ok(name) = SchemaName::parse(&s) {
                let suffix = &name.as_str()[SCHEMA_PREFIX.len()..];
                let slug = Slug::parse(suffix);
                prop_assert!(slug.is_ok(), "{} has no slug", s);
                if let Ok(slug) = slug {
                    prop_assert_eq!(SchemaName::from_slug(&slug), name);
                }
            }
        }
    }
}
