//! Validation error vocabulary shared by every value type and by the HTTP layer's 422 body (api.md §0.2).

use std::fmt;

use serde::Serialize;

/// Machine-readable reason for a field failure; the wire spelling is part of the API contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Missing,
    Null,
    Type,
    TooShort,
    TooLong,
    OutOfRange,
    InvalidFormat,
    InvalidChoice,
    WeakPassword,
    Reserved,
    JsonInvalid,
    InvalidCursor,
    Invalid,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::Missing,
        ErrorCode::Null,
        ErrorCode::Type,
        ErrorCode::TooShort,
        ErrorCode::TooLong,
        ErrorCode::OutOfRange,
        ErrorCode::InvalidFormat,
        ErrorCode::InvalidChoice,
        ErrorCode::WeakPassword,
        ErrorCode::Reserved,
        ErrorCode::JsonInvalid,
        ErrorCode::InvalidCursor,
        ErrorCode::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Missing => "missing",
            ErrorCode::Null => "null",
            ErrorCode::Type => "type",
            ErrorCode::TooShort => "too_short",
            ErrorCode::TooLong => "too_long",
            ErrorCode::OutOfRange => "out_of_range",
            ErrorCode::InvalidFormat => "invalid_format",
            ErrorCode::InvalidChoice => "invalid_choice",
            ErrorCode::WeakPassword => "weak_password",
            ErrorCode::Reserved => "reserved",
            ErrorCode::JsonInvalid => "json_invalid",
            ErrorCode::InvalidCursor => "invalid_cursor",
            ErrorCode::Invalid => "invalid",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one field.
///
/// Value types report a default field name (the body member they usually come from); the caller renames it with
/// [`FieldError::for_field`] when the same type arrives under another name (e.g. `slug` vs `tenant_slug`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub code: ErrorCode,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    #[must_use]
    pub fn for_field(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }

    /// `Field required`, code `missing`.
    pub fn missing(field: impl Into<String>) -> Self {
        Self::new(field, ErrorCode::Missing, "Field required")
    }

    /// `Expected <type>`, code `type`; `expected` is one of `string`, `integer`, `boolean`, `object`.
    pub fn wrong_type(field: impl Into<String>, expected: &str) -> Self {
        Self::new(field, ErrorCode::Type, format!("Expected {expected}"))
    }

    /// `Must not be null`, code `null`.
    pub fn null(field: impl Into<String>) -> Self {
        Self::new(field, ErrorCode::Null, "Must not be null")
    }

    /// `Must be one of: a, b`, code `invalid_choice`; `choices` must be in the order the contract lists them.
    pub fn invalid_choice(field: impl Into<String>, choices: &[&str]) -> Self {
        Self::new(
            field,
            ErrorCode::InvalidChoice,
            format!("Must be one of: {}", choices.join(", ")),
        )
    }

    /// `Must be between <min> and <max>`, code `out_of_range`.
    pub fn out_of_range(
        field: impl Into<String>,
        min: impl fmt::Display,
        max: impl fmt::Display,
    ) -> Self {
        Self::new(
            field,
            ErrorCode::OutOfRange,
            format!("Must be between {min} and {max}"),
        )
    }

    /// `Must be <min> to <max> characters`; the code says which side was violated.
    pub fn length(field: impl Into<String>, code: ErrorCode, min: usize, max: usize) -> Self {
        Self::new(field, code, format!("Must be {min} to {max} characters"))
    }

    /// `Must be at most <max> characters`, code `too_long`, for limits without a minimum.
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        Self::new(
            field,
            ErrorCode::TooLong,
            format!("Must be at most {max} characters"),
        )
    }

    /// `Must not contain NUL characters`, code `invalid_format`: PostgreSQL cannot store U+0000 in text or
    /// jsonb, so free text that reaches the database is refused with it rather than failing there.
    pub fn nul_character(field: impl Into<String>) -> Self {
        Self::new(field, ErrorCode::InvalidFormat, NUL_CHARACTER_MESSAGE)
    }

    /// Refuses `s` when it contains U+0000 (see [`FieldError::nul_character`]).
    pub fn reject_nul(field: &str, s: &str) -> Result<(), FieldError> {
        if s.contains('\0') {
            Err(Self::nul_character(field))
        } else {
            Ok(())
        }
    }

    /// `Invalid UUID`, code `invalid_format`.
    pub fn invalid_uuid(field: impl Into<String>) -> Self {
        Self::new(field, ErrorCode::InvalidFormat, "Invalid UUID")
    }

    /// Field `body`, code `json_invalid`, `Malformed JSON: <reason>`.
    pub fn malformed_json(reason: impl fmt::Display) -> Self {
        Self::new(
            "body",
            ErrorCode::JsonInvalid,
            format!("Malformed JSON: {reason}"),
        )
    }

    /// Field `body`, code `missing`, `Request body is required`.
    pub fn body_required() -> Self {
        Self::new("body", ErrorCode::Missing, "Request body is required")
    }

    /// Field `body`, code `type`, `Expected object`.
    pub fn body_not_object() -> Self {
        Self::wrong_type("body", "object")
    }
}

