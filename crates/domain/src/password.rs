//! Plaintext passwords on their way to Argon2 (api.md §4). Debug is redacted so they cannot reach a log line.

use std::fmt;

use crate::validation::{ErrorCode, FieldError};

pub const PASSWORD_MIN_LEN: usize = 8;
pub const PASSWORD_MAX_LEN: usize = 128;
pub const PASSWORD_LENGTH_MESSAGE: &str = "Password must be 8 to 128 characters";
pub const PASSWORD_WEAK_FALLBACK_MESSAGE: &str =
    "Password is too weak. Use a longer password with a mix of characters.";
/// zxcvbn score 3 means "needs more than 10^8 guesses" — safely unguessable online.
pub const PASSWORD_MIN_SCORE: u8 = 3;

const DEFAULT_FIELD: &str = "password";

fn check_length(s: &str) -> Result<(), FieldError> {
    let len = s.chars().count();
    let code = if len < PASSWORD_MIN_LEN {
        ErrorCode::TooShort
    } else if len > PASSWORD_MAX_LEN {
        ErrorCode::TooLong
    } else {
        return Ok(());
    };
    Err(FieldError::new(
        DEFAULT_FIELD,
        code,
        PASSWORD_LENGTH_MESSAGE,
    ))
}

/// A password presented for verification (login, current password): only the length is checked, so that accounts
/// created under older strength rules can still log in.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginPassword(String);

impl LoginPassword {
    /// Not trimmed: spaces are part of a password. Errors name field `password`.
    pub fn parse(s: &str) -> Result<LoginPassword, FieldError> {
        check_length(s)?;
        Ok(LoginPassword(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LoginPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginPassword([REDACTED])")
    }
}

/// A password about to be set: length plus zxcvbn strength.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    /// `user_inputs`: the email, its local part, full name, tenant name and slug when known, so passwords built
    /// from the account's own data score low. Errors name field `password`.
    pub fn parse(s: &str, user_inputs: &[&str]) -> Result<NewPassword, FieldError> {
        check_length(s)?;
        let inputs: Vec<&str> = user_inputs
            .iter()
            .copied()
            .filter(|i| !i.is_empty())
            .collect();
        let entropy = zxcvbn::zxcvbn(s, &inputs);
        if u8::from(entropy.score()) >= PASSWORD_MIN_SCORE {
            return Ok(NewPassword(s.to_owned()));
        }
        let message = match entropy.feedback() {
            Some(fb) => match (fb.warning(), fb.suggestions().first()) {
                (Some(w), _) => format!("Weak password: {w}"),
                (None, Some(s)) => format!("Weak password: {s}"),
                (None, None) => PASSWORD_WEAK_FALLBACK_MESSAGE.to_owned(),
            },
            None => PASSWORD_WEAK_FALLBACK_MESSAGE.to_owned(),
        };
        Err(FieldError::new(
            DEFAULT_FIELD,
            ErrorCode::WeakPassword,
            message,
        ))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_password_length_only() {
        assert_eq!(
            LoginPassword::parse("password").unwrap().expose(),
            "password"
        );
        assert!(LoginPassword::parse(&"a".repeat(128)).is_ok());
        let short = LoginPassword::parse("1234567").unwrap_err();
        assert_eq!(
            (short.field.as_str(), short.code, short.message.as_str()),
            ("password", ErrorCode::TooShort, PASSWORD_LENGTH_MESSAGE)
        );
        assert_eq!(
            LoginPassword::parse(&"a".repeat(129)).unwrap_err().code,
            ErrorCode::TooLong
        );
        // Counted in characters, not bytes.
        assert!(LoginPassword::parse("éééééééé").is_ok());
    }

    #[test]
    fn debug_is_redacted() {
        let p = LoginPassword::parse("hunter2hunter2").unwrap();
        let n = NewPassword::parse("correct horse battery staple 42!", &[]).unwrap();
        for dbg in [format!("{p:?}"), format!("{n:?}")] {
            assert!(dbg.contains("[REDACTED]"));
            assert!(!dbg.contains("hunter2") && !dbg.contains("horse"));
        }
    }

    #[test]
    fn new_password_strength() {
        assert!(NewPassword::parse("correct horse battery staple 42!", &[]).is_ok());
        let weak = NewPassword::parse("password", &[]).unwrap_err();
        assert_eq!(weak.code, ErrorCode::WeakPassword);
        assert_eq!(
            weak.message,
            "Weak password: This is a top-10 common password."
        );
        let short = NewPassword::parse("Xy7!", &[]).unwrap_err();
        assert_eq!(
            (short.code, short.message.as_str()),
            (ErrorCode::TooShort, PASSWORD_LENGTH_MESSAGE)
        );
    }

    #[test]
    fn user_inputs_weaken_passwords_built_from_them() {
        let pw = "zanzibarquokka";
        assert!(NewPassword::parse(pw, &[]).is_ok());
        let e = NewPassword::parse(pw, &["zanzibarquokka@example.com", "zanzibarquokka", ""])
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::WeakPassword);
        assert!(
            e.message.starts_with("Weak password: ") || e.message == PASSWORD_WEAK_FALLBACK_MESSAGE
        );
    }
}
