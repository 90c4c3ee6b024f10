//! One-time tokens submitted in bodies (verification, reset) and the hash under which every token is stored
//! (data-model.md §1).

use std::fmt;

use sha2::{Digest, Sha256};

use crate::validation::{ErrorCode, FieldError};

pub const TOKEN_MIN_LEN: usize = 32;
pub const TOKEN_MAX_LEN: usize = 128;
pub const TOKEN_INVALID_MESSAGE: &str = "Invalid token format";

/// Lower-case hex SHA-256 of the token's bytes: the only form in which tokens are stored or looked up.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A plaintext token; Debug is redacted because the token is a bearer credential until consumed.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeToken(String);

impl OneTimeToken {
    /// 32..128 characters; errors name field `token`.
    pub fn parse(s: &str) -> Result<OneTimeToken, FieldError> {
        let len = s.chars().count();
        if (TOKEN_MIN_LEN..=TOKEN_MAX_LEN).contains(&len) {
            Ok(OneTimeToken(s.to_owned()))
        } else {
            Err(FieldError::new(
                "token",
                ErrorCode::InvalidFormat,
                TOKEN_INVALID_MESSAGE,
            ))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        token_hash(&self.0)
    }
}

impl fmt::Debug for OneTimeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeToken([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_lower_hex_sha256() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = OneTimeToken::parse(&"t".repeat(43)).unwrap();
        assert_eq!(t.hash(), token_hash(t.expose()));
        assert_eq!(t.hash().len(), 64);
    }

    #[test]
    fn length_bounds_and_redaction() {
        assert!(OneTimeToken::parse(&"a".repeat(32)).is_ok());
        assert!(OneTimeToken::parse(&"a".repeat(128)).is_ok());
        for bad in ["a".repeat(31), "a".repeat(129), String::new()] {
            let e = OneTimeToken::parse(&bad).unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.code, e.message.as_str()),
                ("token", ErrorCode::InvalidFormat, "Invalid token format")
            );
        }
        let t = OneTimeToken::parse(&"secret".repeat(8)).unwrap();
        assert!(!format!("{t:?}").contains("secret"));
    }
}