/// Message of [`FieldError::nul_character`].
pub const NUL_CHARACTER_MESSAGE: &str = "Must not contain NUL characters";

/// Every problem found in one request, in the order found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Records the error of a failed parse and keeps going, so one response can list every problem.
    pub fn collect<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    pub fn into_inner(self) -> Vec<FieldError> {
        self.0
    }

    /// `Ok(())` when nothing was recorded, so handlers can `?` after collecting.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// The 422 `detail` text: `<field>: <message>` joined by `"; "`.
    pub fn detail(&self) -> String {
        self.0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<FieldError> for ValidationErrors {
    fn from(e: FieldError) -> Self {
        Self(vec![e])
    }
}

impl From<Vec<FieldError>> for ValidationErrors {
    fn from(v: Vec<FieldError>) -> Self {
        Self(v)
    }
}

impl IntoIterator for ValidationErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_the_contract_spells_them() {
        let expected = [
            "missing",
            "null",
            "type",
            "too_short",
            "too_long",
            "out_of_range",
            "invalid_format",
            "invalid_choice",
            "weak_password",
            "reserved",
            "json_invalid",
            "invalid_cursor",
            "invalid",
        ];
        for (code, name) in ErrorCode::ALL.iter().zip(expected) {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::from(name)
            );
            assert_eq!(code.as_str(), name);
        }
    }

    #[test]
    fn detail_joins_entries() {
        let mut errors = ValidationErrors::new();
        assert!(errors.collect(Ok::<_, FieldError>(1)).is_some());
        errors.push(FieldError::missing("email"));
        errors.collect::<()>(Err(FieldError::length(
            "full_name",
            ErrorCode::TooLong,
            1,
            100,
        )));
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors.detail(),
            "email: Field required; full_name: Must be 1 to 100 characters"
        );
        assert!(errors.clone().into_result().is_err());
        assert!(ValidationErrors::new().into_result().is_ok());
    }

    #[test]
    fn standard_messages() {
        assert_eq!(
            FieldError::wrong_type("limit", "integer").message,
            "Expected integer"
        );
        assert_eq!(FieldError::null("name").message, "Must not be null");
        assert_eq!(
            FieldError::invalid_choice("role", &["admin", "member"]).message,
            "Must be one of: admin, member"
        );
        assert_eq!(
            FieldError::out_of_range("limit", 1, 100).message,
            "Must be between 1 and 100"
        );
        assert_eq!(
            FieldError::too_long("description", 1000).message,
            "Must be at most 1000 characters"
        );
        assert_eq!(
            FieldError::invalid_uuid("project_id").message,
            "Invalid UUID"
        );
        let body = FieldError::body_not_object();
        assert_eq!(
            (body.field.as_str(), body.code, body.message.as_str()),
            ("body", ErrorCode::Type, "Expected object")
        );
        assert_eq!(FieldError::body_required().code, ErrorCode::Missing);
        assert_eq!(
            FieldError::malformed_json("line 1 column 2").message,
            "Malformed JSON: line 1 column 2"
        );
    }

    #[test]
    fn serializes_as_list_of_entries() {
        let errors = ValidationErrors::from(FieldError::new(
            "cursor",
            ErrorCode::InvalidCursor,
            "Invalid cursor",
        ));
        assert_eq!(
            serde_json::to_value(&errors).unwrap(),
            serde_json::json!([{"field": "cursor", "code": "invalid_cursor", "message": "Invalid cursor"}])
        );
    }
}
