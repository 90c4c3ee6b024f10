//! The JSON body extractor and a field reader that reports every problem of a body at once, with the
//! codes and messages of api.md §0.2 (serde's derive stops at the first error, so bodies are read by hand).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde_json::{Map, Value};
use tenantry_domain::{FieldError, ValidationErrors};
use uuid::Uuid;

use crate::error::ApiError;

/// A request body that is a JSON object. Media type, size and syntax are checked here; members are read
/// with [`Fields`].
#[derive(Debug)]
pub struct JsonBody(pub Map<String, Value>);

fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::status(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
            } else {
                ApiError::bad_request("Request body could not be read")
            }
        })?;
        Self::from_bytes(content_type.as_deref(), &bytes)
    }
}

impl JsonBody {
    /// The checks of a body that has been read (presence, media type, syntax, an object), in that order. Pure,
    /// so the fuzz targets (fuzz/) reach it without a server.
    pub fn from_bytes(content_type: Option<&str>, bytes: &[u8]) -> Result<Self, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::field(FieldError::body_required()));
        }
        if !is_json(content_type) {
            return Err(ApiError::status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type: expected application/json",
            ));
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(ApiError::field(FieldError::body_not_object())),
            Err(e) => Err(ApiError::field(FieldError::malformed_json(e))),
        }
    }
}

/// A member that may be absent, explicitly null, or given (PATCH semantics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patch<T> {
    Absent,
    Null,
    Value(T),
}

/// Reads members of a JSON object, collecting every problem instead of stopping at the first.
pub struct Fields {
    obj: Map<String, Value>,
    errors: ValidationErrors,
}

impl Fields {
    pub fn new(body: JsonBody) -> Self {
        Self {
            obj: body.0,
            errors: ValidationErrors::new(),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.obj.contains_key(name)
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn error(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    fn string_value(&mut self, name: &str) -> Patch<String> {
        match self.obj.remove(name) {
            None => Patch::Absent,
            Some(Value::Null) => Patch::Null,
            Some(Value::String(s)) => Patch::Value(s),
            Some(_) => {
                self.errors.push(FieldError::wrong_type(name, "string"));
                Patch::Absent
            }
        }
    }

    /// A string member that must be present and not null.
    pub fn required_str(&mut self, name: &str) -> Option<String> {
        let had = self.obj.contains_key(name);
        match self.string_value(name) {
            Patch::Value(s) => Some(s),
            Patch::Null => {
                self.errors.push(FieldError::null(name));
                None
            }
            Patch::Absent => {
                if !had {
                    self.errors.push(FieldError::missing(name));
                }
                None
            }
        }
    }

    /// A string member that may be absent or null (both mean "not given").
    pub fn optional_str(&mut self, name: &str) -> Option<String> {
        match self.string_value(name) {
            Patch::Value(s) => Some(s),
            Patch::Null | Patch::Absent => None,
        }
    }

    /// A string member with PATCH semantics: absent, null or a value.
    pub fn patch_str(&mut self, name: &str) -> Patch<String> {
        self.string_value(name)
    }

    pub fn optional_bool(&mut self, name: &str) -> Option<bool> {
        match self.obj.remove(name) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => {
                self.errors.push(FieldError::wrong_type(name, "boolean"));
                None
            }
        }
    }

    pub fn required_uuid(&mut self, name: &str) -> Option<Uuid> {
        let raw = self.required_str(name)?;
        self.uuid_of(name, &raw)
    }

    pub fn optional_uuid(&mut self, name: &str) -> Option<Uuid> {
        let raw = self.optional_str(name)?;
        self.uuid_of(name, &raw)
    }

    fn uuid_of(&mut self, name: &str, raw: &str) -> Option<Uuid> {
        match Uuid::parse_str(raw.trim()) {
            Ok(u) => Some(u),
            Err(_) => {
                self.errors.push(FieldError::invalid_uuid(name));
                None
            }
        }
    }

    /// Parses a read value into a domain type, reporting its error under `name`.
    pub fn parse<T>(
        &mut self,
        name: &str,
        raw: Option<String>,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        let raw = raw?;
        match parse(&raw) {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e.for_field(name));
                None
            }
        }
    }

    /// Ends reading: every collected problem becomes one 422.
    pub fn finish(self) -> Result<(), ApiError> {
        self.errors.into_result().map_err(ApiError::Validation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("application/json; charset=utf-8")));
        assert!(is_json(Some("application/problem+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }

    #[test]
    fn fields_collect_every_problem() {
        let body = JsonBody(
            serde_json::json!({"a": null, "b": 3, "c": "x", "d": "not-a-uuid"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let mut f = Fields::new(body);
        assert_eq!(f.required_str("a"), None);
        assert_eq!(f.required_str("b"), None);
        assert_eq!(f.required_str("missing"), None);
        assert_eq!(f.required_str("c").as_deref(), Some("x"));
        assert_eq!(f.required_uuid("d"), None);
        let Err(ApiError::Validation(errors)) = f.finish() else {
            panic!("expected validation errors");
        };
        let codes: Vec<_> = errors
            .errors()
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("a", "null"),
                ("b", "type"),
                ("missing", "missing"),
                ("d", "invalid_format")
            ]
        );
    }
}
