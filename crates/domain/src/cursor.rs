//! Opaque keyset pagination cursor (api.md §0.5).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

use crate::validation::{ErrorCode, FieldError};

pub const CURSOR_INVALID_MESSAGE: &str = "Invalid cursor";

/// Bumped if the layout changes, so old cursors fail cleanly instead of decoding to a wrong keyset.
const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 1 + 8 + 16;
const CHECKSUM_LEN: usize = 8;
const ENCODED_BYTES: usize = PAYLOAD_LEN + CHECKSUM_LEN;

/// Position after the last item of a page, in `(created_at DESC, id DESC)` order.
///
/// Any `(created_at, id)` pair is a valid keyset, so the fields are public. Only microseconds survive
/// encoding because that is PostgreSQL's `timestamptz` precision: a value read from the database round-trips
/// exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub created_at: OffsetDateTime,
    pub id: Uuid,
}

impl Cursor {
    /// Normalizes to UTC and microsecond precision, so `Cursor::decode(&c.encode()) == Ok(c)`.
    pub fn new(created_at: OffsetDateTime, id: Uuid) -> Cursor {
        let micros = unix_micros(created_at);
        let created_at = from_unix_micros(micros).unwrap_or(created_at.to_offset(UtcOffset::UTC));
        Cursor { created_at, id }
    }

    /// URL-safe base64 (no padding) of version, microseconds since the epoch, id and a checksum.
    ///
    /// The checksum is not a secret MAC: a cursor only positions a page inside a query that is already scoped to
    /// the caller's tenant, so it only needs to turn edited or truncated cursors into `Invalid cursor`.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(ENCODED_BYTES);
        bytes.push(VERSION);
        bytes.extend_from_slice(&unix_micros(self.created_at).to_be_bytes());
        bytes.extend_from_slice(self.id.as_bytes());
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Errors name field `cursor`, code `invalid_cursor`.
    pub fn decode(s: &str) -> Result<Cursor, FieldError> {
        Self::try_decode(s).ok_or_else(invalid_cursor)
    }

    fn try_decode(s: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(s).ok()?;
        if bytes.len() != ENCODED_BYTES {
            return None;
        }
        let (payload, sum) = bytes.split_at(PAYLOAD_LEN);
        if checksum(payload) != sum || payload[0] != VERSION {
            return None;
        }
        let micros = i64::from_be_bytes(payload[1..9].try_into().ok()?);
        let id = Uuid::from_slice(&payload[9..PAYLOAD_LEN]).ok()?;
        let created_at = from_unix_micros(micros)?;
        Some(Cursor { created_at, id })
    }
}

fn invalid_cursor() -> FieldError {
    FieldError::new("cursor", ErrorCode::InvalidCursor, CURSOR_INVALID_MESSAGE)
}

fn checksum(payload: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::digest(payload);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
}

