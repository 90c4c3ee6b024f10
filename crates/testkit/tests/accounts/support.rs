//! Fixtures: a ready tenant with a verified member, logins, bearer requests, and a hasher that counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::{Value, json};
use tenantry_services::passwords::{Argon2Hasher, PasswordError, PasswordHasher};
use tenantry_testkit::TestApp;
use uuid::Uuid;

pub const PASSWORD: &str = "violet-Harbor-93-lantern";
pub const NEW_PASSWORD: &str = "quartz-Meadow-71-compass";

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

/// An Argon2id hasher that counts its calls, so tests can assert "exactly one verification".
pub struct Counting {
    inner: Argon2Hasher,
    pub verifies: AtomicUsize,
    pub hashes: AtomicUsize,
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
            hashes: AtomicUsize::new(0),
        })
    }

    pub fn verifications(&self) -> usize {
        self.verifies.load(Ordering::SeqCst)
    }

    pub fn hash_count(&self) -> usize {
        self.hashes.load(Ordering::SeqCst)
    }
}

impl PasswordHasher for Counting {
    fn hash(&self, password: &str) -> Result<String, PasswordError> {
        self.hashes.fetch_add(1, Ordering::SeqCst);
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

/// A verified, active member of a ready tenant.
#[derive(Debug, Clone)]
pub struct Account {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub slug: String,
    pub email: String,
}

/// A ready tenant (written directly: these tests are about accounts, not provisioning).
pub async fn tenant(app: &TestApp) -> (Uuid, String) {
    let slug = unique("acct-");
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO public.tenants (id, name, slug, status, is_active, origin, claimed_at) \
         VALUES ($1, 'Accounts Test', $2, 'ready', true, 'admin', now())",
    )
    .bind(id)
    .bind(&slug)
    .execute(&app.pool)
    .await
    .unwrap();
    (id, slug)
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

pub async fn account(app: &TestApp) -> Account {
    let (tenant_id, slug) = tenant(app).await;
    let email = format!("{}@example.com", unique("user-"));
    let user_id = app.create_user(&email, PASSWORD, false).await.unwrap();
    join(app, user_id, tenant_id, "admin").await;
    Account {
        user_id,
        tenant_id,
        slug,
        email,
    }
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
        .header("User-Agent", "tenantry-accounts-test");
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

pub async fn login_as(app: &TestApp, slug: &str, email: &str, password: &str) -> reqwest::Response {
    request(
        app,
        Method::POST,
        "/api/v1/auth/login",
        Some(slug),
        None,
        Some(&json!({ "email": email, "password": password })),
    )
    .await
}

/// `(access_token, refresh_token)` of a fresh login.
pub async fn login(app: &TestApp, a: &Account) -> (String, String) {
    let resp = login_as(app, &a.slug, &a.email, PASSWORD).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["token_type"], "bearer");
    (
        v["access_token"].as_str().unwrap().to_owned(),
        v["refresh_token"].as_str().unwrap().to_owned(),
    )
}

pub async fn refresh(app: &TestApp, slug: &str, token: &str) -> reqwest::Response {
    request(
        app,
        Method::POST,
        "/api/v1/auth/refresh",
        Some(slug),
        None,
        Some(&json!({ "refresh_token": token })),
    )
    .await
}

/// `GET /users/me` with an access token: 200 while the session lives.
pub async fn me(app: &TestApp, slug: &str, access: &str) -> reqwest::Response {
    request(
        app,
        Method::GET,
        "/api/v1/users/me",
        Some(slug),
        Some(access),
        None,
    )
    .await
}

pub async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// The plaintext token of the newest mailbox message of `kind` to `email`.
pub async fn mailbox_token(app: &TestApp, email: &str, kind: &str) -> String {
    let resp = app.get(&format!("/dev/mailbox?to={email}&limit=50")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == kind)
        .and_then(|m| m["token"].as_str())
        .unwrap_or_else(|| panic!("no {kind} email with a token for {email}: {v}"))
        .to_owned()
}

pub async fn audit_count(app: &TestApp, action: &str, user_id: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM public.audit_logs WHERE action = $1 AND user_id = $2")
        .bind(action)
        .bind(user_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Error bodies compared without their request id.
pub async fn body_without_request_id(resp: reqwest::Response) -> Value {
    let mut v: Value = resp.json().await.unwrap();
    v.as_object_mut().unwrap().remove("request_id");
    v
}
