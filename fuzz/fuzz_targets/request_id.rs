//! `RequestId::parse_incoming` / `from_header_or_new` (the `X-Request-ID` header, echoed in responses, logs and
//! audit rows).
//!
//! Invariants beyond "no panic": an incoming value is reused exactly when it matches `^[A-Za-z0-9._:-]{1,64}$`,
//! verbatim; anything else is replaced by a fresh UUIDv7 that is itself a valid incoming id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenantry_domain::RequestId;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let expected = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(&b));
    let parsed = RequestId::parse_incoming(s);
    assert_eq!(parsed.is_some(), expected, "{s:?}");
    let id = RequestId::from_header_or_new(Some(s));
    if let Some(p) = parsed {
        assert_eq!(p.as_str(), s);
        assert_eq!(id, p);
    } else {
        let uuid = uuid::Uuid::parse_str(id.as_str()).expect("a generated id is a UUID");
        assert_eq!(uuid.get_version_num(), 7);
        assert_eq!(RequestId::parse_incoming(id.as_str()).as_ref(), Some(&id));
    }
});
