//! Query parameters with the contract's 422 shapes (api.md §0.2).

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use tenantry_domain::{Cursor, ErrorCode, FieldError, ValidationErrors};
use tenantry_services::pagination::PageRequest;

use crate::error::ApiError;

pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(map) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                ApiError::field(FieldError::new(
                    "query",
                    ErrorCode::Invalid,
                    "Malformed query string",
                ))
            })?;
        Ok(Self(map))
    }
}

/// Reads query parameters, collecting every problem like [`crate::json::Fields`].
pub struct QueryReader<'a> {
    params: &'a HashMap<String, String>,
    errors: ValidationErrors,
}

impl<'a> QueryReader<'a> {
    pub fn new(params: &'a Params) -> Self {
        Self {
            params: &params.0,
            errors: ValidationErrors::new(),
        }
    }

    pub fn required(&mut self, name: &str) -> Option<&'a str> {
        let v = self.params.get(name).map(String::as_str);
        if v.is_none() {
            self.errors.push(FieldError::missing(name));
        }
        v
    }

    pub fn error(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    pub fn optional(&self, name: &str) -> Option<&'a str> {
        self.params.get(name).map(String::as_str)
    }

    pub fn int_in(&mut self, name: &str, min: i64, max: i64, default: i64) -> i64 {
        let Some(raw) = self.params.get(name) else {
            return default;
        };
        match raw.trim().parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => v,
            Ok(_) => {
                self.errors.push(FieldError::out_of_range(name, min, max));
                default
            }
            Err(_) => {
                self.errors.push(FieldError::wrong_type(name, "integer"));
                default
            }
        }
    }

    pub fn parse<T>(
        &mut self,
        name: &str,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        match parse(raw?) {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e.for_field(name));
                None
            }
        }
    }

    /// `true` or `false`; anything else is a 422 of code `type`.
    pub fn bool_or(&mut self, name: &str, default: bool) -> bool {
        match self.params.get(name).map(|v| v.trim()) {
            None => default,
            Some("true") => true,
            Some("false") => false,
            Some(_) => {
                self.errors.push(FieldError::wrong_type(name, "boolean"));
                default
            }
        }
    }

    /// `cursor` and `limit` of a list endpoint (api.md §0.5).
    pub fn page(&mut self) -> PageRequest {
        let limit = self.int_in("limit", 1, 100, 50);
        let after = self.parse("cursor", self.optional("cursor"), Cursor::decode);
        PageRequest { after, limit }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        self.errors.into_result().map_err(ApiError::Validation)
    }
}
