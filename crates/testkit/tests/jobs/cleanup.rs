//! A TokenCleanup run deletes exactly what data-model.md §6 says is due, and nothing else. Every rule is
//! seeded with rows just past and just short of its cutoff.

use tenantry_testkit::TestApp;
use tenantry_workflows::workflows::cleanup::CleanupOutput;
use uuid::Uuid;

use crate::common::*;

/// An admin tenant (claimed, so the registration reaper never looks at it).
async fn seed_tenant(app: &TestApp) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO public.tenants (id, name, slug, status, is_active, origin, claimed_at) \
         VALUES ($1, 'Retention', $2, 'ready', true, 'admin', now())",
    )
    .bind(id)
    .bind(unique("retention-"))
    .execute(&app.pool)
    .await
    .unwrap();
    id
}

/// A refresh family with times given as SQL interval offsets from now (`None` = not revoked).
async fn family(
    app: &TestApp,
    user: Uuid,
    revoked: Option<&str>,
    idle_expires: &str,
    expires: &str,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(&format!(
        "INSERT INTO public.refresh_token_families \
           (id, user_id, created_at, idle_expires_at, expires_at, revoked_at, revoked_reason) \
         VALUES ($1, $2, now() - interval '60 days', now() + interval '{idle_expires}', \
           now() + interval '{expires}', {revoked}, {reason})",
        revoked = revoked
            .map(|r| format!("now() + interval '{r}'"))
            .unwrap_or_else(|| "NULL".to_owned()),
        reason = if revoked.is_some() {
            "'logout'"
        } else {
            "NULL"
        },
    ))
    .bind(id)
    .bind(user)
    .execute(&app.pool)
    .await
    .unwrap();
    // One token per family, to see the cascade.
    sqlx::query(
        "INSERT INTO public.refresh_tokens (id, family_id, token_hash, expires_at) \
         VALUES ($1, $2, $3, now() + interval '1 day')",
    )
    .bind(Uuid::now_v7())
    .bind(id)
    .bind(hash())
    .execute(&app.pool)
    .await
    .unwrap();
    id
}

async fn one_time(
    app: &TestApp,
    table: &str,
    user: Uuid,
    used: Option<&str>,
    expires: &str,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(&format!(
        "INSERT INTO public.{table} (id, user_id, token_hash, created_at, expires_at, used_at) \
         VALUES ($1, $2, $3, now() - interval '60 days', now() + interval '{expires}', {used})",
        used = used
            .map(|u| format!("now() + interval '{u}'"))
            .unwrap_or_else(|| "NULL".to_owned()),
    ))
    .bind(id)
    .bind(user)
    .bind(hash())
    .execute(&app.pool)
    .await
    .unwrap();
    id
}

async fn invite(app: &TestApp, tenant: Uuid, status: &str, created: &str, expires: &str) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(&format!(
        "INSERT INTO public.tenant_invites (id, tenant_id, email, token_hash, status, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, now() + interval '{created}', now() + interval '{expires}')"
    ))
    .bind(id)
    .bind(tenant)
    .bind(format!("{}@example.com", unique("invitee-")))
    .bind(hash())
    .bind(status)
    .execute(&app.pool)
    .await
    .unwrap();
    id
}

async fn idempotency_key(app: &TestApp, expires: &str) -> String {
    let key = unique("key-");
    sqlx::query(&format!(
        "INSERT INTO public.idempotency_keys (scope, key, fingerprint, state, locked_until, expires_at) \
         VALUES ('register', $1, 'f', 'completed', now(), now() + interval '{expires}')"
    ))
    .bind(&key)
    .execute(&app.pool)
    .await
    .unwrap();
    key
}

/// A start request; `dispatched` None = still owed to Temporal (kept away from any relay by its due time).
async fn start_request(app: &TestApp, dispatched: Option<&str>) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(&format!(
        "INSERT INTO public.workflow_start_requests \
           (id, workflow_id, workflow_type, task_queue, input, created_at, next_attempt_at, dispatched_at) \
         VALUES ($1, $2, 'SendEmail', 'nowhere', '{{}}', now() - interval '30 days', \
           now() + interval '1 day', {dispatched})",
        dispatched = dispatched
            .map(|d| format!("now() + interval '{d}'"))
            .unwrap_or_else(|| "NULL".to_owned()),
    ))
    .bind(id)
    .bind(unique("retention-request-"))
    .execute(&app.pool)
    .await
    .unwrap();
    id
}

