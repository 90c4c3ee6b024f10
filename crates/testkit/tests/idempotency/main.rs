//! `Idempotency-Key` (api.md §0.6) through the real server, with test routes wrapped by
//! `tenantry_http::idempotency::idempotent`. Counts are asserted, never durations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::json;
use tokio::sync::Barrier;
use uuid::Uuid;

use support::{
    CONFLICT, GATED, IN_PROGRESS, NOT_AUTHENTICATED, PLAIN, PROJECTS, Probe, Reply, app,
    eventually, post_json, post_raw, rows,
};

const REUSED: &str = "Idempotency-Key was already used with a different request body";
const BAD_FORMAT: &str = "Must be 1 to 255 visible ASCII characters";

fn assert_same_response(first: &Reply, replay: &Reply) {
    assert_eq!(replay.status, first.status);
    assert_eq!(replay.body, first.body, "body byte for byte");
    for name in ["location", "content-type"] {
        assert_eq!(replay.header(name), first.header(name), "{name}");
    }
    assert!(replay.replayed(), "Idempotency-Replayed: true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_request_is_replayed_byte_for_byte_without_running_the_handler() {
    let probe = Probe::default();
    let app = app(&probe).await;
    let body = json!({"name": "Alpha", "nested": {"b": 2, "a": [1, 2]}});

    let first = post_json(&app, PLAIN, Some("key-1"), &body).await;
    assert_eq!(first.status, 201, "{:?}", first.json);
    assert!(!first.replayed());
    assert!(
        first
            .header("location")
            .unwrap()
            .starts_with("/api/v1/test/things/")
    );
    assert_eq!(probe.calls(), 1);

    let again = post_json(&app, PLAIN, Some("key-1"), &body).await;
    assert_same_response(&first, &again);
    assert!(again.header("x-request-id").is_some());
    assert_ne!(again.header("x-request-id"), first.header("x-request-id"));
    assert_eq!(again.header("x-content-type-options"), Some("nosniff"));

    // The same JSON with other member order and whitespace has the same fingerprint.
    let reordered = r#" { "nested" : { "a" : [1,2], "b" : 2 }, "name" : "Alpha" } "#;
    let third = post_raw(&app, PLAIN, Some(b"key-1"), &[], reordered).await;
    assert_same_response(&first, &third);
    assert_eq!(probe.calls(), 1, "the handler ran once");

    // Another key is another request.
    let other = post_json(&app, PLAIN, Some("key-2"), &body).await;
    assert_eq!(other.status, 201);
    assert!(!other.replayed());
    assert_ne!(other.body, first.body);
    assert_eq!(probe.calls(), 2);
    assert_eq!(
        rows(&app).await,
        vec![
            ("register".into(), "key-1".into(), "completed".into()),
            ("register".into(), "key-2".into(), "completed".into()),
        ]
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_with_another_body_is_a_422_on_the_key() {
    let probe = Probe::default();
    let app = app(&probe).await;
    let first = post_json(&app, PLAIN, Some("k"), &json!({"name": "one"})).await;
    assert_eq!(first.status, 201);

    let other = post_json(&app, PLAIN, Some("k"), &json!({"name": "two"})).await;
    other.assert_key_error("invalid", REUSED);
    assert!(!other.replayed());
    // Same body on another path is another request too.
    let path = post_json(&app, GATED, Some("k"), &json!({"name": "one"})).await;
    path.assert_key_error("invalid", REUSED);
    assert_eq!(probe.calls(), 1);
    assert_eq!(probe.gated_calls(), 0);

    // The stored response is untouched.
    let replay = post_json(&app, PLAIN, Some("k"), &json!({"name": "one"})).await;
    assert_same_response(&first, &replay);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_request_while_the_first_runs_is_a_409_then_the_result_is_replayed() {
    let probe = Probe::default();
    let app = Arc::new(app(&probe).await);
    let body = json!({"name": "slow"});

    let first = tokio::spawn({
        let app = app.clone();
        let body = body.clone();
        async move { post_json(&app, GATED, Some("held"), &body).await }
    });
    probe.gate.wait_entered().await;
    assert_eq!(
        rows(&app).await,
        vec![("register".into(), "held".into(), "in_progress".into())],
        "the claim is committed before the handler runs"
    );

    let second = post_json(&app, GATED, Some("held"), &body).await;
    second.assert_error(409, IN_PROGRESS);
    // A different body is refused as a reuse even while the first runs.
    let different = post_json(&app, GATED, Some("held"), &json!({"name": "other"})).await;
    different.assert_key_error("invalid", REUSED);

    probe.gate.open_one();
    let first = first.await.unwrap();
    assert_eq!(first.status, 201);
    assert!(!first.replayed());

    let third = post_json(&app, GATED, Some("held"), &body).await;
    assert_same_response(&first, &third);
    assert_eq!(probe.gated_calls(), 1);
    Arc::into_inner(app).unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_releases_the_key_so_a_retry_runs_again() {
    let probe = Probe::default();
    let app = app(&probe).await;
    let body = json!({"name": "flaky", "fail": true});
    probe.fail.store(true, Ordering::SeqCst);

    let first = post_json(&app, PLAIN, Some("retry-me"), &body).await;
    first.assert_error(500, "Internal server error");
    assert!(rows(&app).await.is_empty(), "the key was released");
    let second = post_json(&app, PLAIN, Some("retry-me"), &body).await;
    second.assert_error(500, "Internal server error");
    assert!(!second.replayed());
    assert_eq!(probe.calls(), 2);

    probe.fail.store(false, Ordering::SeqCst);
    let third = post_json(&app, PLAIN, Some("retry-me"), &body).await;
    assert_eq!(third.status, 201);
    assert!(!third.replayed());
    assert_eq!(probe.calls(), 3);
    let fourth = post_json(&app, PLAIN, Some("retry-me"), &body).await;
    assert_same_response(&third, &fourth);
    assert_eq!(probe.calls(), 3);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_key_is_a_422_and_the_handler_does_not_run() {
    let probe = Probe::default();
    let app = app(&probe).await;
    let long = "k".repeat(256);
    let bad: [&[u8]; 5] = [
        b"",
        b"has space",
        long.as_bytes(),
        "clé".as_bytes(),
        b"tab\there",
    ];
    for key in bad {
        let reply = post_raw(&app, PLAIN, Some(key), &[], r#"{"name": "x"}"#).await;
        reply.assert_key_error("invalid_format", BAD_FORMAT);
    }
    assert_eq!(probe.calls(), 0);
    assert!(rows(&app).await.is_empty());

    // The bounds themselves are fine.
    let max = "~".repeat(255);
    for key in ["!", max.as_str()] {
        let reply = post_json(&app, PLAIN, Some(key), &json!({"name": "x"})).await;
        assert_eq!(reply.status, 201, "{key}");
    }
    assert_eq!(probe.calls(), 2);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_header_the_handler_runs_every_time() {
    let probe = Probe::default();
    let app = app(&probe).await;
    let body = json!({"name": "plain"});
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let reply = post_json(&app, PLAIN, None, &body).await;
        assert_eq!(reply.status, 201);
        assert!(!reply.replayed());
        bodies.push(reply.body);
    }
    bodies.dedup();
    assert_eq!(bodies.len(), 3);
    assert_eq!(probe.calls(), 3);
    assert!(rows(&app).await.is_empty());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_uses_run_the_handler_exactly_once() {
    const N: usize = 8;
    let probe = Probe::default();
    let app = Arc::new(app(&probe).await);
    let barrier = Arc::new(Barrier::new(N));
    let body = json!({"name": "race", "password": "Race-Pa55word!"});
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let app = app.clone();
            let barrier = barrier.clone();
            let body = body.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                post_json(&app, PLAIN, Some("race-key"), &body).await
            })
        })
        .collect();
    let mut replies = Vec::new();
    for t in tasks {
        replies.push(t.await.unwrap());
    }
    assert_eq!(probe.calls(), 1, "the handler ran exactly once");
    let originals: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == 201 && !r.replayed())
        .collect();
    assert_eq!(originals.len(), 1, "one request ran the handler");
    let original = originals[0];
    for r in &replies {
        if r.status == 409 {
            r.assert_error(409, IN_PROGRESS);
        } else if r.replayed() {
            assert_same_response(original, r);
        } else {
            assert!(std::ptr::eq(r, original), "unexpected reply {:?}", r.json);
        }
    }
    Arc::into_inner(app).unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stored_row_never_holds_a_plaintext_password() {
    const PASSWORD: &str = "Plaintext-Pa55word-9d1e";
    let probe = Probe::default();
    let app = app(&probe).await;
    let body = json!({"email": "someone@example.com", "password": PASSWORD});
    let reply = post_json(&app, PLAIN, Some("pw-key"), &body).await;
    assert_eq!(reply.status, 201);

    let (whole, fingerprint, status, headers, stored): (
        String,
        String,
        i32,
        serde_json::Value,
        Vec<u8>,
    ) = sqlx::query_as(
        "SELECT row_to_json(k)::text, fingerprint, response_status, response_headers, response_body \
         FROM public.idempotency_keys k WHERE scope = 'register' AND key = 'pw-key'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let hex_password = hex::encode(PASSWORD);
    for haystack in [whole.as_str(), &String::from_utf8_lossy(&stored)] {
        assert!(!haystack.contains(PASSWORD), "plaintext password stored");
        assert!(
            !haystack.contains(&hex_password),
            "hex of the password stored"
        );
        assert!(
            !haystack.contains(tenantry_testkit::TEST_JWT_SECRET),
            "secret stored"
        );
    }
    assert_eq!(fingerprint.len(), 64);
    assert!(fingerprint.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(status, 201);
    assert_eq!(stored, reply.body);
    assert_eq!(
        headers,
        json!({
            "location": reply.header("location").unwrap(),
            "content-type": reply.header("content-type").unwrap(),
        })
    );
    // The fingerprint is the documented keyed hash of method, path and canonical body.
    let expected = tenantry_http::idempotency::fingerprint(
        tenantry_testkit::TEST_JWT_SECRET.as_bytes(),
        "POST",
        PLAIN,
        body.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(fingerprint, expected);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_rows_count_as_absent() {
    let probe = Probe::default();
    let app = app(&probe).await;
    let first = post_json(&app, PLAIN, Some("old"), &json!({"name": "a"})).await;
    assert_eq!(first.status, 201);
    sqlx::query("UPDATE public.idempotency_keys SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();

    // Another body is no reuse once the row expired; the handler runs and a fresh row is stored.
    let second = post_json(&app, PLAIN, Some("old"), &json!({"name": "b"})).await;
    assert_eq!(second.status, 201);
    assert!(!second.replayed());
    assert_eq!(probe.calls(), 2);
    let third = post_json(&app, PLAIN, Some("old"), &json!({"name": "b"})).await;
    assert_same_response(&second, &third);
    assert_eq!(probe.calls(), 2);
    let expires_in_hours: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM expires_at - created_at)::float8 / 3600 FROM public.idempotency_keys",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(expires_in_hours, 24.0, "IDEMPOTENCY_TTL_HOURS default");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_claim_past_its_lock_is_taken_over() {
    let probe = Probe::default();
    let app = app(&probe).await;
    let body = json!({"name": "orphan"});
    let fingerprint = tenantry_http::idempotency::fingerprint(
        tenantry_testkit::TEST_JWT_SECRET.as_bytes(),
        "POST",
        PLAIN,
        body.to_string().as_bytes(),
    )
    .unwrap();
    let insert = "INSERT INTO public.idempotency_keys (scope, key, fingerprint, state, locked_until, expires_at) \
                  VALUES ('register', $1, $2, 'in_progress', now() + $3 * interval '1 second', now() + interval '1 hour')";
    for (key, lock_secs) in [("live", 60), ("stale", -5)] {
        sqlx::query(insert)
            .bind(key)
            .bind(&fingerprint)
            .bind(lock_secs)
            .execute(&app.pool)
            .await
            .unwrap();
    }

    post_json(&app, PLAIN, Some("live"), &body)
        .await
        .assert_error(409, IN_PROGRESS);
    assert_eq!(probe.calls(), 0);

    let taken = post_json(&app, PLAIN, Some("stale"), &body).await;
    assert_eq!(taken.status, 201);
    assert!(!taken.replayed());
    assert_eq!(probe.calls(), 1);
    let replay = post_json(&app, PLAIN, Some("stale"), &body).await;
    assert_same_response(&taken, &replay);
    assert_eq!(probe.calls(), 1);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_abandoned_by_its_client_releases_the_key() {
    let probe = Probe::default();
    let app = Arc::new(app(&probe).await);
    let body = json!({"name": "abandoned"});
    let client = tokio::spawn({
        let app = app.clone();
        let body = body.clone();
        async move { post_json(&app, GATED, Some("gone"), &body).await }
    });
    probe.gate.wait_entered().await;
    assert_eq!(rows(&app).await.len(), 1);
    client.abort();
    let _ = client.await;
    // The server drops the handler's future when the connection closes; the guard deletes the claim.
    eventually("the abandoned claim to be released", || async {
        rows(&app).await.is_empty()
    })
    .await;

    probe.gate.open_one();
    let retry = post_json(&app, GATED, Some("gone"), &body).await;
    assert_eq!(retry.status, 201);
    assert!(!retry.replayed());
    // The retry entered the handler again (the abandoned call never got past the gate).
    probe.gate.wait_entered().await;
    assert_eq!(probe.gated_calls(), 1);
    Arc::into_inner(app).unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_scope_is_per_tenant_and_user() {
    let probe = Probe::default();
    let app = app(&probe).await;
    let (tenant, alice, bob) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let (t, a, b) = (tenant.to_string(), alice.to_string(), bob.to_string());
    let body = r#"{"name": "project"}"#;
    let as_alice = [("x-test-tenant", t.as_str()), ("x-test-user", a.as_str())];
    let as_bob = [("x-test-tenant", t.as_str()), ("x-test-user", b.as_str())];

    let first = post_raw(&app, PROJECTS, Some(b"p"), &as_alice, body).await;
    assert_eq!(first.status, 201);
    let replay = post_raw(&app, PROJECTS, Some(b"p"), &as_alice, body).await;
    assert_same_response(&first, &replay);
    let other_user = post_raw(&app, PROJECTS, Some(b"p"), &as_bob, body).await;
    assert_eq!(other_user.status, 201);
    assert!(!other_user.replayed());
    assert_eq!(probe.projects_calls(), 2);

    // No ids resolved: not idempotent, the handler runs.
    let anonymous = post_raw(&app, PROJECTS, Some(b"p"), &[], body).await;
    assert_eq!(anonymous.status, 201);
    assert!(!anonymous.replayed());
    assert_eq!(probe.projects_calls(), 3);
    // A resolver error is answered as is, before the key is even read.
    let denied = post_raw(
        &app,
        PROJECTS,
        Some(b"bad key"),
        &[("x-test-deny", "1")],
        body,
    )
    .await;
    denied.assert_error(401, NOT_AUTHENTICATED);
    assert_eq!(probe.projects_calls(), 3);

    let mut expected = vec![
        (
            format!("projects:{tenant}:{alice}"),
            "p".to_owned(),
            "completed".to_owned(),
        ),
        (
            format!("projects:{tenant}:{bob}"),
            "p".to_owned(),
            "completed".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(rows(&app).await, expected);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_request_does_not_use_the_key_but_a_business_error_is_replayed() {
    let probe = Probe::default();
    let app = app(&probe).await;

    // A validation 422 (api.md §0.3 orders it before idempotency handling) leaves no row behind: the
    // client may fix the body and retry with the same key.
    let invalid = post_json(&app, PLAIN, Some("fix-me"), &json!({"invalid": true})).await;
    invalid.assert_error(422, "name: Field required");
    assert!(rows(&app).await.is_empty());
    let fixed = post_json(&app, PLAIN, Some("fix-me"), &json!({"name": "ok"})).await;
    assert_eq!(fixed.status, 201);
    assert!(!fixed.replayed());
    assert_eq!(probe.calls(), 2);

    // A business outcome (409) is stored and replayed like a success, request_id of the first included.
    let conflict = post_json(&app, PLAIN, Some("dup"), &json!({"conflict": true})).await;
    conflict.assert_error(409, CONFLICT);
    let replay = post_json(&app, PLAIN, Some("dup"), &json!({"conflict": true})).await;
    assert_same_response(&conflict, &replay);
    assert_eq!(replay.json["request_id"], conflict.json["request_id"]);
    assert_eq!(probe.calls(), 3);
    app.shutdown().await;
}
