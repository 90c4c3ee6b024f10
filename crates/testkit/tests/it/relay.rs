//! The outbox relay: every committed start request becomes exactly one workflow run.

use std::time::Duration;

use tenantry_testkit::TestApp;

use crate::support::{enqueue_email, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_start_request_runs_its_workflow_once() {
    let app = TestApp::spawn().await.unwrap();
    let queue = tenantry_domain::jobs_queue(&app.settings.temporal_queue_prefix);
    let email_id = enqueue_email(&app.pool, &queue).await;

    let attempts: i32 = eventually("the email to be sent", Duration::from_secs(60), || async {
        let row: (Option<time::OffsetDateTime>, i32) =
            sqlx::query_as("SELECT sent_at, attempts FROM public.email_outbox WHERE id = $1")
                .bind(email_id)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        row.0.map(|_| row.1)
    })
    .await;
    assert_eq!(attempts, 1, "delivered exactly once");
    let dispatched: (Option<time::OffsetDateTime>, i32) = sqlx::query_as(
        "SELECT dispatched_at, attempts FROM public.workflow_start_requests WHERE workflow_id = $1",
    )
    .bind(format!("email-{email_id}"))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(dispatched.0.is_some());
    assert_eq!(dispatched.1, 0, "no failed dispatch attempts");
    app.shutdown().await;
}
