//! Every action of api.md §6 is written by the request that causes it, with its entity type, tenant and
//! the request's `X-Request-ID`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tenantry_testkit::TestApp;
use uuid::Uuid;

use crate::projects_support::{PASSWORD, unique};

const NEW_PASSWORD: &str = "quartz-Meadow-71-compass";
const RESET_PASSWORD: &str = "amber-Lighthouse-58-violin";

struct Client<'a> {
    app: &'a TestApp,
}

impl Client<'_> {
    /// One request carrying the request id `rid`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        slug: Option<&str>,
        token: Option<&str>,
        body: Option<Value>,
        rid: &str,
    ) -> (u16, Value) {
        let mut req = self
            .app
            .http
            .request(method, self.app.url(path))
            .header("X-Request-ID", rid);
        if let Some(slug) = slug {
            req = req.header("X-Tenant-Slug", slug);
        }
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn mailbox_token(&self, email: &str, kind: &str) -> String {
        let v: Value = self
            .app
            .get(&format!("/dev/mailbox?to={email}&limit=50"))
            .await
            .json()
            .await
            .unwrap();
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kind"] == kind)
            .and_then(|m| m["token"].as_str())
            .unwrap_or_else(|| panic!("no {kind} for {email}: {v}"))
            .to_owned()
    }

    async fn login(&self, slug: &str, email: &str, password: &str, rid: &str) -> (String, String) {
        let (status, v) = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                Some(slug),
                None,
                Some(json!({"email": email, "password": password})),
                rid,
            )
            .await;
        assert_eq!(status, 200, "{v}");
        (
            v["access_token"].as_str().unwrap().to_owned(),
            v["refresh_token"].as_str().unwrap().to_owned(),
        )
    }
}

