//! The isolation matrix (issue 5): for every tenant-scoped endpoint, a member of tenant A using A's token
//! with B's header, B's token with A's header, or A's token against B's resource ids gets the specified
//! 403/404, never B's data; the audit entity history never returns another tenant's rows.

use reqwest::Method;
use serde_json::{Value, json};
use tenantry_testkit::TestApp;

use crate::projects_support::*;

/// Every tenant-scoped endpoint, with a body where it needs one. `{project}`, `{member}` and `{invite}`
/// are filled with the ids of the tenant under attack.
fn endpoints() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/api/v1/users/me", None),
        (
            Method::PATCH,
            "/api/v1/users/me",
            Some(json!({"full_name": "Mallory"})),
        ),
        (Method::GET, "/api/v1/members", None),
        (
            Method::PATCH,
            "/api/v1/members/{member}",
            Some(json!({"role": "admin"})),
        ),
        (Method::DELETE, "/api/v1/members/{member}", None),
        (
            Method::POST,
            "/api/v1/invites",
            Some(json!({"email": "mallory@example.com"})),
        ),
        (Method::GET, "/api/v1/invites", None),
        (Method::GET, "/api/v1/invites/{invite}", None),
        (Method::PUT, "/api/v1/invites/{invite}", None),
        (Method::DELETE, "/api/v1/invites/{invite}", None),
        (Method::GET, "/api/v1/projects", None),
        (
            Method::POST,
            "/api/v1/projects",
            Some(json!({"name": "mallory"})),
        ),
        (Method::GET, "/api/v1/projects/{project}", None),
        (
            Method::PATCH,
            "/api/v1/projects/{project}",
            Some(json!({"name": "stolen"})),
        ),
        (Method::DELETE, "/api/v1/projects/{project}", None),
        (Method::GET, "/api/v1/audit/logs", None),
        (
            Method::GET,
            "/api/v1/audit/logs/entity/project/{project}",
            None,
        ),
    ]
}

struct Ids {
    project: String,
    member: String,
    invite: String,
}

fn fill(path: &str, ids: &Ids) -> String {
    path.replace("{project}", &ids.project)
        .replace("{member}", &ids.member)
        .replace("{invite}", &ids.invite)
}

/// A project, a second member and a pending invite in `ws`.
async fn seed(app: &TestApp, ws: &Workspace) -> Ids {
    let owner = ws.owner(app);
    let project = owner
        .post(
            "/api/v1/projects",
            &json!({"name": format!("secret plans of {}", ws.slug)}),
        )
        .await;
    assert_eq!(project.status, 201, "{:?}", project.json);
    let member = add_member(app, ws).await;
    let invite = owner
        .post(
            "/api/v1/invites",
            &json!({"email": format!("{}@example.com", unique("guest-"))}),
        )
        .await;
    assert_eq!(invite.status, 201, "{:?}", invite.json);
    Ids {
        project: project.json["id"].as_str().unwrap().to_owned(),
        member: member.id.to_string(),
        invite: invite.json["id"].as_str().unwrap().to_owned(),
    }
}

async fn snapshot(app: &TestApp, ws: &Workspace) -> Value {
    let owner = ws.owner(app);
    json!({
        "projects": owner.get("/api/v1/projects").await.json["items"],
        "members": owner.get("/api/v1/members").await.json["items"],
        "invites": owner.get("/api/v1/invites?status=all").await.json["items"],
    })
}

#[tokio::test]
async fn no_request_crosses_from_one_tenant_into_another() {
    let app = TestApp::spawn().await.unwrap();
    let a = workspace(&app, "iso-a-").await;
    let b = workspace(&app, "iso-b-").await;
    let a_ids = seed(&app, &a).await;
    let b_ids = seed(&app, &b).await;
    let b_before = snapshot(&app, &b).await;
    let b_secret = b_ids.project.clone();
    let b_secret_name = format!("secret plans of {}", b.slug);

    for (method, template, body) in endpoints() {
        // A's token with B's header, and B's token with A's header.
        for (slug, token, ids) in [
            (&b.slug, &a.owner.token, &b_ids),
            (&a.slug, &b.owner.token, &a_ids),
        ] {
            let path = fill(template, ids);
            let r = send(&app, method.clone(), &path, slug, token, body.as_ref(), &[]).await;
            assert_eq!(r.status, 403, "{method} {path}: {:?}", r.json);
            assert_eq!(
                r.detail(),
                "Token tenant does not match request tenant",
                "{method} {path}"
            );
        }
        // A's token and header against B's resource ids.
        let path = fill(template, &b_ids);
        let r = send(
            &app,
            method.clone(),
            &path,
            &a.slug,
            &a.owner.token,
            body.as_ref(),
            &[],
        )
        .await;
        let text = String::from_utf8_lossy(&r.body).to_string();
        for secret in [&b_secret_name, &b.slug, &b_ids.member, &b_ids.invite] {
            assert!(
                !text.contains(secret.as_str()),
                "{method} {path} leaked {secret}: {text}"
            );
        }
        if template.contains("{project}") && !template.contains("audit") {
            assert_eq!(r.status, 404, "{method} {path}");
            assert_eq!(r.detail(), format!("Project {b_secret} not found"));
        } else if template.contains("{member}") {
            assert_eq!(r.status, 404, "{method} {path}");
            assert_eq!(r.detail(), "Member not found");
        } else if template.contains("{invite}") {
            assert_eq!(r.status, 404, "{method} {path}");
            assert_eq!(r.detail(), "Invite not found");
        } else if template.contains("audit/logs/entity") {
            assert_eq!(r.status, 200, "{method} {path}");
            assert_eq!(
                r.json["items"],
                json!([]),
                "B's project history is not A's to read"
            );
        }
    }
    // Deleting B through A's header is refused before anything happens.
    let r = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/tenants/{}", b.slug),
        &a.slug,
        &a.owner.token,
        Some(&json!({"password": PASSWORD, "confirm": b.slug})),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.detail(), "Path slug does not match X-Tenant-Slug");

    // B is exactly as it was, and A's audit log holds only A's rows.
    assert_eq!(snapshot(&app, &b).await, b_before);
    let logs = a.owner(&app).get("/api/v1/audit/logs?limit=100").await;
    assert_eq!(logs.status, 200);
    let items = logs.json["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for row in items {
        assert_eq!(row["tenant_id"], a.id.to_string(), "{row}");
    }
    let history = b
        .owner(&app)
        .get(&format!(
            "/api/v1/audit/logs/entity/project/{}",
            b_ids.project
        ))
        .await;
    assert_eq!(
        history.json["items"].as_array().unwrap().len(),
        1,
        "B sees its own history"
    );
    app.shutdown().await;
}
