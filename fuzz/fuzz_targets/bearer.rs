//! Bearer tokens (api.md §1.4) as `Services::authenticate` reads them before it touches the database: the
//! `Authorization` header (`tenantry_services::auth::bearer_token`), the HS256 JWT
//! (`TokenKeys::decode`, the configured key and issuer, no leeway) and the claim checks
//! (`tenantry_services::auth::token_subject`).
//!
//! The first input byte picks what the rest is:
//! - 0: an `Authorization` header value, as sent (nothing the fuzzer writes carries a valid signature);
//! - 1: a JWT payload, signed with the server's key under the header `{"alg":"HS256","typ":"JWT"}`, so the claim
//!   parsing and checks behind the signature are reached;
//! - 2: a JOSE header (length in the next byte) and a payload, signed with the server's key: algorithm confusion
//!   (`none`, HS512, RS256, `crit`…) must be refused;
//! - 3: an edit (position, byte) of a genuine access token, which must never yield different claims.
//!
//! Invariants beyond "no panic": whatever decodes was signed with the key, under `alg: HS256`, names the
//! configured issuer and has not expired; the claims survive re-signing; `token_subject` accepts exactly the
//! type/sub/sid/tenant_id shapes of api.md §1.4, in its order.
#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sha2::Sha256;
use tenantry_services::auth::{AccessClaims, AuthFailure, TokenKeys, bearer_token, token_subject};
use tenantry_settings::Settings;
use uuid::Uuid;

static SETTINGS: LazyLock<Settings> = LazyLock::new(|| {
    Settings::for_tests("postgres://fuzz@127.0.0.1:5432/fuzz").expect("test settings")
});
static KEYS: LazyLock<TokenKeys> =
    LazyLock::new(|| TokenKeys::from_settings(&SETTINGS).expect("token keys"));

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `base64url(header).base64url(payload).base64url(HMAC-SHA256)` with the server's secret.
fn signed(header: &[u8], payload: &[u8]) -> String {
    use secrecy::ExposeSecret;
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac =
        Hmac::<Sha256>::new_from_slice(SETTINGS.jwt_secret_key.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    format!(
        "{message}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn claims_json(c: &AccessClaims) -> Value {
    serde_json::to_value(c).expect("claims serialize")
}

/// What api.md §1.4 says of the claims, read independently of `token_subject`.
fn expected_subject(c: &AccessClaims) -> Result<(bool, Uuid, Option<Uuid>), &'static str> {
    let assumed = match c.token_type.as_deref() {
        Some("access") => false,
        Some("assumed_access") => true,
        _ => return Err("Invalid token type"),
    };
    if c.sub.is_none() || (!assumed && c.sid.is_none()) {
        return Err("Invalid token payload");
    }
    let user = Uuid::parse_str(c.sub.as_deref().unwrap_or_default())
        .map_err(|_| "Invalid user_id in token")?;
    let tenant = c
        .tenant_id
        .as_deref()
        .map(Uuid::parse_str)
        .transpose()
        .map_err(|_| "Invalid tenant_id in token")?;
    Ok((assumed, user, tenant))
}

/// Everything that must hold of a token `decode` accepted.
fn check_accepted(token: &str, c: &AccessClaims) {
    let mut parts = token.split('.');
    let header: Value = parts
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice(&h).ok())
        .unwrap_or_else(|| panic!("accepted a token whose header does not read: {token:?}"));
    assert_eq!(
        header["alg"], "HS256",
        "accepted another algorithm: {header}"
    );
    assert_eq!(c.iss, SETTINGS.jwt_issuer);
    assert!(
        c.exp.saturating_add(1) >= now(),
        "accepted an expired token (exp {})",
        c.exp
    );

    let subject = token_subject(c);
    assert_eq!(
        subject.map(|s| (s.assumed, s.user_id, s.tenant_id)),
        expected_subject(c).map_err(AuthFailure)
    );
    // The claims survive re-signing with the server's key.
    let again = KEYS.sign(c).expect("claims sign");
    let decoded = KEYS.decode(&again).expect("re-signed claims decode");
    assert_eq!(claims_json(&decoded), claims_json(c));
}

fn genuine_claims(data: &[u8]) -> AccessClaims {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let iat = now();
    AccessClaims {
        sub: Some(Uuid::from_u128(u128::from(byte(0)) << 64 | 1).to_string()),
        tenant_id: (byte(1) % 2 == 0).then(|| Uuid::from_u128(u128::from(byte(1)) + 7).to_string()),
        sid: Some(Uuid::from_u128(u128::from(byte(2)) + 11).to_string()),
        token_type: Some(
            if byte(3) % 2 == 0 {
                "access"
            } else {
                "assumed_access"
            }
            .to_owned(),
        ),
        jti: Some(Uuid::now_v7().to_string()),
        iat,
        exp: iat + 900,
        iss: SETTINGS.jwt_issuer.clone(),
        assumed_identity: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let Ok(header) = std::str::from_utf8(rest) else {
                return;
            };
            let Some(token) = bearer_token(Some(header)) else {
                assert!(
                    !header.starts_with("Bearer ") || header["Bearer ".len()..].trim().is_empty()
                );
                return;
            };
            assert!(header.starts_with("Bearer "));
            assert!(!token.is_empty() && token == token.trim());
            if let Some(c) = KEYS.decode(token) {
                check_accepted(token, &c);
            }
        }
        1 => {
            let token = signed(br#"{"alg":"HS256","typ":"JWT"}"#, rest);
            let header = format!("Bearer {token}");
            assert_eq!(bearer_token(Some(&header)), Some(token.as_str()));
            if let Some(c) = KEYS.decode(&token) {
                check_accepted(&token, &c);
            }
        }
        2 => {
            let Some((&len, rest)) = rest.split_first() else {
                return;
            };
            let (header, payload) = rest.split_at(usize::from(len).min(rest.len()));
            let token = signed(header, payload);
            if let Some(c) = KEYS.decode(&token) {
                check_accepted(&token, &c);
            }
        }
        _ => {
            let original = genuine_claims(rest);
            let token = KEYS.sign(&original).expect("claims sign");
            let decoded = KEYS.decode(&token).expect("a genuine token decodes");
            assert_eq!(claims_json(&decoded), claims_json(&original));
            check_accepted(&token, &decoded);
            let [.., pos_hi, pos_lo, byte] = rest else {
                return;
            };
            let mut edited = token.clone().into_bytes();
            let pos = usize::from(u16::from_be_bytes([*pos_hi, *pos_lo])) % edited.len();
            edited[pos] = *byte;
            let Ok(edited) = String::from_utf8(edited) else {
                return;
            };
            if let Some(c) = KEYS.decode(&edited) {
                // Only edits that leave the signed bytes alone (e.g. unused bits of a base64 character) may pass.
                assert_eq!(
                    claims_json(&c),
                    claims_json(&original),
                    "edited token {edited:?} decodes to other claims"
                );
            }
        }
    }
});
