//! Projects (api.md §5.6) against the real services: tenant-schema rows through `TenantTx`, keyset
//! pagination (§0.5), `Idempotency-Key` (§0.6), audit rows (§6) and tenant isolation.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};
use tenantry_store::TenantTx;
use tenantry_testkit::TestApp;
use time::macros::datetime;
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::projects_support::*;

const PROJECTS: &str = "/api/v1/projects";

fn project_path(id: &str) -> String {
    format!("{PROJECTS}/{id}")
}

fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn assert_project_shape(v: &Value) {
    assert_eq!(
        keys(v),
        vec!["created_at", "description", "id", "name", "updated_at"],
        "{v}"
    );
    let id: Uuid = v["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(id.get_version_num(), 7, "ids are UUIDv7");
    assert_eq!(v["id"].as_str().unwrap(), id.hyphenated().to_string());
    assert!(is_api_timestamp(v["created_at"].as_str().unwrap()), "{v}");
    assert!(is_api_timestamp(v["updated_at"].as_str().unwrap()), "{v}");
}

fn one_error(r: &Reply, field: &str, code: &str, message: &str) {
    assert_eq!(r.status, 422, "{}", r.json);
    assert_eq!(
        r.field_errors(),
        vec![(field.to_owned(), code.to_owned(), message.to_owned())],
        "{}",
        r.json
    );
    assert_eq!(r.detail(), format!("{field}: {message}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_creates_of_one_name_give_one_201_and_nineteen_409s() {
    let app = Arc::new(TestApp::spawn().await.unwrap());
    let ws = Arc::new(workspace(&app, "race-").await);
    let barrier = Arc::new(Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, ws, barrier) = (app.clone(), ws.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            ws.owner(&app)
                .post(PROJECTS, &json!({ "name": "  Apollo  " }))
                .await
        }));
    }
    let mut created = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        let r = task.await.unwrap();
        match r.status {
            201 => created.push(r),
            409 => {
                assert_eq!(r.detail(), "Project with name 'Apollo' already exists");
                assert_eq!(
                    r.json["request_id"].as_str(),
                    r.header("x-request-id"),
                    "error body carries the request id"
                );
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {}", r.json),
        }
    }
    assert_eq!(created.len(), 1, "exactly one create wins");
    assert_eq!(conflicts, 19);
    assert_eq!(created[0].json["name"], "Apollo");
    assert_eq!(project_count(&app, &ws).await, 1);
    assert_eq!(audit_count(&app, "project.create", ws.id).await, 1);

    let list = ws.owner(&app).get(PROJECTS).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.json["items"][0], created[0].json);

    let app = Arc::into_inner(app).unwrap();
    app.shutdown().await;
}

