//! Small helpers shared by the integration tests.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

/// Polls `check` until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes an email row and its SendEmail start request in one transaction, as a business flow does.
pub async fn enqueue_email(pool: &PgPool, queue: &str) -> Uuid {
    let id = Uuid::now_v7();
    let mut tx = pool.begin().await.unwrap();
    tenantry_store::email::enqueue(
        &mut tx,
        &tenantry_store::email::NewEmail {
            id,
            kind: "welcome",
            to_email: "someone@example.com",
            subject: "Welcome",
            body_text: "hello",
            body_html: "<p>hello</p>",
            action_url: None,
            action_token: None,
            dedupe_key: None,
            user_id: None,
            tenant_id: None,
        },
    )
    .await
    .unwrap();
    tenantry_store::outbox::enqueue_start(
        &mut tx,
        &tenantry_store::outbox::NewStartRequest {
            workflow_id: &format!("email-{id}"),
            workflow_type: "SendEmail",
            task_queue: queue,
            input: serde_json::json!({ "email_id": id }),
        },
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}
