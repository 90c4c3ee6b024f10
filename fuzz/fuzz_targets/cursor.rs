//! `Cursor::decode` (the `cursor` query parameter of every list endpoint) and `Cursor::encode`.
//!
//! The input is read two ways. As a string to decode: a cursor that decodes re-encodes to the very same string
//! (the encoding is canonical, so no two strings name one position) and is already normalized (UTC,
//! microseconds). As raw material for a position: any `(microseconds, id)` inside `OffsetDateTime`'s range
//! encodes to a URL-safe string of 44 characters that decodes back to it, and changing any one character of
//! that string makes it invalid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenantry_domain::Cursor;
use tenantry_domain::ErrorCode;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        match Cursor::decode(s) {
            Ok(c) => {
                assert_eq!(c.encode(), s, "a decoded cursor re-encodes to its input");
                assert_eq!(Cursor::new(c.created_at, c.id), c);
                assert_eq!(c.created_at.offset(), UtcOffset::UTC);
            }
            Err(e) => {
                assert_eq!(
                    (e.field.as_str(), e.code),
                    ("cursor", ErrorCode::InvalidCursor)
                );
            }
        }
    }

    // Raw mode: 8 bytes of time (×17 ns: about ±5000 years around 1970), 16 of id, then an edit (position,
    // replacement character).
    let Some((nanos, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let Some((id, rest)) = rest.split_first_chunk::<16>() else {
        return;
    };
    let Ok(at) =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(i64::from_be_bytes(*nanos)) * 17)
    else {
        return;
    };
    let c = Cursor::new(at, Uuid::from_bytes(*id));
    assert!(c.created_at <= at && at - c.created_at < time::Duration::microseconds(1));
    assert_eq!(c.created_at.nanosecond() % 1_000, 0);
    let s = c.encode();
    assert_eq!(s.len(), 44);
    assert!(
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(Cursor::decode(&s), Ok(c));

    if let [pos, replacement, ..] = rest {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut edited = s.clone().into_bytes();
        let pos = usize::from(*pos) % edited.len();
        let ch = ALPHABET[usize::from(*replacement) % ALPHABET.len()];
        if edited[pos] != ch {
            edited[pos] = ch;
            let edited = String::from_utf8(edited).expect("ASCII");
            assert!(
                Cursor::decode(&edited).is_err(),
                "edited cursor {edited:?} of {s:?} decodes"
            );
        }
    }
});
