//! The registration reaper: a registration nobody claimed within REGISTRATION_CLAIM_DAYS is deleted through
//! the deletion workflow, with its never-verified registrant; claimed or recent ones are left alone.

use std::time::Duration;

use serde_json::Value;
use tenantry_testkit::TestApp;
use uuid::Uuid;

use crate::common::*;

struct Registered {
    slug: String,
    tenant: Uuid,
    user: Uuid,
}

async fn registered(app: &TestApp, prefix: &str) -> Registered {
    let slug = unique(prefix);
    let email = format!("{slug}@example.com");
    assert_eq!(register(app, &email, &slug).await.status(), 202);
    let tenant = tenant_id(app, &slug).await;
    wait_tenant_status(app, tenant, "ready", Duration::from_secs(60)).await;
    let user: Uuid = sqlx::query_scalar("SELECT id FROM public.users WHERE email = $1")
        .bind(&email)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    Registered { slug, tenant, user }
}

fn schema(slug: &str) -> String {
    format!("tenant_{}", slug.replace('-', "_"))
}

async fn user_exists(app: &TestApp, id: Uuid) -> bool {
    count(
        app,
        &format!("SELECT count(*) FROM public.users WHERE id = '{id}'"),
    )
    .await
        == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unclaimed_registration_is_reaped_through_the_deletion_workflow() {
    let app = TestApp::spawn().await.unwrap();
    let stale = registered(&app, "stale-").await;
    let claimed = registered(&app, "claimed-").await;
    let recent = registered(&app, "recent-").await;

    // The claimed registrant verified; all but the recent one are past the 7-day claim window.
    exec(
        &app,
        &format!(
            "UPDATE public.users SET email_verified_at = now() WHERE id = '{}'",
            claimed.user
        ),
    )
    .await;
    exec(
        &app,
        &format!(
            "UPDATE public.tenants SET claimed_at = now() WHERE id = '{}'",
            claimed.tenant
        ),
    )
    .await;
    for (t, age) in [
        (stale.tenant, "8 days"),
        (claimed.tenant, "8 days"),
        (recent.tenant, "6 days"),
    ] {
        exec(
            &app,
            &format!(
                "UPDATE public.tenants SET created_at = now() - interval '{age}' WHERE id = '{t}'"
            ),
        )
        .await;
    }

    let out = run_cleanup(&app, 30).await;
    assert_eq!(out.registrations_reaped, 1);

    // Soft-deleted at once, in the reaper's transaction, with the deletion requested beside it.
    let (status, is_active, deleted): (String, bool, bool) = sqlx::query_as(
        "SELECT status, is_active, deleted_at IS NOT NULL FROM public.tenants WHERE id = $1",
    )
    .bind(stale.tenant)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(status == "deleting" || status == "deleted", "{status}");
    assert!(!is_active && deleted);
    let workflow_id = format!("tenant-deletion-{}", stale.tenant);
    let (workflow_type, input): (String, Value) = sqlx::query_as(
        "SELECT workflow_type, input FROM public.workflow_start_requests WHERE workflow_id = $1",
    )
    .bind(&workflow_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(workflow_type, "TenantDeletion");
    assert_eq!(input["purge_unverified_registrant"], true);
    assert_eq!(input["tenant_id"], stale.tenant.to_string());

    // The deletion workflow finishes the job: tenant deleted, schema dropped, registrant gone.
    wait_tenant_status(&app, stale.tenant, "deleted", Duration::from_secs(60)).await;
    wait_execution(&app, &workflow_id, "completed").await;
    assert!(!schema_exists(&app, &schema(&stale.slug)).await);
    assert!(!user_exists(&app, stale.user).await);

    // Claimed and recent registrations are untouched.
    for r in [&claimed, &recent] {
        assert_eq!(tenant_status(&app, r.tenant).await, "ready", "{}", r.slug);
        assert!(schema_exists(&app, &schema(&r.slug)).await, "{}", r.slug);
        assert!(user_exists(&app, r.user).await, "{}", r.slug);
        assert_eq!(
            execution_status(&app, &format!("tenant-deletion-{}", r.tenant)).await,
            None
        );
    }

    // Nothing left to reap.
    assert_eq!(run_cleanup(&app, 30).await.registrations_reaped, 0);
    app.shutdown().await;
}