/// An email created at `created`; `settled` is "sent", "failed" or "" (still being delivered).
async fn email(app: &TestApp, created: &str, settled: &str) -> Uuid {
    let id = Uuid::now_v7();
    let (sent, failed) = match settled {
        "sent" => ("now()", "NULL"),
        "failed" => ("NULL", "now()"),
        _ => ("NULL", "NULL"),
    };
    sqlx::query(&format!(
        "INSERT INTO public.email_outbox (id, kind, to_email, subject, body_text, created_at, sent_at, failed_at) \
         VALUES ($1, 'password_changed', 'retention@example.com', 's', 'b', now() + interval '{created}', {sent}, {failed})"
    ))
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    id
}

async fn audit(app: &TestApp, created: &str) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(&format!(
        "INSERT INTO public.audit_logs (id, action, entity_type, created_at) \
         VALUES ($1, 'user.login', 'user', now() + interval '{created}')"
    ))
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    id
}

async fn exists(app: &TestApp, table: &str, id: Uuid) -> bool {
    count(
        app,
        &format!("SELECT count(*) FROM public.{table} WHERE id = '{id}'"),
    )
    .await
        == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_cleanup_deletes_exactly_what_is_due_and_a_rerun_deletes_nothing() {
    // No relay: the seeded start requests must stay exactly as written.
    let app = TestApp::builder()
        .without_relay()
        .env("AUDIT_RETENTION_DAYS", "10")
        .spawn()
        .await
        .unwrap();
    let user = app
        .create_user(
            &format!("{}@example.com", unique("keeper-")),
            PASSWORD,
            false,
        )
        .await
        .unwrap();
    let tenant = seed_tenant(&app).await;

    // Refresh families: revoked / absolutely expired / idle-expired more than 30 days ago.
    let f_revoked_31 = family(&app, user, Some("-31 days"), "-20 days", "1 day").await;
    let f_revoked_29 = family(&app, user, Some("-29 days"), "-20 days", "1 day").await;
    let f_expired_31 = family(&app, user, None, "-31 days", "-31 days").await;
    let f_expired_29 = family(&app, user, None, "-29 days", "-29 days").await;
    let f_idle_31 = family(&app, user, None, "-31 days", "-20 days").await;
    let f_idle_29 = family(&app, user, None, "-29 days", "-20 days").await;
    let f_active = family(&app, user, None, "7 days", "20 days").await;

    // Verification and reset tokens: used or expired more than 30 days ago.
    let v_used_31 = one_time(
        &app,
        "email_verification_tokens",
        user,
        Some("-31 days"),
        "-29 days",
    )
    .await;
    let v_used_29 = one_time(
        &app,
        "email_verification_tokens",
        user,
        Some("-29 days"),
        "-28 days",
    )
    .await;
    let v_expired_31 = one_time(&app, "email_verification_tokens", user, None, "-31 days").await;
    let v_expired_29 = one_time(&app, "email_verification_tokens", user, None, "-29 days").await;
    let r_used_31 = one_time(
        &app,
        "password_reset_tokens",
        user,
        Some("-31 days"),
        "-29 days",
    )
    .await;
    let r_expired_31 = one_time(&app, "password_reset_tokens", user, None, "-31 days").await;
    let r_live = one_time(&app, "password_reset_tokens", user, None, "20 minutes").await;

    // Invites: pending past expiry → expired; non-pending older than 30 days → deleted.
    let i_pending_expired = invite(&app, tenant, "pending", "-8 days", "-1 hour").await;
    let i_pending_live = invite(&app, tenant, "pending", "-1 day", "1 day").await;
    let i_accepted_31 = invite(&app, tenant, "accepted", "-31 days", "-24 days").await;
    let i_cancelled_29 = invite(&app, tenant, "cancelled", "-29 days", "-22 days").await;
    let i_pending_ancient = invite(&app, tenant, "pending", "-40 days", "-33 days").await;

    // Idempotency keys: expires_at passed.
    let k_expired = idempotency_key(&app, "-1 minute").await;
    let k_live = idempotency_key(&app, "1 hour").await;

    // Start requests: dispatched more than 7 days ago; an undispatched one is kept whatever its age.
    let s_8 = start_request(&app, Some("-8 days")).await;
    let s_6 = start_request(&app, Some("-6 days")).await;
    let s_owed = start_request(&app, None).await;

    // Emails (APP_ENV=test: 1 day): settled and older than the window.
    let e_sent_old = email(&app, "-2 days", "sent").await;
    let e_failed_old = email(&app, "-2 days", "failed").await;
    let e_sent_new = email(&app, "-12 hours", "sent").await;
    let e_unsent_old = email(&app, "-3 days", "").await;

    // Audit logs (AUDIT_RETENTION_DAYS=10).
    let a_11 = audit(&app, "-11 days").await;
    let a_9 = audit(&app, "-9 days").await;

    let out = run_cleanup(&app, 30).await;
    assert_eq!(
        out,
        CleanupOutput {
            refresh_families: 3,
            one_time_tokens: 4,
            invites_expired: 2,
            invites_deleted: 2,
            idempotency_keys: 1,
            outbox_rows: 1,
            emails: 2,
            audit_logs: 1,
            registrations_reaped: 0,
        }
    );

    for (id, kept) in [
        (f_revoked_31, false),
        (f_revoked_29, true),
        (f_expired_31, false),
        (f_expired_29, true),
        (f_idle_31, false),
        (f_idle_29, true),
        (f_active, true),
    ] {
        assert_eq!(
            exists(&app, "refresh_token_families", id).await,
            kept,
            "family {id}"
        );
        let tokens = count(
            &app,
            &format!("SELECT count(*) FROM public.refresh_tokens WHERE family_id = '{id}'"),
        )
        .await;
        assert_eq!(tokens, i64::from(kept), "tokens of family {id} follow it");
    }
    for (id, kept) in [
        (v_used_31, false),
        (v_used_29, true),
        (v_expired_31, false),
        (v_expired_29, true),
    ] {
        assert_eq!(
            exists(&app, "email_verification_tokens", id).await,
            kept,
            "verification {id}"
        );
    }
    for (id, kept) in [(r_used_31, false), (r_expired_31, false), (r_live, true)] {
        assert_eq!(
            exists(&app, "password_reset_tokens", id).await,
            kept,
            "reset {id}"
        );
    }
    let invite_status = |id: Uuid| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT status FROM public.tenant_invites WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(
        invite_status(i_pending_expired).await.as_deref(),
        Some("expired")
    );
    assert_eq!(
        invite_status(i_pending_live).await.as_deref(),
        Some("pending")
    );
    assert_eq!(invite_status(i_accepted_31).await, None);
    assert_eq!(
        invite_status(i_cancelled_29).await.as_deref(),
        Some("cancelled")
    );
    assert_eq!(invite_status(i_pending_ancient).await, None);
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT key FROM public.idempotency_keys WHERE key = ANY($1) ORDER BY key",
    )
    .bind(vec![k_expired.clone(), k_live.clone()])
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(keys, vec![k_live]);
    for (id, kept) in [(s_8, false), (s_6, true), (s_owed, true)] {
        assert_eq!(
            exists(&app, "workflow_start_requests", id).await,
            kept,
            "start request {id}"
        );
    }
    for (id, kept) in [
        (e_sent_old, false),
        (e_failed_old, false),
        (e_sent_new, true),
        (e_unsent_old, true),
    ] {
        assert_eq!(exists(&app, "email_outbox", id).await, kept, "email {id}");
    }
    assert!(!exists(&app, "audit_logs", a_11).await);
    assert!(exists(&app, "audit_logs", a_9).await);
    // The tenant and user the seeds hang on are untouched.
    assert_eq!(tenant_status(&app, tenant).await, "ready");
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM public.users WHERE id = '{user}'")
        )
        .await,
        1
    );

    // Nothing more was due: a second run finds nothing.
    assert_eq!(run_cleanup(&app, 30).await, CleanupOutput::default());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_retention_zero_keeps_audit_history_forever() {
    let app = TestApp::builder()
        .without_relay()
        .env("AUDIT_RETENTION_DAYS", "0")
        .spawn()
        .await
        .unwrap();
    let ancient = audit(&app, "-4000 days").await;
    let out = run_cleanup(&app, 30).await;
    assert_eq!(out.audit_logs, 0);
    assert!(exists(&app, "audit_logs", ancient).await);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_one_batch_is_purged_in_one_run() {
    let app = TestApp::builder().without_relay().spawn().await.unwrap();
    exec(
        &app,
        "INSERT INTO public.audit_logs (id, action, entity_type, created_at) \
         SELECT gen_random_uuid(), 'user.login', 'user', now() - interval '400 days' \
         FROM generate_series(1, 2345)",
    )
    .await;
    let out = run_cleanup(&app, 30).await;
    assert_eq!(out.audit_logs, 2345);
    assert_eq!(
        count(&app, "SELECT count(*) FROM public.audit_logs").await,
        0
    );
    app.shutdown().await;
}
