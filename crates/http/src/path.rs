//! Path parameters as text, decoded leniently.
//!
//! axum's `Path` answers a parameter whose percent-decoding is not UTF-8 (`/api/v1/tenants/%FF`) with its own
//! 400, which the contract has no room for: a malformed slug or invite token is a 404 there, a malformed id a
//! 422 (api.md §0.2, §5.3, §5.5). Here such bytes become U+FFFD, so the value is simply malformed and the
//! handler's own validation gives the contract's answer.

use axum::extract::{FromRequestParts, MatchedPath, OriginalUri};
use axum::http::request::Parts;

use crate::error::ApiError;

/// The route's path parameters, in template order: `Path<String>` for one, `Path<(String, String)>` for two.
pub struct Path<T>(pub T);

/// Every `{name}` segment of the matched route template, percent-decoded, invalid UTF-8 replaced.
fn texts(parts: &Parts) -> Result<Vec<String>, ApiError> {
    let template = parts
        .extensions
        .get::<MatchedPath>()
        .ok_or_else(|| ApiError::internal("path parameters outside a matched route"))?
        .as_str();
    // Nested routers see the URI without their prefix; the template has it.
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |o| &o.0);
    let segments: Vec<&str> = uri.path().split('/').collect();
    let names: Vec<&str> = template.split('/').collect();
    if segments.len() != names.len() {
        return Err(ApiError::internal(format!(
            "path {} does not fit route {template}",
            uri.path()
        )));
    }
    Ok(names
        .iter()
        .zip(segments)
        .filter(|(name, _)| name.starts_with('{') && name.ends_with('}'))
        .map(|(_, raw)| percent_decode_lossy(raw))
        .collect())
}

/// `%XX` escapes decoded to bytes (a `%` without two hex digits stays as it is), then read as UTF-8 with
/// U+FFFD for invalid sequences.
pub fn percent_decode_lossy(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl<S: Send + Sync> FromRequestParts<S> for Path<String> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match <[String; 1]>::try_from(texts(parts)?) {
            Ok([one]) => Ok(Self(one)),
            Err(v) => Err(ApiError::internal(format!(
                "expected 1 path parameter, found {}",
                v.len()
            ))),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Path<(String, String)> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match <[String; 2]>::try_from(texts(parts)?) {
            Ok([a, b]) => Ok(Self((a, b))),
            Err(v) => Err(ApiError::internal(format!(
                "expected 2 path parameters, found {}",
                v.len()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::percent_decode_lossy;

    #[test]
    fn decodes_escapes_and_replaces_invalid_utf8() {
        assert_eq!(percent_decode_lossy("acme-co"), "acme-co");
        assert_eq!(percent_decode_lossy("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode_lossy("%C3%A9t%c3%a9"), "été");
        assert_eq!(percent_decode_lossy("%FF%FE"), "\u{FFFD}\u{FFFD}");
        assert_eq!(percent_decode_lossy("%"), "%");
        assert_eq!(percent_decode_lossy("100%zz%4"), "100%zz%4");
        assert_eq!(percent_decode_lossy("%00"), "\u{0}");
    }
}
