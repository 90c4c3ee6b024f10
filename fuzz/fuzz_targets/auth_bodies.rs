//! The JSON bodies of the auth endpoints as the handlers read them (crates/http: `JsonBody::from_bytes`, then
//! `api::auth::{register_body, credentials, refresh_token_body, email_body, token_body, reset_body}`):
//! `/auth/register`, `/auth/login` and `/admin/login`, `/auth/refresh` and `/auth/logout`,
//! `/auth/forgot-password` and `/auth/resend-verification`, `/auth/verify-email`, `/auth/reset-password`.
//!
//! Invariants beyond "no panic": a body is accepted as JSON exactly when it is a JSON object; every refusal is
//! a 422 (or the 415 of a wrong media type) naming only the body or the reader's own members, never a 500; a
//! body that reads produces values that are exactly its members, validated (an email that re-parses to itself,
//! a slug that maps to a schema, names trimmed to 1..100 characters, nothing stored verbatim holding a NUL that
//! PostgreSQL would refuse, passwords and tokens verbatim within their length limits); reading is deterministic.
#![no_main]

use axum::http::StatusCode;
use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use tenantry_domain::{Email, SchemaName, Slug, ValidationErrors};
use tenantry_http::ApiError;
use tenantry_http::api::auth;
use tenantry_http::json::JsonBody;

/// The refusal must be a 422 whose every error names the body or one of `members`.
fn refused(reader: &str, err: ApiError, members: &[&str]) -> ValidationErrors {
    let ApiError::Validation(errors) = err else {
        panic!("{reader}: a body refusal that is not a 422: {err:?}");
    };
    assert!(!errors.is_empty(), "{reader}: a 422 without errors");
    for e in errors.errors() {
        assert!(
            e.field == "body" || members.contains(&e.field.as_str()),
            "{reader}: error for field {:?} ({e:?})",
            e.field
        );
    }
    let resp = ApiError::Validation(errors.clone()).into_response();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    errors
}

fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> &'a str {
    obj.get(name)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("accepted without a string {name:?}"))
}

fn chars_within(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.chars().count())
}

fn check_name(raw: &str, read: &str) {
    assert_eq!(read, raw.trim());
    assert!(chars_within(read, 1, 100));
}

/// Every reader on one body; the result, as comparable data, for the determinism check.
fn read_all(obj: &Map<String, Value>) -> Vec<Result<String, ValidationErrors>> {
    let body = || JsonBody(obj.clone());
    let mut out = Vec::new();

    let members = [
        "email",
        "password",
        "full_name",
        "tenant_name",
        "tenant_slug",
    ];
    out.push(match auth::register_body(body()) {
        Ok(cmd) => {
            let email = member(obj, "email");
            assert_eq!(Email::parse(email).as_ref(), Ok(&cmd.email));
            assert_eq!(Email::parse(cmd.email.as_str()).as_ref(), Ok(&cmd.email));
            assert_eq!(cmd.password.expose(), member(obj, "password"));
            assert!(chars_within(cmd.password.expose(), 8, 128));
            check_name(member(obj, "full_name"), cmd.full_name.as_str());
            check_name(member(obj, "tenant_name"), cmd.tenant_name.as_str());
            assert_eq!(cmd.slug.as_str(), member(obj, "tenant_slug"));
            assert_eq!(Slug::parse(cmd.slug.as_str()).as_ref(), Ok(&cmd.slug));
            assert!(SchemaName::parse(SchemaName::from_slug(&cmd.slug).as_str()).is_ok());
            // Stored verbatim in PostgreSQL text columns, which cannot hold U+0000 (it would be a 500).
            for stored in [
                cmd.email.as_str(),
                cmd.full_name.as_str(),
                cmd.tenant_name.as_str(),
                cmd.slug.as_str(),
            ] {
                assert!(
                    !stored.contains('\0'),
                    "a NUL would reach the database: {stored:?}"
                );
            }
            Ok(format!("{}|{}", cmd.email, cmd.slug))
        }
        Err(e) => Err(refused("register", e, &members)),
    });

    out.push(match auth::credentials(body()) {
        Ok((email, password)) => {
            assert_eq!(Email::parse(member(obj, "email")).as_ref(), Ok(&email));
            assert_eq!(password.expose(), member(obj, "password"));
            assert!(chars_within(password.expose(), 8, 128));
            Ok(email.to_string())
        }
        Err(e) => Err(refused("login", e, &["email", "password"])),
    });

    out.push(match auth::refresh_token_body(body()) {
        Ok(token) => {
            assert_eq!(token, member(obj, "refresh_token"));
            assert!(chars_within(&token, 1, 1024));
            Ok(token)
        }
        Err(e) => Err(refused("refresh", e, &["refresh_token"])),
    });

    out.push(match auth::email_body(body()) {
        Ok(email) => {
            assert_eq!(Email::parse(member(obj, "email")).as_ref(), Ok(&email));
            Ok(email.to_string())
        }
        Err(e) => Err(refused("forgot/resend", e, &["email"])),
    });

    out.push(match auth::token_body(body()) {
        Ok(token) => {
            assert_eq!(token.expose(), member(obj, "token"));
            assert!(chars_within(token.expose(), 32, 128));
            assert_eq!(token.hash().len(), 64);
            Ok(token.hash())
        }
        Err(e) => Err(refused("verify-email", e, &["token"])),
    });

    out.push(match auth::reset_body(body()) {
        Ok((token, password)) => {
            assert_eq!(token.expose(), member(obj, "token"));
            assert_eq!(password.expose(), member(obj, "new_password"));
            assert!(chars_within(password.expose(), 8, 128));
            Ok(token.hash())
        }
        Err(e) => Err(refused("reset-password", e, &["token", "new_password"])),
    });
    out
}

fuzz_target!(|data: &[u8]| {
    let blank = data.iter().all(u8::is_ascii_whitespace);

    // The media type is checked after presence and before syntax.
    match JsonBody::from_bytes(Some("text/plain"), data) {
        Err(ApiError::Status { status, .. }) => {
            assert!(!blank);
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        Err(ApiError::Validation(errors)) => {
            assert!(blank);
            assert_eq!(errors.errors()[0].field, "body");
        }
        other => panic!("text/plain body: {other:?}"),
    }

    let object = match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    };
    let obj = match JsonBody::from_bytes(Some("application/json; charset=utf-8"), data) {
        Ok(JsonBody(obj)) => {
            assert_eq!(Some(&obj), object.as_ref());
            obj
        }
        Err(e) => {
            assert!(object.is_none(), "a JSON object refused: {e:?}");
            refused("body", e, &[]);
            return;
        }
    };
    let first = read_all(&obj);
    assert_eq!(read_all(&obj), first, "reading a body is not deterministic");
});
