//! Provisioning failures compensate: the schema is dropped, the tenant is `failed`, the record says why.

use std::time::Duration;

use serde_json::Value;
use temporalio_client::{UntypedWorkflow, WorkflowFetchHistoryOptions};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use tenantry_testkit::TestApp;

use crate::common::*;

/// Attempts of the last execution of each activity type, read from the workflow history.
async fn attempts_of(app: &TestApp, workflow_id: &str, activity: &str) -> Vec<u32> {
    let client = app.temporal().await;
    let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id.to_owned());
    let events = handle
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .unwrap();
    let scheduled: Vec<i64> = events
        .iter()
        .filter_map(|e| match &e.attributes {
            Some(Attributes::ActivityTaskScheduledEventAttributes(a))
                if a.activity_type.as_ref().is_some_and(|t| t.name == activity) =>
            {
                Some(e.event_id)
            }
            _ => None,
        })
        .collect();
    events
        .iter()
        .filter_map(|e| match &e.attributes {
            Some(Attributes::ActivityTaskStartedEventAttributes(a))
                if scheduled.contains(&a.scheduled_event_id) =>
            {
                Some(u32::try_from(a.attempt).unwrap_or(0))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_owner_fails_once_and_the_saga_compensates() {
    let mut app = TestApp::builder().without_worker().spawn().await.unwrap();
    let slug = unique("orphan-");
    assert_eq!(
        register(&app, "gone@example.com", &slug).await.status(),
        202
    );
    sqlx::query("DELETE FROM public.users WHERE email = 'gone@example.com'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.start_worker().unwrap();

    let v = wait_status(&app, &slug, "failed", Duration::from_secs(60)).await;
    assert_eq!(v["error"], "Provisioning failed");
    let workflow_id = format!("tenant-provision-{slug}");
    let error = wait_execution(&app, &workflow_id, "failed").await.unwrap();
    assert!(
        error.contains("create_admin_membership") && error.contains("ReferenceMissing"),
        "{error}"
    );
    assert!(!schema_exists(&app, &format!("tenant_{}", slug.replace('-', "_"))).await);
    assert_eq!(
        attempts_of(&app, &workflow_id, "create_admin_membership").await,
        vec![1]
    );
    let active: bool = sqlx::query_scalar("SELECT is_active FROM public.tenants WHERE slug = $1")
        .bind(&slug)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!active);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_failing_halfway_drops_the_schema_and_reports_only_the_fixed_text() {
    let app = TestApp::builder()
        .env("TENANTRY_TEST_FAIL_TENANT_MIGRATION", "true")
        .spawn()
        .await
        .unwrap();
    let slug = unique("halfway-");
    assert_eq!(
        register(&app, "half@example.com", &slug).await.status(),
        202
    );
    let v: Value = wait_status(&app, &slug, "failed", Duration::from_secs(60)).await;
    assert_eq!(
        v,
        serde_json::json!({"slug": slug, "status": "failed", "error": "Provisioning failed"})
    );
    assert!(!schema_exists(&app, &format!("tenant_{}", slug.replace('-', "_"))).await);
    let error = wait_execution(&app, &format!("tenant-provision-{slug}"), "failed")
        .await
        .unwrap();
    assert!(error.contains("MigrationFailed"), "{error}");
    // No membership survives the compensation.
    assert_eq!(
        count(&app, "SELECT count(*) FROM public.user_tenant_membership").await,
        0
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM public.tenant_schema_versions").await,
        0
    );
    app.shutdown().await;
}
