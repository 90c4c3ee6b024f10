//! Security headers on every response and no-store caching on responses that carry credentials.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

const SECURITY_HEADERS: [(&str, &str); 7] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-permitted-cross-domain-policies", "none"),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
    ("x-xss-protection", "0"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
];

/// The web console's pages and files (`crate::console`): exactly its own scripts, styles, images and API calls
/// (same origin); no inline code, no other origin, no framing, no form submissions (forms are handled by the app).
pub(crate) const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Responses whose bodies hold tokens or personal data must never be cached by a proxy or browser.
fn is_no_store(path: &str) -> bool {
    const PREFIXES: [&str; 5] = [
        "/api/v1/auth/",
        "/api/v1/users/me",
        "/api/v1/invites/t/",
        "/api/v1/admin/assume-identity",
        "/dev/mailbox",
    ];
    PREFIXES.iter().any(|p| path.starts_with(p))
        || (path.starts_with("/api/v1/tenants/") && path.ends_with("/provisioning"))
}

pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let no_store = is_no_store(req.uri().path());
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        // A page that loads its own assets (the docs UI, the console) sets a CSP of its own; keep it.
        headers
            .entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from_static(value));
    }
    if no_store {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::is_no_store;

    #[test]
    fn credential_paths_are_no_store() {
        assert!(is_no_store("/api/v1/auth/login"));
        assert!(is_no_store("/api/v1/users/me/sessions"));
        assert!(is_no_store("/api/v1/tenants/acme/provisioning"));
        assert!(is_no_store("/dev/mailbox"));
        assert!(!is_no_store("/api/v1/projects"));
        assert!(!is_no_store("/api/v1/tenants/acme"));
    }
}
