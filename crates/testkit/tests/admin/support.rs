//! Fixtures: tenants, members and superusers written directly, bearer requests, JWT payloads and a
//! hasher that counts verifications.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};
use tenantry_services::passwords::{Argon2Hasher, PasswordError, PasswordHasher};
use tenantry_testkit::TestApp;
use uuid::Uuid;

pub const PASSWORD: &str = "violet-Harbor-93-lantern";
pub const USER_AGENT: &str = "tenantry-admin-test";

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &Uuid::now_v7().simple().to_string()[20..])
}

/// An Argon2id hasher that counts its calls, so tests can assert "exactly one verification".
pub struct Counting {
    inner: Argon2Hasher,
    verifies: AtomicUsize,
}

impl Counting {
    pub fn new() -> Arc<Self> {
        let params = tenantry_settings::Argon2Params {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
        };
        Arc::new(Self {
            inner: Argon2Hasher::new(&params).unwrap(),
            verifies: AtomicUsize::new(0),
        })
    }

    pub fn verifications(&self) -> usize {
        self.verifies.load(Ordering::SeqCst)
    }
}

impl PasswordHasher for Counting {
    fn hash(&self, password: &str) -> Result<String, PasswordError> {
        self.inner.hash(password)
    }

    fn verify(&self, password: &str, phc: &str) -> bool {
        self.verifies.fetch_add(1, Ordering::SeqCst);
        self.inner.verify(password, phc)
    }

    fn needs_rehash(&self, phc: &str) -> bool {
        self.inner.needs_rehash(phc)
    }
}

/// A tenant in `status` (written directly: these tests are about administration, not provisioning).
pub async fn tenant_in(app: &TestApp, status: &str) -> (Uuid, String) {
    let slug = unique("adm-");
    let id = Uuid::now_v7();
    let active = matches!(status, "ready" | "provisioning");
    let deleted = matches!(status, "deleting" | "deleted");
    sqlx::query(
        "INSERT INTO public.tenants (id, name, slug, status, is_active, origin, claimed_at, deleted_at) \
         VALUES ($1, 'Admin Test', $2, $3, $4, 'admin', now(), CASE WHEN $5 THEN now() END)",
    )
    .bind(id)
    .bind(&slug)
    .bind(status)
    .bind(active)
    .bind(deleted)
    .execute(&app.pool)
    .await
    .unwrap();
    (id, slug)
}

pub async fn tenant(app: &TestApp) -> (Uuid, String) {
    tenant_in(app, "ready").await
}

pub async fn join(app: &TestApp, user_id: Uuid, tenant_id: Uuid, role: &str) {
    sqlx::query(
        "INSERT INTO public.user_tenant_membership (user_id, tenant_id, role) VALUES ($1, $2, $3)",
    )
    .bind(user_id)
    .bind(tenant_id)
    .bind(role)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// A verified, active account (`superuser` or not); returns `(id, email)`.
pub async fn user(app: &TestApp, prefix: &str, superuser: bool) -> (Uuid, String) {
    let email = format!("{}@example.com", unique(prefix));
    let id = app.create_user(&email, PASSWORD, superuser).await.unwrap();
    (id, email)
}

/// A verified, active member of a fresh ready tenant.
#[derive(Debug, Clone)]
pub struct Account {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub slug: String,
    pub email: String,
}

pub async fn account(app: &TestApp, role: &str) -> Account {
    let (tenant_id, slug) = tenant(app).await;
    let (user_id, email) = user(app, "member-", false).await;
    join(app, user_id, tenant_id, role).await;
    Account {
        user_id,
        tenant_id,
        slug,
        email,
    }
}

pub async fn exec(app: &TestApp, sql: &str, id: Uuid) {
    sqlx::query(sql).bind(id).execute(&app.pool).await.unwrap();
}

pub async fn request(
    app: &TestApp,
    method: Method,
    path: &str,
    slug: Option<&str>,
    token: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut req = app
        .http
        .request(method, app.url(path))
        .header("User-Agent", USER_AGENT);
    if let Some(slug) = slug {
        req = req.header("X-Tenant-Slug", slug);
    }
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    req.send().await.expect("request failed")
}

pub async fn get(app: &TestApp, path: &str, slug: Option<&str>, token: &str) -> reqwest::Response {
    request(app, Method::GET, path, slug, Some(token), None).await
}

pub async fn admin_login_as(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    request(
        app,
        Method::POST,
        "/api/v1/admin/login",
        None,
        None,
        Some(&json!({ "email": email, "password": password })),
    )
    .await
}

/// The console access token of a superuser.
pub async fn admin_login(app: &TestApp, email: &str) -> String {
    let resp = admin_login_as(app, email, PASSWORD).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let v: Value = resp.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// The access token of a tenant login.
pub async fn login(app: &TestApp, slug: &str, email: &str) -> String {
    let resp = request(
        app,
        Method::POST,
        "/api/v1/auth/login",
        Some(slug),
        None,
        Some(&json!({ "email": email, "password": PASSWORD })),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let v: Value = resp.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// The claims of a JWT, read without checking its signature.
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// `(status, detail)` of a response.
pub async fn status_detail(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    (status, v["detail"].as_str().unwrap_or_default().to_owned())
}

/// Error bodies compared without their request id.
pub async fn body_without_request_id(resp: reqwest::Response) -> Value {
    let mut v: Value = resp.json().await.unwrap();
    v.as_object_mut().unwrap().remove("request_id");
    v
}

/// Every page of a list endpoint, following `next_cursor` with pages of `limit`.
pub async fn all_pages(
    app: &TestApp,
    path: &str,
    slug: Option<&str>,
    token: &str,
    limit: usize,
) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let resp = get(app, &url, slug, token).await;
        assert_eq!(resp.status(), 200, "{url}");
        let page: Value = resp.json().await.unwrap();
        let batch = page["items"].as_array().unwrap();
        assert!(batch.len() <= limit);
        items.extend(batch.iter().cloned());
        assert_eq!(
            page["has_more"].as_bool().unwrap(),
            page["next_cursor"].is_string()
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
    panic!("more than 100 pages");
}

/// The member names of a JSON object, sorted.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}
