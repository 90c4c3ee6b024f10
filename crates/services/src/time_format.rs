//! RFC 3339 in UTC with a `Z` and exactly six fractional digits (api.md §0.1), so string order is time order.

use serde::Serializer;
use time::OffsetDateTime;
use time::macros::format_description;

pub fn format(t: &OffsetDateTime) -> String {
    let utc = t.to_offset(time::UtcOffset::UTC);
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    utc.format(&fmt).unwrap_or_else(|_| utc.to_string())
}

pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(t))
}

pub mod option {
    use serde::Serializer;
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::format(t)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn six_digits_and_z() {
        let t = time::macros::datetime!(2025-03-01 09:30:00.123 +02:00);
        assert_eq!(super::format(&t), "2025-03-01T07:30:00.123000Z");
    }
}
