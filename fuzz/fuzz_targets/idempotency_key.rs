//! `IdempotencyKey::parse_bytes` (the raw `Idempotency-Key` header of `POST /auth/register` and the other
//! idempotent endpoints).
//!
//! Invariants beyond "no panic": a key is accepted exactly when it is 1..255 visible ASCII bytes (0x21..=0x7E),
//! keeps its bytes verbatim, and the `&str` and the byte parsers agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenantry_domain::IdempotencyKey;

fuzz_target!(|data: &[u8]| {
    let expected =
        (1..=255).contains(&data.len()) && data.iter().all(|b| (0x21..=0x7e).contains(b));
    let parsed = IdempotencyKey::parse_bytes(data);
    assert_eq!(parsed.is_ok(), expected, "{data:?}");
    if let Ok(s) = std::str::from_utf8(data) {
        assert_eq!(IdempotencyKey::parse(s), parsed);
    }
    if let Ok(key) = parsed {
        assert_eq!(key.as_str().as_bytes(), data);
    }
});
