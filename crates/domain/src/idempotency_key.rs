//! `Idempotency-Key` header value (api.md §0.6).

use std::fmt;

use serde::{Serialize, Serializer};

use crate::validation::{ErrorCode, FieldError};

pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 255;
pub const IDEMPOTENCY_KEY_FIELD: &str = "Idempotency-Key";
pub const IDEMPOTENCY_KEY_MESSAGE: &str = "Must be 1 to 255 visible ASCII characters";

/// 1..255 visible ASCII characters (0x21..=0x7E).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Errors name field `Idempotency-Key`.
    pub fn parse(s: &str) -> Result<IdempotencyKey, FieldError> {
        let valid = !s.is_empty()
            && s.len() <= IDEMPOTENCY_KEY_MAX_LEN
            && s.bytes().all(|b| (0x21..=0x7E).contains(&b));
        if valid {
            Ok(IdempotencyKey(s.to_owned()))
        } else {
            Err(invalid_format())
        }
    }

    /// Raw header bytes, for callers that have not decoded the header as UTF-8.
    pub fn parse_bytes(bytes: &[u8]) -> Result<IdempotencyKey, FieldError> {
        match std::str::from_utf8(bytes) {
            Ok(s) => Self::parse(s),
            Err(_) => Err(invalid_format()),
        }
    }

    /// `Idempotency-Key` was already used with a different request body (code `invalid`).
    pub fn reused_error() -> FieldError {
        FieldError::new(
            IDEMPOTENCY_KEY_FIELD,
            ErrorCode::Invalid,
            "Idempotency-Key was already used with a different request body",
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for IdempotencyKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for IdempotencyKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

fn invalid_format() -> FieldError {
    FieldError::new(
        IDEMPOTENCY_KEY_FIELD,
        ErrorCode::InvalidFormat,
        IDEMPOTENCY_KEY_MESSAGE,
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn bounds() {
        assert!(IdempotencyKey::parse("!").is_ok());
        assert!(IdempotencyKey::parse("~").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for bad in ["", " ", "a b", "é", "\u{7f}", &"k".repeat(256)] {
            let e = IdempotencyKey::parse(bad).unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.code, e.message.as_str()),
                (
                    "Idempotency-Key",
                    ErrorCode::InvalidFormat,
                    IDEMPOTENCY_KEY_MESSAGE
                )
            );
        }
        assert!(IdempotencyKey::parse_bytes(&[0xff]).is_err());
        assert_eq!(IdempotencyKey::reused_error().code, ErrorCode::Invalid);
    }

    proptest! {
        #[test]
        fn visible_ascii_keys_parse(s in "[\\x21-\\x7e]{1,255}") {
            let key = IdempotencyKey::parse(&s).unwrap();
            prop_assert_eq!(key.as_str(), s.as_str());
        }
    }
}
