//! Fixtures for the projects tests: a tenant provisioned through the API (so it has a real schema),
//! verified and logged-in users, and requests that keep status, headers and body together.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tenantry_domain::SchemaName;
use tenantry_store::TenantTx;
use tenantry_testkit::TestApp;
use uuid::Uuid;

pub const PASSWORD: &str = "violet-Harbor-93-lantern";

/// Temporal remembers workflow ids across test runs, so every slug is new.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

/// A logged-in user of one tenant.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub token: String,
}

/// A ready tenant and its owner (an admin).
#[derive(Debug, Clone)]
pub struct Workspace {
    pub id: Uuid,
    pub slug: String,
    pub schema: SchemaName,
    pub owner: User,
}

/// What came back, read once.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn detail(&self) -> &str {
        self.json["detail"].as_str().unwrap_or("")
    }

    /// `(field, code, message)` of every 422 entry.
    pub fn field_errors(&self) -> Vec<(String, String, String)> {
        self.json["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| {
                        (
                            e["field"].as_str().unwrap_or_default().to_owned(),
                            e["code"].as_str().unwrap_or_default().to_owned(),
                            e["message"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A request as `user` of the tenant `slug`; `extra` adds headers (e.g. `Idempotency-Key`).
pub async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    slug: &str,
    token: &str,
    body: Option<&Value>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut req = app
        .http
        .request(method, app.url(path))
        .header("User-Agent", "tenantry-projects-test")
        .header("X-Tenant-Slug", slug)
        .bearer_auth(token);
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    let resp = req.send().await.expect("request failed");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("body").to_vec();
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    Reply {
        status,
        headers,
        body,
        json,
    }
}

/// Requests with one tenant header and one bearer token.
pub struct As<'a> {
    pub app: &'a TestApp,
    pub slug: &'a str,
    pub token: &'a str,
}

impl As<'_> {
    pub async fn get(&self, path: &str) -> Reply {
        send(
            self.app,
            Method::GET,
            path,
            self.slug,
            self.token,
            None,
            &[],
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.post_with(path, body, &[]).await
    }

    pub async fn post_with(&self, path: &str, body: &Value, extra: &[(&str, &str)]) -> Reply {
        send(
            self.app,
            Method::POST,
            path,
            self.slug,
            self.token,
            Some(body),
            extra,
        )
        .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.patch_with(path, body, &[]).await
    }

    pub async fn patch_with(&self, path: &str, body: &Value, extra: &[(&str, &str)]) -> Reply {
        send(
            self.app,
            Method::PATCH,
            path,
            self.slug,
            self.token,
            Some(body),
            extra,
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.delete_with(path, &[]).await
    }

    pub async fn delete_with(&self, path: &str, extra: &[(&str, &str)]) -> Reply {
        send(
            self.app,
            Method::DELETE,
            path,
            self.slug,
            self.token,
            None,
            extra,
        )
        .await
    }
}

impl Workspace {
    /// Requests as the owner.
    pub fn owner<'a>(&'a self, app: &'a TestApp) -> As<'a> {
        self.as_user(app, &self.owner)
    }

    pub fn as_user<'a>(&'a self, app: &'a TestApp, user: &'a User) -> As<'a> {
        As {
            app,
            slug: &self.slug,
            token: &user.token,
        }
    }
}

async fn provisioning_status(app: &TestApp, slug: &str) -> Value {
    let resp = app
        .get(&format!("/api/v1/tenants/{slug}/provisioning"))
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn wait_ready(app: &TestApp, slug: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let v = provisioning_status(app, slug).await;
        if v["status"] == "ready" {
            return;
        }
        assert_ne!(v["status"], "failed", "{slug} failed to provision: {v}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "{slug} never became ready; last {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The plaintext token of the newest mailbox message of `kind` to `email`.
async fn mailbox_token(app: &TestApp, email: &str, kind: &str) -> String {
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

/// An access token from `POST /auth/login` with the tenant header.
pub async fn login(app: &TestApp, slug: &str, email: &str) -> String {
    let resp = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .header("X-Tenant-Slug", slug)
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "login {email} to {slug}");
    let v: Value = resp.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// Registers a tenant through the API, waits until it is provisioned, verifies the owner through the
/// mailbox and logs them in.
pub async fn workspace(app: &TestApp, prefix: &str) -> Workspace {
    let slug = unique(prefix);
    let email = format!("{}@example.com", unique("owner-"));
    let resp = app
        .post_json(
            "/api/v1/auth/register",
            &json!({
                "email": email,
                "password": PASSWORD,
                "full_name": "Grace Hopper",
                "tenant_name": "Compilers Inc",
                "tenant_slug": slug,
            }),
        )
        .await;
    assert_eq!(resp.status(), 202, "{}", resp.text().await.unwrap());
    let registered: Value = resp.json().await.unwrap();
    let user_id: Uuid = registered["user"]["id"].as_str().unwrap().parse().unwrap();
    wait_ready(app, &slug).await;

    let token = mailbox_token(app, &email, "verify_email").await;
    let resp = app
        .post_json("/api/v1/auth/verify-email", &json!({ "token": token }))
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    let id: Uuid = sqlx::query_scalar("SELECT id FROM public.tenants WHERE slug = $1")
        .bind(&slug)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let schema_name: String =
        sqlx::query_scalar("SELECT schema_name FROM public.tenants WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let access = login(app, &slug, &email).await;
    Workspace {
        id,
        slug,
        schema: SchemaName::parse(&schema_name).unwrap(),
        owner: User {
            id: user_id,
            token: access,
        },
    }
}

/// Another verified user, made an active member of `ws` directly (invites are not under test here),
/// logged in through the API.
pub async fn add_member(app: &TestApp, ws: &Workspace) -> User {
    let email = format!("{}@example.com", unique("member-"));
    let id = app.create_user(&email, PASSWORD, false).await.unwrap();
    sqlx::query(
        "INSERT INTO public.user_tenant_membership (user_id, tenant_id, role) VALUES ($1, $2, 'member')",
    )
    .bind(id)
    .bind(ws.id)
    .execute(&app.pool)
    .await
    .unwrap();
    let token = login(app, &ws.slug, &email).await;
    User { id, token }
}

/// Rows of the tenant's `projects` table, read the way the application reads them.
pub async fn project_count(app: &TestApp, ws: &Workspace) -> i64 {
    let mut tx = TenantTx::begin(&app.db, &ws.schema).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM projects")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    n
}

/// One audit row as the tests look at it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub tenant_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub entity_type: String,
    pub entity_id: Option<Uuid>,
    pub changes: Option<Value>,
    pub request_id: Option<String>,
    pub status: String,
    pub user_agent: Option<String>,
}

/// Audit rows of `action` about `entity_id`, oldest first.
pub async fn audit_rows(app: &TestApp, action: &str, entity_id: Uuid) -> Vec<AuditRow> {
    sqlx::query_as(
        "SELECT tenant_id, user_id, entity_type, entity_id, changes, request_id, status, user_agent \
         FROM public.audit_logs WHERE action = $1 AND entity_id = $2 ORDER BY created_at, id",
    )
    .bind(action)
    .bind(entity_id)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// Every audit row of `action` in tenant `tenant_id`.
pub async fn audit_count(app: &TestApp, action: &str, tenant_id: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM public.audit_logs WHERE action = $1 AND tenant_id = $2",
    )
    .bind(action)
    .bind(tenant_id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// RFC 3339, UTC, `Z`, exactly six fractional digits (api.md §0.1).
pub fn is_api_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 27
        && b[26] == b'Z'
        && b[19] == b'.'
        && b[20..26].iter().all(u8::is_ascii_digit)
        && time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}
