//! `Slug::parse` (the `tenant_slug` of registration and tenant creation, the `X-Tenant-Slug` header) and the
//! slug → schema-name mapping, the only identifier ever interpolated into SQL.
//!
//! Invariants beyond "no panic": acceptance agrees with an independent reading of the rule of api.md §4; an
//! accepted slug re-parses to itself, survives a JSON round trip, and maps to a schema name that parses, fits
//! PostgreSQL's 63-byte identifier limit and needs no escaping inside double quotes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenantry_domain::schema_name::SCHEMA_NAME_MAX_BYTES;
use tenantry_domain::slug::SLUG_MAX_LEN;
use tenantry_domain::{ErrorCode, SchemaName, Slug};

/// `^[a-z][a-z0-9]*([-_][a-z0-9]+)*$`, at most 56 characters, and no `pg_`, `public` or `information_schema`
/// once `-` reads as `_`, written without looking at the implementation.
fn expected(s: &str) -> Result<(), ErrorCode> {
    if s.chars().count() > SLUG_MAX_LEN {
        return Err(ErrorCode::TooLong);
    }
    let format_ok = s.split(['-', '_']).enumerate().all(|(i, part)| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && (i > 0 || part.as_bytes()[0].is_ascii_lowercase())
    });
    if !format_ok {
        return Err(ErrorCode::InvalidFormat);
    }
    let underscored = s.replace('-', "_");
    if ["pg_", "public", "information_schema"]
        .iter()
        .any(|r| underscored.contains(r))
    {
        return Err(ErrorCode::Reserved);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    // Whatever the input, the schema-name parser must not panic either.
    let _ = SchemaName::parse(s);

    let parsed = Slug::parse(s);
    assert_eq!(
        parsed.as_ref().map(|_| ()).map_err(|e| e.code),
        expected(s),
        "{s:?}"
    );
    let Ok(slug) = parsed else {
        return;
    };
    assert_eq!(slug.as_str(), s);
    assert_eq!(Slug::parse(slug.as_str()).as_ref(), Ok(&slug));
    let json = serde_json::to_string(&slug).expect("a slug serializes");
    assert_eq!(
        serde_json::from_str::<Slug>(&json).ok().as_ref(),
        Some(&slug)
    );

    let schema = SchemaName::from_slug(&slug);
    assert_eq!(SchemaName::parse(schema.as_str()).as_ref(), Ok(&schema));
    assert!(schema.as_str().len() <= SCHEMA_NAME_MAX_BYTES);
    assert_eq!(schema.as_str(), format!("tenant_{}", s.replace('-', "_")));
    let quoted = schema.quoted();
    assert!(!quoted[1..quoted.len() - 1].contains('"'));
    assert!(
        schema
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    );
});