/// Walks every page at `limit`; returns the ids in the order served.
async fn walk(app: &TestApp, ws: &Workspace, limit: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("{PROJECTS}?limit={limit}&cursor={c}"),
            None => format!("{PROJECTS}?limit={limit}"),
        };
        let r = ws.owner(app).get(&path).await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(keys(&r.json), vec!["has_more", "items", "next_cursor"]);
        pages += 1;
        let items = r.json["items"].as_array().unwrap();
        let has_more = r.json["has_more"].as_bool().unwrap();
        assert_eq!(
            has_more,
            !r.json["next_cursor"].is_null(),
            "next_cursor is non-null exactly when has_more"
        );
        if has_more {
            assert_eq!(items.len(), limit, "only the last page is short");
        } else {
            assert!(items.len() <= limit);
        }
        ids.extend(
            items
                .iter()
                .map(|p| p["id"].as_str().unwrap().parse::<Uuid>().unwrap()),
        );
        if !has_more {
            break;
        }
        cursor = r.json["next_cursor"].as_str().map(str::to_owned);
        assert!(pages < 1000, "pagination does not end");
    }
    assert_eq!(pages, 250usize.div_ceil(limit), "pages at limit {limit}");
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_over_identical_timestamps_return_every_project_exactly_once() {
    let app = TestApp::spawn().await.unwrap();
    let ws = workspace(&app, "pages-").await;
    let at = datetime!(2025-03-01 09:30:00.123456 UTC);
    let mut inserted: Vec<Uuid> = (0..250).map(|_| Uuid::now_v7()).collect();
    let mut tx = TenantTx::begin(&app.db, &ws.schema).await.unwrap();
    for (i, id) in inserted.iter().enumerate() {
        sqlx::query(
            "INSERT INTO projects (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)",
        )
        .bind(id)
        .bind(format!("Project {i:03}"))
        .bind(at)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    // Newest first by (created_at, id): with one timestamp, by id descending.
    inserted.sort_unstable_by(|a, b| b.cmp(a));

    for limit in [100, 7] {
        let served = walk(&app, &ws, limit).await;
        let distinct: HashSet<Uuid> = served.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            served.len(),
            "no project repeated at {limit}"
        );
        assert_eq!(
            served, inserted,
            "every project once, in keyset order, at {limit}"
        );
    }

    // Default limit 50.
    let first = ws.owner(&app).get(PROJECTS).await;
    assert_eq!(first.json["items"].as_array().unwrap().len(), 50);
    assert_eq!(first.json["has_more"], true);
    assert_eq!(
        first.json["items"][0]["created_at"],
        "2025-03-01T09:30:00.123456Z"
    );

    // A cursor that was edited does not decode to a keyset.
    let cursor = first.json["next_cursor"].as_str().unwrap().to_owned();
    let mut chars: Vec<char> = cursor.chars().collect();
    chars[6] = if chars[6] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    for bad in [tampered.as_str(), "not-a-cursor", &cursor[1..]] {
        let r = ws
            .owner(&app)
            .get(&format!("{PROJECTS}?cursor={bad}"))
            .await;
        one_error(&r, "cursor", "invalid_cursor", "Invalid cursor");
    }
    // The untouched cursor still works.
    let second = ws
        .owner(&app)
        .get(&format!("{PROJECTS}?cursor={cursor}"))
        .await;
    assert_eq!(second.status, 200);
    assert_eq!(second.json["items"][0]["id"], inserted[50].to_string());

    for (limit, code, message) in [
        ("0", "out_of_range", "Must be between 1 and 100"),
        ("101", "out_of_range", "Must be between 1 and 100"),
        ("-1", "out_of_range", "Must be between 1 and 100"),
        ("abc", "type", "Expected integer"),
    ] {
        let r = ws
            .owner(&app)
            .get(&format!("{PROJECTS}?limit={limit}"))
            .await;
        one_error(&r, "limit", code, message);
    }
    // Both problems at once are both reported.
    let r = ws
        .owner(&app)
        .get(&format!("{PROJECTS}?limit=0&cursor=junk"))
        .await;
    assert_eq!(r.status, 422);
    let fields: Vec<String> = r.field_errors().into_iter().map(|e| e.0).collect();
    assert_eq!(fields, vec!["limit", "cursor"]);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_patch_delete_round_trip_with_exact_shapes_and_audit_rows() {
    let app = TestApp::spawn().await.unwrap();
    let ws = workspace(&app, "crud-").await;
    let me = ws.owner(&app);

    // Create: trimmed fields, 201, Location, exact shape.
    let created = me
        .post_with(
            PROJECTS,
            &json!({ "name": "  Apollo ", "description": "  Moon shot  ", "ignored": 1 }),
            &[("X-Request-ID", "req-create-1")],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_project_shape(&created.json);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let uuid: Uuid = id.parse().unwrap();
    assert_eq!(created.header("location"), Some(project_path(&id).as_str()));
    assert_eq!(created.json["name"], "Apollo");
    assert_eq!(created.json["description"], "Moon shot");
    assert_eq!(created.json["created_at"], created.json["updated_at"]);
    assert_eq!(created.header("idempotency-replayed"), None);

    let audit = audit_rows(&app, "project.create", uuid).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].tenant_id, Some(ws.id));
    assert_eq!(audit[0].user_id, Some(ws.owner.id));
    assert_eq!(audit[0].entity_type, "project");
    assert_eq!(audit[0].entity_id, Some(uuid));
    assert_eq!(audit[0].request_id.as_deref(), Some("req-create-1"));
    assert_eq!(audit[0].status, "success");
    assert_eq!(
        audit[0].user_agent.as_deref(),
        Some("tenantry-projects-test")
    );
    assert_eq!(
        audit[0].changes,
        Some(json!({ "name": "Apollo", "description": "Moon shot" }))
    );

    // Without a description, and with an empty one: null.
    let bare = me.post(PROJECTS, &json!({ "name": "Bare" })).await;
    assert_eq!(bare.status, 201);
    assert_eq!(bare.json["description"], Value::Null);
    let blank = me
        .post(PROJECTS, &json!({ "name": "Blank", "description": "   " }))
        .await;
    assert_eq!(blank.status, 201);
    assert_eq!(blank.json["description"], Value::Null);
    // Names are case-sensitive.
    let lower = me.post(PROJECTS, &json!({ "name": "apollo" })).await;
    assert_eq!(lower.status, 201, "{}", lower.json);

    // Create validation.
    let r = me.post(PROJECTS, &json!({ "name": " \t " })).await;
    one_error(
        &r,
        "name",
        "too_short",
        "Project name cannot be empty or whitespace only",
    );
    let r = me.post(PROJECTS, &json!({ "name": "x".repeat(201) })).await;
    one_error(&r, "name", "too_long", "Must be at most 200 characters");
    let r = me
        .post(
            PROJECTS,
            &json!({ "name": "Long", "description": "d".repeat(1001) }),
        )
        .await;
    one_error(
        &r,
        "description",
        "too_long",
        "Must be at most 1000 characters",
    );
    let r = me
        .post(PROJECTS, &json!({ "description": "no name" }))
        .await;
    one_error(&r, "name", "missing", "Field required");
    let r = me.post(PROJECTS, &json!({ "name": null })).await;
    one_error(&r, "name", "null", "Must not be null");
    let r = me
        .post(PROJECTS, &json!({ "name": 5, "description": 6 }))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.field_errors(),
        vec![
            ("name".into(), "type".into(), "Expected string".into()),
            (
                "description".into(),
                "type".into(),
                "Expected string".into()
            ),
        ]
    );
    let r = me.post(PROJECTS, &json!({ "name": "Apollo" })).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.detail(), "Project with name 'Apollo' already exists");

    // Get.
    let got = me.get(&project_path(&id)).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json, created.json);

    // Renaming to its own name is fine and changes nothing.
    let same = me
        .patch_with(
            &project_path(&id),
            &json!({ "name": " Apollo " }),
            &[("X-Request-ID", "req-noop")],
        )
        .await;
    assert_eq!(same.status, 200, "{}", same.json);
    assert_eq!(same.json, created.json);
    assert!(audit_rows(&app, "project.update", uuid).await.is_empty());

    // Renaming to another project's name is a 409 and changes nothing.
    let taken = me
        .patch(&project_path(&id), &json!({ "name": "Bare" }))
        .await;
    assert_eq!(taken.status, 409);
    assert_eq!(taken.detail(), "Project with name 'Bare' already exists");
    assert_eq!(me.get(&project_path(&id)).await.json, created.json);

    // Rename: description untouched, updated_at moves, one audit row with before/after.
    let renamed = me
        .patch_with(
            &project_path(&id),
            &json!({ "name": "Artemis" }),
            &[("X-Request-ID", "req-update-1")],
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.json);
    assert_project_shape(&renamed.json);
    assert_eq!(renamed.json["id"], id.as_str());
    assert_eq!(renamed.json["name"], "Artemis");
    assert_eq!(renamed.json["description"], "Moon shot");
    assert_eq!(renamed.json["created_at"], created.json["created_at"]);
    assert!(
        renamed.json["updated_at"].as_str().unwrap() > created.json["updated_at"].as_str().unwrap()
    );
    let updates = audit_rows(&app, "project.update", uuid).await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].tenant_id, Some(ws.id));
    assert_eq!(updates[0].user_id, Some(ws.owner.id));
    assert_eq!(updates[0].entity_type, "project");
    assert_eq!(updates[0].request_id.as_deref(), Some("req-update-1"));
    assert_eq!(
        updates[0].changes,
        Some(json!({ "before": { "name": "Apollo" }, "after": { "name": "Artemis" } }))
    );
    // The old name is free again.
    assert_eq!(
        me.post(PROJECTS, &json!({ "name": "Apollo" })).await.status,
        201
    );

    // Description: trimmed when set; null and whitespace clear it; name untouched.
    let described = me
        .patch(&project_path(&id), &json!({ "description": "  Lunar  " }))
        .await;
    assert_eq!(described.json["description"], "Lunar");
    assert_eq!(described.json["name"], "Artemis");
    let cleared = me
        .patch(&project_path(&id), &json!({ "description": null }))
        .await;
    assert_eq!(cleared.status, 200);
    assert_eq!(cleared.json["description"], Value::Null);
    assert_eq!(cleared.json["name"], "Artemis");
    me.patch(&project_path(&id), &json!({ "description": "Again" }))
        .await;
    let whitespace = me
        .patch(&project_path(&id), &json!({ "description": " \n " }))
        .await;
    assert_eq!(whitespace.status, 200);
    assert_eq!(whitespace.json["description"], Value::Null);
    let updates = audit_rows(&app, "project.update", uuid).await;
    assert_eq!(updates.len(), 5, "one row per effective change");
    assert_eq!(
        updates[2].changes,
        Some(json!({ "before": { "description": "Lunar" }, "after": { "description": null } }))
    );

    // PATCH validation: nothing is written.
    let r = me.patch(&project_path(&id), &json!({ "name": null })).await;
    one_error(&r, "name", "null", "Must not be null");
    let r = me
        .patch(&project_path(&id), &json!({ "name": "   " }))
        .await;
    one_error(
        &r,
        "name",
        "too_short",
        "Project name cannot be empty or whitespace only",
    );
    let r = me
        .patch(&project_path(&id), &json!({ "name": "x".repeat(201) }))
        .await;
    one_error(&r, "name", "too_long", "Must be at most 200 characters");
    let r = me
        .patch(&project_path(&id), &json!({ "description": 3 }))
        .await;
    one_error(&r, "description", "type", "Expected string");
    let current = me.get(&project_path(&id)).await;
    assert_eq!(current.json, whitespace.json);

    // Invalid ids in the path.
    for r in [
        me.get(&project_path("not-a-uuid")).await,
        me.patch(&project_path("not-a-uuid"), &json!({ "name": "X" }))
            .await,
        me.delete(&project_path("not-a-uuid")).await,
    ] {
        one_error(&r, "project_id", "invalid_format", "Invalid UUID");
    }
    // The path is judged before the body.
    let r = send(
        &app,
        reqwest::Method::PATCH,
        &project_path("not-a-uuid"),
        &ws.slug,
        &ws.owner.token,
        None,
        &[],
    )
    .await;
    one_error(&r, "project_id", "invalid_format", "Invalid UUID");
    let r = send(
        &app,
        reqwest::Method::PATCH,
        &project_path(&id),
        &ws.slug,
        &ws.owner.token,
        None,
        &[],
    )
    .await;
    one_error(&r, "body", "missing", "Request body is required");

    // Delete: 204 with an empty body, then 404 everywhere.
    let deleted = me
        .delete_with(&project_path(&id), &[("X-Request-ID", "req-delete-1")])
        .await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    let deletes = audit_rows(&app, "project.delete", uuid).await;
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].tenant_id, Some(ws.id));
    assert_eq!(deletes[0].user_id, Some(ws.owner.id));
    assert_eq!(deletes[0].entity_type, "project");
    assert_eq!(deletes[0].request_id.as_deref(), Some("req-delete-1"));
    let gone = format!("Project {id} not found");
    for r in [
        me.get(&project_path(&id)).await,
        me.patch(&project_path(&id), &json!({ "name": "Zombie" }))
            .await,
        me.delete(&project_path(&id)).await,
    ] {
        assert_eq!(r.status, 404, "{}", r.json);
        assert_eq!(r.detail(), gone);
    }
    assert_eq!(
        audit_rows(&app, "project.delete", uuid).await.len(),
        1,
        "a failed delete writes no audit row"
    );
    let unknown = Uuid::now_v7();
    let r = me.get(&project_path(&unknown.to_string())).await;
    assert_eq!(r.detail(), format!("Project {unknown} not found"));

    let listed: Vec<String> = me.get(PROJECTS).await.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, vec!["Apollo", "apollo", "Blank", "Bare"]);
    assert_eq!(project_count(&app, &ws).await, 4);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_referenced_project_is_a_409_and_keeps_it() {
    let app = TestApp::spawn().await.unwrap();
    let ws = workspace(&app, "refs-").await;
    let me = ws.owner(&app);
    let created = me.post(PROJECTS, &json!({ "name": "Kept" })).await;
    let id = created.json["id"].as_str().unwrap().to_owned();
    // Later tenant tables will reference projects; one stands in for them here.
    let mut tx = TenantTx::begin(&app.db, &ws.schema).await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE TABLE tasks (id uuid PRIMARY KEY, project_id uuid NOT NULL REFERENCES projects (id)); \
         INSERT INTO tasks (id, project_id) VALUES ('{}', '{id}');",
        Uuid::now_v7()
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let r = me.delete(&project_path(&id)).await;
    assert_eq!(r.status, 409, "{}", r.json);
    assert_eq!(
        r.detail(),
        "Cannot delete project due to existing references"
    );
    assert_eq!(me.get(&project_path(&id)).await.status, 200);
    assert!(
        audit_rows(&app, "project.delete", id.parse().unwrap())
            .await
            .is_empty()
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_replays_a_create_within_the_tenant_and_user_scope() {
    let app = TestApp::spawn().await.unwrap();
    let ws = workspace(&app, "idem-").await;
    let me = ws.owner(&app);
    let body = json!({ "name": "Gemini", "description": "Two seats" });
    let key = [("Idempotency-Key", "create-gemini-1")];

    let first = me.post_with(PROJECTS, &body, &key).await;
    assert_eq!(first.status, 201, "{}", first.json);
    assert_eq!(first.header("idempotency-replayed"), None);
    let id: Uuid = first.json["id"].as_str().unwrap().parse().unwrap();

    // Same key, same body (members reordered): the stored response, byte for byte.
    let reordered = json!({ "description": "Two seats", "name": "Gemini" });
    let again = me.post_with(PROJECTS, &reordered, &key).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body, "replayed byte for byte");
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("content-type"), first.header("content-type"));
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    assert_eq!(project_count(&app, &ws).await, 1);
    assert_eq!(audit_rows(&app, "project.create", id).await.len(), 1);
    assert_eq!(audit_count(&app, "project.create", ws.id).await, 1);

    // Same key, another body.
    let other = me
        .post_with(PROJECTS, &json!({ "name": "Mercury" }), &key)
        .await;
    one_error(
        &other,
        "Idempotency-Key",
        "invalid",
        "Idempotency-Key was already used with a different request body",
    );
    assert_eq!(project_count(&app, &ws).await, 1);

    // The scope is (tenant, user): another member with the same key runs afresh.
    let colleague = add_member(&app, &ws).await;
    let them = ws.as_user(&app, &colleague);
    let fresh = them
        .post_with(PROJECTS, &json!({ "name": "Mercury" }), &key)
        .await;
    assert_eq!(fresh.status, 201, "{}", fresh.json);
    assert_eq!(fresh.header("idempotency-replayed"), None);
    assert_ne!(fresh.json["id"], first.json["id"]);
    // Their replay is their own response.
    let theirs = them
        .post_with(PROJECTS, &json!({ "name": "Mercury" }), &key)
        .await;
    assert_eq!(theirs.body, fresh.body);
    assert_eq!(theirs.header("idempotency-replayed"), Some("true"));
    // And the owner's key still replays the owner's project.
    let mine = me.post_with(PROJECTS, &body, &key).await;
    assert_eq!(mine.body, first.body);
    assert_eq!(project_count(&app, &ws).await, 2);
    assert_eq!(audit_count(&app, "project.create", ws.id).await, 2);

    let scopes: Vec<String> = sqlx::query_scalar(
        "SELECT scope FROM public.idempotency_keys WHERE key = 'create-gemini-1' ORDER BY created_at",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        scopes,
        vec![
            format!("projects:{}:{}", ws.id, ws.owner.id),
            format!("projects:{}:{}", ws.id, colleague.id),
        ]
    );

    // A conflict is a processed outcome: stored and replayed too.
    let dup_key = [("Idempotency-Key", "dup-1")];
    let dup = me
        .post_with(PROJECTS, &json!({ "name": "Gemini" }), &dup_key)
        .await;
    assert_eq!(dup.status, 409);
    let dup_again = me
        .post_with(PROJECTS, &json!({ "name": "Gemini" }), &dup_key)
        .await;
    assert_eq!(dup_again.status, 409);
    assert_eq!(dup_again.body, dup.body);
    assert_eq!(dup_again.header("idempotency-replayed"), Some("true"));

    // Rejected before processing: authentication fails first and no key is taken.
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM public.idempotency_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let unauthenticated = send(
        &app,
        reqwest::Method::POST,
        PROJECTS,
        &ws.slug,
        "not-a-token",
        Some(&body),
        &[("Idempotency-Key", "anon-1")],
    )
    .await;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(unauthenticated.detail(), "Invalid or expired token");
    // A body that fails validation releases the key: the corrected retry runs.
    let invalid = me
        .post_with(
            PROJECTS,
            &json!({ "name": "  " }),
            &[("Idempotency-Key", "fix-1")],
        )
        .await;
    assert_eq!(invalid.status, 422);
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM public.idempotency_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(after, before);
    let fixed = me
        .post_with(
            PROJECTS,
            &json!({ "name": "Skylab" }),
            &[("Idempotency-Key", "fix-1")],
        )
        .await;
    assert_eq!(fixed.status, 201, "{}", fixed.json);
    assert_eq!(fixed.header("idempotency-replayed"), None);
    let malformed = me
        .post_with(
            PROJECTS,
            &json!({ "name": "Skylab 2" }),
            &[("Idempotency-Key", "two words")],
        )
        .await;
    one_error(
        &malformed,
        "Idempotency-Key",
        "invalid_format",
        "Must be 1 to 255 visible ASCII characters",
    );
    app.shutdown().await;
}

