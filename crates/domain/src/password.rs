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
/// zxcvbn judges at most this many leading characters. Its cost grows with the square of the length times the
/// number of l33t substitution tables the password's characters allow (up to several hundred): a 128-character
/// password mixing every l33t character took up to 0.8 s of CPU in a release build, on the request path and before
/// the per-endpoint rate limit of `/auth/register`. 64 characters bound that about five times lower while every
/// realistic password or passphrase is still judged whole; a longer one is judged by its first 64 characters, and
/// a password whose first 64 characters are guessable is not made strong by what follows.
pub const PASSWORD_STRENGTH_PREFIX_CHARS: usize = 64;

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
        let judged = match s.char_indices().nth(PASSWORD_STRENGTH_PREFIX_CHARS) {
            Some((end, _)) => &s[..end],
            None => s,
        };
        let entropy = zxcvbn::zxcvbn(judged, &inputs);
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

    /// Regression (found by the `auth_bodies` fuzz target, whose throughput fell to ~100 inputs/s): zxcvbn's l33t
    /// matcher made 128-character passwords that mix every l33t character cost up to 0.8 s of CPU each. Only the
    /// first 64 characters are judged now.
    #[test]
    fn zxcvbn_judges_only_the_first_64_characters_of_long_l33t_passwords() {
        let prefix = "f(55(4w$6[q!2+<({gz17xk<c!2!3haw@|29|47uTr0ub4dor&3-horse-b4tt3r";
        assert_eq!(prefix.chars().count(), PASSWORD_STRENGTH_PREFIX_CHARS);
        let long = format!("{prefix}{}", "y".repeat(128 - 64));
        // The same judgement as the prefix alone (both strong), at the cost of the prefix alone.
        assert!(NewPassword::parse(&long, &[]).is_ok());
        assert!(NewPassword::parse(prefix, &[]).is_ok());
        // Counted in characters: a multi-byte prefix is cut on a character boundary.
        let weak_prefix = "é".repeat(64);
        let e = NewPassword::parse(&format!("{weak_prefix}Xk9#mQ2$vL8@pR4!"), &[]).unwrap_err();
        assert_eq!(e.code, ErrorCode::WeakPassword);
    }

    #[test]
    fn a_guessable_start_is_not_made_strong_by_a_long_tail() {
        let strong_tail = "correct horse battery staple 42!";
        assert!(NewPassword::parse(strong_tail, &[]).is_ok());
        let long = format!("{}{strong_tail}", "a".repeat(64));
        assert_eq!(
            NewPassword::parse(&long, &[]).unwrap_err().code,
            ErrorCode::WeakPassword
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
