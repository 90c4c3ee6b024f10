//! Request correlation id (api.md §0.4).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

pub const REQUEST_ID_MAX_LEN: usize = 64;

/// `^[A-Za-z0-9._:-]{1,64}$`: safe to echo in headers, logs and audit rows without escaping.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// `None` when the incoming header value must be replaced by a generated id.
    pub fn parse_incoming(s: &str) -> Option<RequestId> {
        let valid = !s.is_empty()
            && s.len() <= REQUEST_ID_MAX_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        valid.then(|| RequestId(s.to_owned()))
    }

    /// The caller supplies the UUIDv7 so tests can pin it.
    pub fn generate_from(id: Uuid) -> RequestId {
        RequestId(id.hyphenated().to_string())
    }

    pub fn new_v7() -> RequestId {
        Self::generate_from(Uuid::now_v7())
    }

    /// Reuses a valid incoming value verbatim, else generates a fresh UUIDv7.
    pub fn from_header_or_new(incoming: Option<&str>) -> RequestId {
        incoming
            .and_then(Self::parse_incoming)
            .unwrap_or_else(Self::new_v7)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        RequestId::parse_incoming(&s).ok_or_else(|| serde::de::Error::custom("invalid request id"))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn incoming_values() {
        for ok in ["a", "abc-123", "A.b_c:d-e", &"x".repeat(64)] {
            assert_eq!(RequestId::parse_incoming(ok).unwrap().as_str(), ok);
        }
        for bad in ["", " a", "a b", "a/b", "é", &"x".repeat(65), "a\n"] {
            assert!(RequestId::parse_incoming(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_are_valid_incoming_ids() {
        let id = Uuid::now_v7();
        let rid = RequestId::generate_from(id);
        assert_eq!(rid.as_str(), id.hyphenated().to_string());
        assert_eq!(RequestId::parse_incoming(rid.as_str()), Some(rid));
        assert_eq!(
            RequestId::from_header_or_new(Some("keep-me")).as_str(),
            "keep-me"
        );
        let fresh = RequestId::from_header_or_new(Some("bad value"));
        assert_eq!(
            Uuid::parse_str(fresh.as_str()).unwrap().get_version_num(),
            7
        );
    }

    proptest! {
        #[test]
        fn matches_the_pattern(s in "\\PC{0,70}") {
            let expected = (1..=64).contains(&s.len())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c));
            prop_assert_eq!(RequestId::parse_incoming(&s).is_some(), expected);
        }
    }
}