/// Found by scripts/api-schema: PostgreSQL cannot store U+0000, and a project name or description holding
/// one failed the insert or update with a 500. Both are refused with a 422 and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_in_project_text_are_a_422_not_a_500() {
    let app = TestApp::spawn().await.unwrap();
    let ws = workspace(&app, "nul-").await;
    let me = ws.owner(&app);
    let r = me.post(PROJECTS, &json!({ "name": "a\u{0}b" })).await;
    one_error(
        &r,
        "name",
        "invalid_format",
        "Must not contain NUL characters",
    );
    let r = me
        .post(PROJECTS, &json!({ "name": "Fine", "description": "\u{0}" }))
        .await;
    one_error(
        &r,
        "description",
        "invalid_format",
        "Must not contain NUL characters",
    );
    assert_eq!(project_count(&app, &ws).await, 0);

    let created = me.post(PROJECTS, &json!({ "name": "Fine" })).await;
    assert_eq!(created.status, 201, "{}", created.json);
    let path = project_path(created.json["id"].as_str().unwrap());
    let r = me.patch(&path, &json!({ "name": "\u{0}" })).await;
    one_error(
        &r,
        "name",
        "invalid_format",
        "Must not contain NUL characters",
    );
    let r = me.patch(&path, &json!({ "description": "x\u{0}" })).await;
    one_error(
        &r,
        "description",
        "invalid_format",
        "Must not contain NUL characters",
    );
    let r = me.get(&path).await;
    assert_eq!(r.json["name"], "Fine");
    assert_eq!(r.json["description"], Value::Null);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_cannot_reach_projects_by_id() {
    let app = TestApp::spawn().await.unwrap();
    let (a, b) = tokio::join!(workspace(&app, "iso-a-"), workspace(&app, "iso-b-"));
    let created = a
        .owner(&app)
        .post(
            PROJECTS,
            &json!({ "name": "Secret", "description": "A only" }),
        )
        .await;
    assert_eq!(created.status, 201);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let path = project_path(&id);
    let not_found = format!("Project {id} not found");

    // B's member, B's token, B's header: A's ids do not exist.
    let b_member = add_member(&app, &b).await;
    for user in [&b.owner, &b_member] {
        let as_b = b.as_user(&app, user);
        for r in [
            as_b.get(&path).await,
            as_b.patch(&path, &json!({ "name": "Stolen" })).await,
            as_b.delete(&path).await,
        ] {
            assert_eq!(r.status, 404, "{}", r.json);
            assert_eq!(r.detail(), not_found);
        }
        let listed = as_b.get(PROJECTS).await;
        assert_eq!(listed.status, 200);
        assert_eq!(listed.json["items"], json!([]));
    }
    // Names are unique per tenant only.
    let same_name = b
        .owner(&app)
        .post(PROJECTS, &json!({ "name": "Secret" }))
        .await;
    assert_eq!(same_name.status, 201);

    // A's token with B's header is refused before anything else.
    let crossed = As {
        app: &app,
        slug: &b.slug,
        token: &a.owner.token,
    };
    for r in [
        crossed.get(PROJECTS).await,
        crossed.get(&path).await,
        crossed.post(PROJECTS, &json!({ "name": "Crossed" })).await,
        crossed
            .post_with(
                PROJECTS,
                &json!({ "name": "Crossed" }),
                &[("Idempotency-Key", "crossed-1")],
            )
            .await,
        crossed.patch(&path, &json!({ "name": "Crossed" })).await,
        crossed.delete(&path).await,
    ] {
        assert_eq!(r.status, 403, "{}", r.json);
        assert_eq!(r.detail(), "Token tenant does not match request tenant");
    }

    // A's project is untouched, and nothing leaked into B.
    let still = a.owner(&app).get(&path).await;
    assert_eq!(still.status, 200);
    assert_eq!(still.json, created.json);
    assert_eq!(project_count(&app, &a).await, 1);
    assert_eq!(project_count(&app, &b).await, 1);
    assert_eq!(audit_count(&app, "project.update", a.id).await, 0);
    assert_eq!(audit_count(&app, "project.delete", a.id).await, 0);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_the_project_endpoints() {
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    let resp = app.get("/openapi.json").await;
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.unwrap();
    let methods = |path: &str| -> Vec<String> {
        let mut m: Vec<String> = doc["paths"][path]
            .as_object()
            .unwrap_or_else(|| panic!("{path} is not documented"))
            .keys()
            .filter(|k| *k != "parameters")
            .cloned()
            .collect();
        m.sort();
        m
    };
    assert_eq!(methods("/api/v1/projects"), vec!["get", "post"]);
    assert_eq!(
        methods("/api/v1/projects/{project_id}"),
        vec!["delete", "get", "patch"]
    );
    let post = &doc["paths"]["/api/v1/projects"]["post"];
    let params: Vec<&str> = post["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(params.contains(&"Idempotency-Key"), "{params:?}");
    assert!(params.contains(&"X-Tenant-Slug"), "{params:?}");
    assert!(post["responses"]["201"]["headers"]["Location"].is_object());
    let read = &doc["components"]["schemas"]["ProjectRead"]["properties"];
    assert_eq!(
        keys(read),
        vec!["created_at", "description", "id", "name", "updated_at"]
    );
    for schema in ["ProjectPage", "ProjectCreate", "ProjectUpdate"] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
    app.shutdown().await;
}
