//! `POST /auth/verify-email` and `POST /auth/resend-verification`, with the first-verification rule.

use serde_json::{Value, json};
use tenantry_testkit::TestApp;

use crate::support::*;

async fn verify(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/verify-email", &json!({ "token": token }))
        .await
}

#[tokio::test]
async fn the_first_verification_claims_the_registration_and_requests_onboarding_once() {
    // No relay: the onboarding start request must still be undispatched when it is read.
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    let email = format!("{}@example.com", unique("verify-"));
    let slug = unique("verify-");
    let resp = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": email, "password": PASSWORD, "full_name": "Grace Hopper",
                    "tenant_name": "Compilers", "tenant_slug": slug}),
        )
        .await;
    assert_eq!(resp.status(), 202);
    let token = mailbox_token(&app, &email, "verify_email").await;

    // Ten tabs open the link at once: one consumes it.
    let attempts = (0..10).map(|_| verify(&app, &token));
    let responses = futures::future::join_all(attempts).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        9,
        "{statuses:?}"
    );
    for r in responses {
        let v: Value = r.json().await.unwrap();
        if v["verified"] == true {
            assert_eq!(v["message"], "Email verified successfully");
            assert_eq!(v["user"]["email"], email.as_str());
        } else {
            assert_eq!(v["detail"], "Invalid or expired verification token");
        }
    }
    let (user_id, tenant_id, claimed): (uuid::Uuid, uuid::Uuid, bool) = sqlx::query_as(
        "SELECT u.id, t.id, t.claimed_at IS NOT NULL FROM public.users u \
         JOIN public.tenants t ON t.registered_by_user_id = u.id WHERE u.email = $1",
    )
    .bind(&email)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(claimed);
    let starts: Vec<Value> = sqlx::query_scalar(
        "SELECT input FROM public.workflow_start_requests WHERE workflow_type = 'UserOnboarding'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        starts,
        vec![json!({"user_id": user_id, "tenant_id": tenant_id})]
    );
    let execution: String =
        sqlx::query_scalar("SELECT status FROM public.workflow_executions WHERE workflow_id = $1")
            .bind(format!("user-onboarding-{user_id}"))
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(execution, "pending");
    let audit_tenant: Option<uuid::Uuid> = sqlx::query_scalar(
        "SELECT tenant_id FROM public.audit_logs WHERE action = 'user.email_verify' AND user_id = $1",
    )
    .bind(user_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audit_tenant, Some(tenant_id));

    // A fresh link for a verified account: consumed, 200, and no second onboarding.
    sqlx::query(
        "INSERT INTO public.email_verification_tokens (id, user_id, token_hash, expires_at) \
         VALUES ($1, $2, encode(sha256($3::bytea), 'hex'), now() + interval '1 hour')",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(user_id)
    .bind("another-token-that-is-long-enough-to-pass-0123".as_bytes())
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        verify(&app, "another-token-that-is-long-enough-to-pass-0123")
            .await
            .status(),
        200
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM public.workflow_start_requests WHERE workflow_type = 'UserOnboarding'").await,
        1
    );
    app.shutdown().await;
}

#[tokio::test]
async fn verification_tokens_are_validated_and_expire() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let resp = verify(&app, "short").await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["detail"], "token: Invalid token format");
    let a = account(&app).await;
    sqlx::query(
        "INSERT INTO public.email_verification_tokens (id, user_id, token_hash, expires_at) \
         VALUES ($1, $2, encode(sha256($3::bytea), 'hex'), now() - interval '1 second')",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(a.user_id)
    .bind("expired-token-that-is-long-enough-to-pass-0123".as_bytes())
    .execute(&app.pool)
    .await
    .unwrap();
    let resp = verify(&app, "expired-token-that-is-long-enough-to-pass-0123").await;
    assert_eq!(resp.status(), 400);
    let resp = verify(&app, "unknown-token-that-is-long-enough-to-pass-01234").await;
    assert_eq!(resp.status(), 400);
    app.shutdown().await;
}

#[tokio::test]
async fn resend_mails_only_unverified_active_accounts_and_replaces_the_old_link() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let a = account(&app).await;
    let unverified = format!("{}@example.com", unique("resend-"));
    let id = app.create_user(&unverified, PASSWORD, false).await.unwrap();
    sqlx::query("UPDATE public.users SET email_verified_at = NULL WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut answers = Vec::new();
    for email in [
        unverified.as_str(),
        a.email.as_str(),
        "nobody-here@example.com",
    ] {
        let resp = app
            .post_json(
                "/api/v1/auth/resend-verification",
                &json!({ "email": email }),
            )
            .await;
        assert_eq!(resp.status(), 200);
        answers.push(resp.json::<Value>().await.unwrap());
    }
    assert!(answers.iter().all(|v| v == &answers[0]));
    assert_eq!(
        answers[0]["message"],
        "If an account exists with this email, a verification link has been sent"
    );
    let first = mailbox_token(&app, &unverified, "verify_email").await;
    app.post_json(
        "/api/v1/auth/resend-verification",
        &json!({ "email": unverified }),
    )
    .await;
    let second = mailbox_token(&app, &unverified, "verify_email").await;
    assert_ne!(first, second);
    assert_eq!(
        verify(&app, &first).await.status(),
        400,
        "the old link is invalidated"
    );
    assert_eq!(verify(&app, &second).await.status(), 200);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM public.email_outbox WHERE kind = 'verify_email'"
        )
        .await,
        2,
        "the verified and the unknown address got nothing"
    );
    app.shutdown().await;
}