async fn wait_ready(app: &TestApp, slug: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let v: Value = app
            .get(&format!("/api/v1/tenants/{slug}/provisioning"))
            .await
            .json()
            .await
            .unwrap();
        if v["status"] == "ready" {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{slug}: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_audit_action_is_written_with_its_entity_tenant_and_request_id() {
    let app = TestApp::spawn().await.unwrap();
    let c = Client { app: &app };
    let run = unique("");
    let rid = |name: &str| format!("audit-{name}-{run}");
    let slug = unique("audit-");
    let email = format!("{}@example.com", unique("owner-"));

    let (status, v) = c
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            None,
            Some(
                json!({"email": email, "password": PASSWORD, "full_name": "Owner",
                        "tenant_name": "Audited", "tenant_slug": slug}),
            ),
            &rid("register"),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    wait_ready(&app, &slug).await;
    let tenant: Uuid = sqlx::query_scalar("SELECT id FROM public.tenants WHERE slug = $1")
        .bind(&slug)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let token = c.mailbox_token(&email, "verify_email").await;
    let (status, _) = c
        .call(
            Method::POST,
            "/api/v1/auth/verify-email",
            None,
            None,
            Some(json!({"token": token})),
            &rid("verify"),
        )
        .await;
    assert_eq!(status, 200);

    // Sessions: login, a failed refresh, reuse of a rotated token, logout, revoking another session.
    let (_, first) = c.login(&slug, &email, PASSWORD, &rid("login")).await;
    let refresh = |token: String, name: &'static str| {
        let c = &c;
        let slug = slug.clone();
        let r = rid(name);
        async move {
            c.call(
                Method::POST,
                "/api/v1/auth/refresh",
                Some(&slug),
                None,
                Some(json!({"refresh_token": token})),
                &r,
            )
            .await
        }
    };
    assert_eq!(refresh("garbage".into(), "refresh-fail").await.0, 401);
    let (_, v) = refresh(first.clone(), "rotate-1").await;
    let second = v["refresh_token"].as_str().unwrap().to_owned();
    let (status, _) = refresh(second, "rotate-2").await;
    assert_eq!(status, 200);
    assert_eq!(refresh(first, "reuse").await.0, 401);
    let (_, doomed) = c.login(&slug, &email, PASSWORD, &rid("login-2")).await;
    let (status, _) = c
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&slug),
            None,
            Some(json!({"refresh_token": doomed})),
            &rid("logout"),
        )
        .await;
    assert_eq!(status, 204);
    let (access, _) = c.login(&slug, &email, PASSWORD, &rid("login-3")).await;
    let (other_access, _) = c.login(&slug, &email, PASSWORD, &rid("login-4")).await;
    let (_, sessions) = c
        .call(
            Method::GET,
            "/api/v1/users/me/sessions",
            None,
            Some(&access),
            None,
            &rid("list"),
        )
        .await;
    let other_sid = sessions["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["id"].as_str())
        .unwrap()
        .to_owned();
    let (status, _) = c
        .call(
            Method::DELETE,
            &format!("/api/v1/users/me/sessions/{other_sid}"),
            None,
            Some(&access),
            None,
            &rid("session-revoke"),
        )
        .await;
    assert_eq!(status, 204);
    drop(other_access);

    // Profile and passwords.
    let (status, _) = c
        .call(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&slug),
            Some(&access),
            Some(json!({"full_name": "Owner Two"})),
            &rid("update"),
        )
        .await;
    assert_eq!(status, 200);
    let (status, v) = c
        .call(
            Method::POST,
            "/api/v1/users/me/password",
            None,
            Some(&access),
            Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
            &rid("password-change"),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, _) = c
        .call(
            Method::POST,
            "/api/v1/auth/forgot-password",
            None,
            None,
            Some(json!({"email": email})),
            &rid("forgot"),
        )
        .await;
    assert_eq!(status, 200);
    let reset_token = c.mailbox_token(&email, "password_reset").await;
    let (status, _) = c
        .call(
            Method::POST,
            "/api/v1/auth/reset-password",
            None,
            None,
            Some(json!({"token": reset_token, "new_password": RESET_PASSWORD})),
            &rid("reset"),
        )
        .await;
    assert_eq!(status, 200);
    c.login(&slug, &email, RESET_PASSWORD, &rid("login-5"))
        .await;
    let (spare, _) = c
        .login(&slug, &email, RESET_PASSWORD, &rid("login-6"))
        .await;
    let (status, _) = c
        .call(
            Method::POST,
            "/api/v1/auth/logout-all",
            None,
            Some(&spare),
            None,
            &rid("logout-all"),
        )
        .await;
    assert_eq!(status, 204);
    let (access, _) = c
        .login(&slug, &email, RESET_PASSWORD, &rid("login-7"))
        .await;

    // Invites and members.
    let guest = format!("{}@example.com", unique("guest-"));
    let (status, v) = c
        .call(
            Method::POST,
            "/api/v1/invites",
            Some(&slug),
            Some(&access),
            Some(json!({"email": guest})),
            &rid("invite-create"),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let invite_id = v["id"].as_str().unwrap().to_owned();
    let (status, v) = c
        .call(
            Method::PUT,
            &format!("/api/v1/invites/{invite_id}"),
            Some(&slug),
            Some(&access),
            None,
            &rid("invite-resend"),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let resent = v["id"].as_str().unwrap().to_owned();
    let (status, _) = c
        .call(
            Method::DELETE,
            &format!("/api/v1/invites/{resent}"),
            Some(&slug),
            Some(&access),
            None,
            &rid("invite-cancel"),
        )
        .await;
    assert_eq!(status, 200);
    c.call(
        Method::POST,
        "/api/v1/invites",
        Some(&slug),
        Some(&access),
        Some(json!({"email": guest})),
        &rid("invite-create-2"),
    )
    .await;
    let invite_token = c.mailbox_token(&guest, "invite").await;
    let (status, v) = c
        .call(
            Method::POST,
            &format!("/api/v1/invites/t/{invite_token}/accept"),
            None,
            None,
            Some(json!({"email": guest, "password": PASSWORD, "full_name": "Guest"})),
            &rid("invite-accept"),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let guest_id = v["user_id"].as_str().unwrap().to_owned();
    let member = format!("/api/v1/members/{guest_id}");
    for (body, name) in [
        (json!({"role": "admin"}), "role-change"),
        (json!({"is_active": false}), "deactivate"),
        (json!({"is_active": true}), "activate"),
    ] {
        let (status, v) = c
            .call(
                Method::PATCH,
                &member,
                Some(&slug),
                Some(&access),
                Some(body),
                &rid(name),
            )
            .await;
        assert_eq!(status, 200, "{name}: {v}");
    }
    let (status, _) = c
        .call(
            Method::DELETE,
            &member,
            Some(&slug),
            Some(&access),
            None,
            &rid("member-remove"),
        )
        .await;
    assert_eq!(status, 204);

    // Projects.
    let (status, v) = c
        .call(
            Method::POST,
            "/api/v1/projects",
            Some(&slug),
            Some(&access),
            Some(json!({"name": "audited"})),
            &rid("project-create"),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let project = format!("/api/v1/projects/{}", v["id"].as_str().unwrap());
    let (status, _) = c
        .call(
            Method::PATCH,
            &project,
            Some(&slug),
            Some(&access),
            Some(json!({"description": "now described"})),
            &rid("project-update"),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = c
        .call(
            Method::DELETE,
            &project,
            Some(&slug),
            Some(&access),
            None,
            &rid("project-delete"),
        )
        .await;
    assert_eq!(status, 204);

    // Superuser: a tenant created by an operator, an assumed identity.
    let root = format!("{}@example.com", unique("root-"));
    let root_id = app.create_user(&root, PASSWORD, true).await.unwrap();
    let (_, root_token) = app.session_token(root_id, None).await.unwrap();
    let admin_slug = unique("audit-admin-");
    let (status, v) = c
        .call(
            Method::POST,
            "/api/v1/tenants",
            None,
            Some(&root_token),
            Some(json!({"name": "Operated", "slug": admin_slug})),
            &rid("tenant-create"),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    let owner_id: Uuid = sqlx::query_scalar("SELECT id FROM public.users WHERE email = $1")
        .bind(&email)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let (status, v) = c
        .call(Method::POST, "/api/v1/admin/assume-identity", None, Some(&root_token),
              Some(json!({"target_user_id": owner_id, "tenant_id": tenant, "reason": "support ticket"})), &rid("assume"))
        .await;
    assert_eq!(status, 200, "{v}");

    // Last, the owner deletes the tenant.
    let (status, v) = c
        .call(
            Method::DELETE,
            &format!("/api/v1/tenants/{slug}"),
            Some(&slug),
            Some(&access),
            Some(json!({"password": RESET_PASSWORD, "confirm": slug})),
            &rid("tenant-delete"),
        )
        .await;
    assert_eq!(status, 202, "{v}");

    let admin_tenant: Uuid = sqlx::query_scalar("SELECT id FROM public.tenants WHERE slug = $1")
        .bind(&admin_slug)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let t = Some(tenant);
    let expected: Vec<(&str, &str, Option<Uuid>, &str, &str)> = vec![
        ("user.register", "user", t, "register", "success"),
        ("user.email_verify", "user", t, "verify", "success"),
        ("user.login", "user", t, "login", "success"),
        ("token.refresh", "token", t, "refresh-fail", "failure"),
        ("token.reuse_detected", "session", t, "reuse", "success"),
        ("user.logout", "session", t, "logout", "success"),
        ("session.revoke", "session", t, "session-revoke", "success"),
        ("user.update", "user", t, "update", "success"),
        (
            "password.change",
            "user",
            None,
            "password-change",
            "success",
        ),
        ("password.reset_request", "user", None, "forgot", "success"),
        ("password.reset", "user", None, "reset", "success"),
        ("user.logout_all", "user", None, "logout-all", "success"),
        ("invite.create", "invite", t, "invite-create", "success"),
        ("invite.resend", "invite", t, "invite-resend", "success"),
        ("invite.cancel", "invite", t, "invite-cancel", "success"),
        ("invite.accept", "invite", t, "invite-accept", "success"),
        (
            "member.role_change",
            "membership",
            t,
            "role-change",
            "success",
        ),
        (
            "member.deactivate",
            "membership",
            t,
            "deactivate",
            "success",
        ),
        ("member.activate", "membership", t, "activate", "success"),
        ("member.remove", "membership", t, "member-remove", "success"),
        ("project.create", "project", t, "project-create", "success"),
        ("project.update", "project", t, "project-update", "success"),
        ("project.delete", "project", t, "project-delete", "success"),
        (
            "tenant.create",
            "tenant",
            Some(admin_tenant),
            "tenant-create",
            "success",
        ),
        ("identity.assumed", "user", t, "assume", "success"),
        ("tenant.delete", "tenant", t, "tenant-delete", "success"),
    ];
    for (action, entity_type, tenant_id, name, status) in &expected {
        let rows: Vec<(String, Option<Uuid>, String, Option<String>)> = sqlx::query_as(
            "SELECT entity_type, tenant_id, status, user_agent FROM public.audit_logs WHERE action = $1 AND request_id = $2",
        )
        .bind(action)
        .bind(rid(name))
        .fetch_all(&app.pool)
        .await
        .unwrap();
        assert_eq!(rows.len(), 1, "{action} with request id {}", rid(name));
        let (et, tid, st, _) = &rows[0];
        assert_eq!(
            (et.as_str(), tid, st.as_str()),
            (*entity_type, tenant_id, *status),
            "{action}"
        );
    }
    // The catalogue covers every action the domain knows.
    let known: Vec<&str> = tenantry_domain::AuditAction::NAMES.to_vec();
    let mut covered: Vec<&str> = expected.iter().map(|e| e.0).collect();
    covered.sort_unstable();
    let mut known_sorted = known.clone();
    known_sorted.sort_unstable();
    assert_eq!(covered, known_sorted);
    app.shutdown().await;
}
