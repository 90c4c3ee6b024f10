//! Per-endpoint rate limits (api.md §0.7), checked after validation and before any password hashing.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};
use tenantry_ratelimit::Bucket;

use crate::error::{ApiError, RateLimitInfo};
use crate::state::AppState;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// Account keys never hold the raw email.
pub fn email_key(email: &str) -> String {
    hex::encode(Sha256::digest(email.as_bytes()))
}

/// The buckets of the §0.7 table for one request.
pub fn register(ip: IpAddr, email: &str) -> Vec<Bucket> {
    vec![
        Bucket::per_period(format!("register:ip:{ip}"), 5, HOUR),
        Bucket::per_period(format!("register:email:{}", email_key(email)), 3, HOUR),
    ]
}

/// `login` is shared by `POST /auth/login` and `POST /admin/login`.
pub fn login(ip: IpAddr, email: &str) -> Vec<Bucket> {
    let account = email_key(email);
    vec![
        Bucket::per_period(format!("login:ip:{ip}"), 20, MINUTE),
        Bucket::per_period(format!("login:email_ip:{account}:{ip}"), 5, 15 * MINUTE),
        Bucket::per_period(format!("login:email:{account}"), 50, HOUR),
    ]
}

/// Limits keyed by the client IP alone: `refresh`, `logout`, `verify`, `reset`, `invite-info`.
pub fn by_ip(name: &'static str, ip: IpAddr) -> Vec<Bucket> {
    let (capacity, period) = match name {
        "refresh" | "logout" | "invite-info" => (30, MINUTE),
        "verify" => (10, MINUTE),
        _ => (10, HOUR),
    };
    vec![Bucket::per_period(
        format!("{name}:ip:{ip}"),
        capacity,
        period,
    )]
}

/// Limits keyed by IP and account email, 5 and 3 per hour: `resend`, `forgot`.
pub fn by_ip_and_email(name: &'static str, ip: IpAddr, email: &str) -> Vec<Bucket> {
    vec![
        Bucket::per_period(format!("{name}:ip:{ip}"), 5, HOUR),
        Bucket::per_period(format!("{name}:email:{}", email_key(email)), 3, HOUR),
    ]
}

/// `password`: password change and tenant deletion, the endpoints that verify a current password.
pub fn password(ip: IpAddr, user_id: uuid::Uuid) -> Vec<Bucket> {
    vec![
        Bucket::per_period(format!("password:ip:{ip}"), 10, HOUR),
        Bucket::per_period(format!("password:user:{user_id}"), 5, 15 * MINUTE),
    ]
}

/// `invite-accept`: the token is keyed by its hash, like every account key.
pub fn invite_accept(ip: IpAddr, token: &str, email: &str) -> Vec<Bucket> {
    vec![
        Bucket::per_period(format!("invite-accept:ip:{ip}"), 10, HOUR),
        Bucket::per_period(
            format!("invite-accept:token:{}", email_key(token)),
            5,
            15 * MINUTE,
        ),
        Bucket::per_period(
            format!("invite-accept:email:{}", email_key(email)),
            5,
            15 * MINUTE,
        ),
    ]
}

/// `assume`: per operator.
pub fn assume(operator: uuid::Uuid) -> Vec<Bucket> {
    vec![Bucket::per_period(
        format!("assume:user:{operator}"),
        10,
        MINUTE,
    )]
}

pub fn provisioning(ip: IpAddr) -> Vec<Bucket> {
    vec![Bucket::per_period(
        format!("provisioning:ip:{ip}"),
        60,
        MINUTE,
    )]
}

/// Headers of the most restrictive bucket, for successful responses.
#[derive(Debug, Default)]
pub struct LimitHeaders(pub HeaderMap);

/// Takes one token from every bucket, or answers 429 without taking any.
pub async fn enforce(
    state: &AppState,
    name: &'static str,
    buckets: &[Bucket],
) -> Result<LimitHeaders, ApiError> {
    if !state.settings().rate_limit_enabled {
        return Ok(LimitHeaders::default());
    }
    let d = state.rate_limiter().check(buckets, 1).await;
    if !d.allowed {
        metrics::counter!("tenantry_rate_limited_total", "limit" => name).increment(1);
        return Err(ApiError::RateLimited(RateLimitInfo {
            retry_after_secs: d.retry_after_secs.max(1),
            limit: d.limit,
            reset_secs: d.reset_secs,
        }));
    }
    let mut headers = HeaderMap::new();
    for (k, v) in [
        ("ratelimit-limit", d.limit.to_string()),
        ("ratelimit-remaining", d.remaining.to_string()),
        ("ratelimit-reset", d.reset_secs.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(HeaderName::from_static(k), v);
        }
    }
    Ok(LimitHeaders(headers))
}