/// Floors, so every instant inside a microsecond maps to the same keyset as PostgreSQL's stored value would.
fn unix_micros(t: OffsetDateTime) -> i64 {
    let micros = t.unix_timestamp_nanos().div_euclid(1_000);
    // `OffsetDateTime` spans about ±10^4 years, i.e. ±3.2·10^17 µs, well inside i64.
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

fn from_unix_micros(micros: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;

    fn sample() -> Cursor {
        Cursor::new(
            datetime!(2025-03-04 05:06:07.123456 UTC),
            Uuid::from_u128(0x0190_b2a4_7c3e_7d1a_9f00_1234_5678_9abc),
        )
    }

    #[test]
    fn round_trip() {
        let c = sample();
        let s = c.encode();
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(Cursor::decode(&s), Ok(c));
    }

    #[test]
    fn truncates_to_microseconds_and_utc() {
        let c = Cursor::new(datetime!(2025-03-04 07:06:07.123456789 +02:00), Uuid::nil());
        assert_eq!(c.created_at, datetime!(2025-03-04 05:06:07.123456 UTC));
        assert_eq!(c.created_at.offset(), UtcOffset::UTC);
        // Pre-epoch instants floor too, matching PostgreSQL.
        let old = Cursor::new(datetime!(1969-12-31 23:59:59.9999999 UTC), Uuid::nil());
        assert_eq!(old.created_at, datetime!(1969-12-31 23:59:59.999999 UTC));
        assert_eq!(Cursor::decode(&old.encode()), Ok(old));
    }

    #[test]
    fn tampering_is_rejected() {
        let s = sample().encode();
        let mut bytes = s.into_bytes();
        bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        let e = Cursor::decode(&tampered).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code, e.message.as_str()),
            ("cursor", ErrorCode::InvalidCursor, "Invalid cursor")
        );
        for bad in ["", "abc", "====", "not a cursor", &sample().encode()[1..]] {
            assert!(Cursor::decode(bad).is_err(), "{bad:?}");
        }
    }

    fn arb_cursor() -> impl Strategy<Value = Cursor> {
        // Years 0001..9999 in microseconds.
        (
            -62_135_596_800_000_000i64..253_402_300_799_999_999i64,
            any::<u128>(),
        )
            .prop_map(|(micros, id)| Cursor {
                created_at: from_unix_micros(micros).unwrap(),
                id: Uuid::from_u128(id),
            })
    }

    proptest! {
        #[test]
        fn round_trips(c in arb_cursor()) {
            prop_assert_eq!(Cursor::new(c.created_at, c.id), c);
            prop_assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        }

        #[test]
        fn arbitrary_strings_do_not_decode(s in "\\PC{0,60}") {
            prop_assert!(Cursor::decode(&s).is_err());
        }

        #[test]
        fn arbitrary_url_safe_strings_of_the_right_length_do_not_decode(s in "[A-Za-z0-9_-]{44}") {
            // A 64-bit checksum makes an accidental match astronomically unlikely.
            prop_assert!(Cursor::decode(&s).is_err());
        }

        /// Any instant `OffsetDateTime` can hold, at any offset and nanosecond: the cursor is its UTC
        /// microsecond floor and survives encoding.
        #[test]
        fn round_trips_arbitrary_instants_and_offsets(
            nanos in -377_705_116_800_000_000_000i128..253_402_300_799_999_999_999i128,
            offset_secs in -86_399i32..86_400,
            id in any::<u128>(),
        ) {
            let utc = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap();
            let Ok(offset) = UtcOffset::from_whole_seconds(offset_secs) else {
                return Ok(());
            };
            let c = Cursor::new(utc.to_offset(offset), Uuid::from_u128(id));
            prop_assert_eq!(c, Cursor::new(utc, Uuid::from_u128(id)));
            prop_assert_eq!(c.created_at.offset(), UtcOffset::UTC);
            prop_assert!(c.created_at <= utc && utc - c.created_at < time::Duration::microseconds(1));
            prop_assert_eq!(Cursor::new(c.created_at, c.id), c);
            let s = c.encode();
            prop_assert_eq!(s.len(), 44);
            prop_assert_eq!(Cursor::decode(&s), Ok(c));
        }

        /// Keyset order is kept: encoding loses nothing a `(created_at DESC, id DESC)` comparison needs.
        #[test]
        fn distinct_positions_encode_differently(a in arb_cursor(), b in arb_cursor()) {
            prop_assert_eq!(a.encode() == b.encode(), a == b);
        }

        /// Payloads that carry a correct checksum but a wrong version or a time outside `OffsetDateTime`'s range
        /// are refused (never a panic); a correct checksum, version 1 and a representable time always decode.
        #[test]
        fn only_version_1_payloads_in_range_decode(version in any::<u8>(), micros in any::<i64>(), id in any::<[u8; 16]>()) {
            let mut bytes = vec![version];
            bytes.extend_from_slice(&micros.to_be_bytes());
            bytes.extend_from_slice(&id);
            let sum = checksum(&bytes);
            bytes.extend_from_slice(&sum);
            let decoded = Cursor::decode(&URL_SAFE_NO_PAD.encode(&bytes));
            let in_range = from_unix_micros(micros).is_some();
            prop_assert_eq!(decoded.is_ok(), version == VERSION && in_range);
            if let Ok(c) = decoded {
                prop_assert_eq!(c.id, Uuid::from_bytes(id));
                prop_assert_eq!(unix_micros(c.created_at), micros);
            }
        }

        /// Truncated, extended, padded or re-encoded (standard alphabet) cursors are refused.
        #[test]
        fn tampered_framing_is_rejected(c in arb_cursor(), cut in 1usize..44, extra in "[A-Za-z0-9_=+/-]{1,4}") {
            let s = c.encode();
            prop_assert!(Cursor::decode(&s[..44 - cut]).is_err());
            prop_assert!(Cursor::decode(&s[cut..]).is_err());
            let extended = format!("{s}{extra}");
            prop_assert!(Cursor::decode(&extended).is_err());
            let spaced = format!("{s} ");
            prop_assert!(Cursor::decode(&spaced).is_err());
            let standard = base64::engine::general_purpose::STANDARD.encode(URL_SAFE_NO_PAD.decode(&s).unwrap());
            if standard != s {
                prop_assert!(Cursor::decode(&standard).is_err());
            }
        }

        #[test]
        fn single_character_edits_are_rejected(c in arb_cursor(), pos in 0usize..44, ch in "[A-Za-z0-9_-]") {
            let s = c.encode();
            let mut edited: Vec<char> = s.chars().collect();
            let ch = ch.chars().next().unwrap();
            prop_assume!(edited[pos] != ch);
            edited[pos] = ch;
            let edited: String = edited.into_iter().collect();
            prop_assert!(Cursor::decode(&edited).is_err());
        }
    }
}
