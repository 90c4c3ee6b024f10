//! Activities run many times at once converge to one end state.

use std::sync::Arc;

use temporalio_sdk::activities::ActivityError;
use tenantry_services::email::MailboxMailer;
use tenantry_testkit::TestApp;
use tenantry_workflows::activities::Deps;
use tenantry_workflows::activities::tenant::{MembershipRef, create_admin_membership};

use crate::common::*;

async fn registered(app: &TestApp) -> (uuid::Uuid, uuid::Uuid) {
    let slug = unique("conc-");
    assert_eq!(
        register(app, "owner@example.com", &slug).await.status(),
        202
    );
    let user: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM public.users WHERE email = 'owner@example.com'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    (user, tenant_id(app, &slug).await)
}

fn deps(app: &TestApp) -> Arc<Deps> {
    Arc::new(Deps {
        db: app.db.clone(),
        settings: app.settings.clone(),
        mailer: Arc::new(MailboxMailer),
        billing: Arc::new(tenantry_workflows::billing::NoBilling),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_admin_memberships_all_succeed_with_one_row() {
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    let (user_id, tenant_id) = registered(&app).await;
    let deps = deps(&app);
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (deps, barrier) = (deps.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                create_admin_membership(&deps, &MembershipRef { tenant_id, user_id }).await
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().is_ok());
    }
    let rows = count(&app, &format!(
        "SELECT count(*) FROM public.user_tenant_membership WHERE tenant_id = '{tenant_id}' AND user_id = '{user_id}' AND role = 'admin'"
    ))
    .await;
    assert_eq!(rows, 1);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_user_is_a_non_retryable_reference_missing() {
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    let (user_id, tenant_id) = registered(&app).await;
    sqlx::query("DELETE FROM public.users WHERE id = $1")
        .bind(user_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let err = create_admin_membership(&deps(&app), &MembershipRef { tenant_id, user_id })
        .await
        .unwrap_err();
    let ActivityError::Application(af) = err else {
        panic!("expected an application failure")
    };
    assert_eq!(af.type_name(), Some("ReferenceMissing"));
    assert!(af.is_non_retryable());
    app.shutdown().await;
}
