//! `Email::parse` (every `email` member of a request body).
//!
//! Invariants beyond "no panic": the normalized form is idempotent (it parses to itself), is trimmed and
//! lower-cased as the database's `CHECK (email = lower(btrim(email)))` demands, holds exactly one `@` between a
//! non-empty local part and a domain of non-empty dot-separated labels, has no whitespace or control characters,
//! is at most 254 characters, and survives a JSON round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenantry_domain::Email;
use tenantry_domain::email::EMAIL_MAX_LEN;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(email) = Email::parse(s) else {
        return;
    };
    let n = email.as_str();
    assert_eq!(
        Email::parse(n).as_ref(),
        Ok(&email),
        "not idempotent: {s:?} -> {n:?}"
    );
    assert_eq!(n, n.trim());
    assert_eq!(n, n.to_lowercase());
    assert!(n.chars().count() <= EMAIL_MAX_LEN);
    assert!(!n.chars().any(|c| c.is_whitespace() || c.is_control()));
    assert_eq!(n.matches('@').count(), 1);
    assert!(!email.local_part().is_empty());
    assert!(email.domain().contains('.'));
    assert!(email.domain().split('.').all(|label| !label.is_empty()));
    assert_eq!(format!("{}@{}", email.local_part(), email.domain()), n);
    let json = serde_json::to_string(&email).expect("an email serializes");
    assert_eq!(
        serde_json::from_str::<Email>(&json).ok().as_ref(),
        Some(&email)
    );
});
