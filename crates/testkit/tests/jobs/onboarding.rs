//! UserOnboarding: one welcome email however often it runs, delivered and recorded; the billing customer
//! is created once and stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_sdk::activities::ActivityError;
use tenantry_domain::jobs_queue;
use tenantry_services::email::MailboxMailer;
use tenantry_testkit::TestApp;
use tenantry_workflows::activities::Deps;
use tenantry_workflows::activities::onboarding::{
    BillingInput, EnqueueEmailInput, WELCOME, enqueue_email, ensure_billing_customer,
};
use tenantry_workflows::billing::{BillingError, BillingProvider, NoBilling};
use tenantry_workflows::workflows::onboarding::{
    OnboardingInput, OnboardingOutput, UserOnboarding,
};
use uuid::Uuid;

use crate::common::*;

async fn start_directly(
    app: &TestApp,
    workflow_id: &str,
    input: OnboardingInput,
) -> Result<OnboardingOutput, String> {
    let client = app.temporal().await;
    let options = WorkflowStartOptions::new(
        jobs_queue(&app.settings.temporal_queue_prefix),
        workflow_id.to_owned(),
    )
    .build();
    let handle = client
        .start_workflow(UserOnboarding::run, input, options)
        .await
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(90),
        handle.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .expect("UserOnboarding did not finish within 90 s")
    .map_err(|e| format!("{e:?}"))
}

async fn welcome_rows(app: &TestApp, user: Uuid) -> Vec<(Uuid, String, Option<Uuid>, bool)> {
    sqlx::query_as(
        "SELECT id, to_email, tenant_id, sent_at IS NOT NULL FROM public.email_outbox \
         WHERE kind = 'welcome' AND user_id = $1",
    )
    .bind(user)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_from_the_outbox_sends_one_welcome_email_and_completes() {
    let app = TestApp::spawn().await.unwrap();
    let slug = unique("welcome-");
    let email = format!("{slug}@example.com");
    assert_eq!(register(&app, &email, &slug).await.status(), 202);
    let tenant = tenant_id(&app, &slug).await;
    wait_tenant_status(&app, tenant, "ready", Duration::from_secs(60)).await;
    let user: Uuid = sqlx::query_scalar("SELECT id FROM public.users WHERE email = $1")
        .bind(&email)
        .fetch_one(&app.pool)
        .await
        .unwrap();

    // As the first verification does: the start request commits with the caller's transaction.
    let mut tx = app.pool.begin().await.unwrap();
    let workflow_id = tenantry_services::workflow_requests::request_onboarding(
        &mut tx,
        &app.settings,
        user,
        Some(tenant),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(workflow_id, format!("user-onboarding-{user}"));
    wait_execution(&app, &workflow_id, "completed").await;

    let rows = welcome_rows(&app, user).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (email_id, to, email_tenant, sent) = rows[0].clone();
    assert_eq!(to, email);
    assert_eq!(email_tenant, Some(tenant));
    assert!(sent, "the welcome email was not delivered");
    let dedupe: Option<String> =
        sqlx::query_scalar("SELECT dedupe_key FROM public.email_outbox WHERE id = $1")
            .bind(email_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(dedupe, Some(format!("welcome:{user}")));
    // Welcome emails have no start request of their own: the workflow delivered it.
    assert_eq!(
        count(&app, &format!("SELECT count(*) FROM public.workflow_start_requests WHERE workflow_id = 'email-{email_id}'")).await,
        0
    );
    // NoBilling: nothing stored.
    let billing: Option<String> =
        sqlx::query_scalar("SELECT billing_customer_id FROM public.tenants WHERE id = $1")
            .bind(tenant)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(billing, None);

    // Running it again (another run, same user) converges on the same email: still exactly one.
    let again = start_directly(
        &app,
        &unique("onboarding-again-"),
        OnboardingInput {
            user_id: user,
            tenant_id: Some(tenant),
        },
    )
    .await
    .unwrap();
    assert_eq!(again.welcome_email_id, email_id);
    assert_eq!(again.billing_customer_id, None);
    assert_eq!(welcome_rows(&app, user).await.len(), 1);
    // The original record stays completed.
    assert_eq!(
        execution_status(&app, &workflow_id).await.as_deref(),
        Some("completed")
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_a_user_without_tenant_skips_billing() {
    let app = TestApp::builder().without_relay().spawn().await.unwrap();
    let email = format!("{}@example.com", unique("invited-"));
    let user = app.create_user(&email, PASSWORD, false).await.unwrap();
    let out = start_directly(
        &app,
        &unique("onboarding-no-tenant-"),
        OnboardingInput {
            user_id: user,
            tenant_id: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(out.billing_customer_id, None);
    let rows = welcome_rows(&app, user).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, out.welcome_email_id);
    assert_eq!(rows[0].2, None);
    assert!(rows[0].3);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_a_missing_user_fails_and_records_reference_missing() {
    let app = TestApp::builder().without_relay().spawn().await.unwrap();
    let user = Uuid::now_v7();
    let deps = deps(&app, Arc::new(NoBilling));
    let err = enqueue_email(
        &deps,
        &EnqueueEmailInput {
            kind: WELCOME.to_owned(),
            user_id: user,
            tenant_id: None,
            dedupe_key: format!("welcome:{user}"),
        },
    )
    .await
    .unwrap_err();
    let ActivityError::Application(af) = err else {
        panic!("expected an application failure")
    };
    assert_eq!(af.type_name(), Some("ReferenceMissing"));
    assert!(af.is_non_retryable());

    // Through the workflow, with an execution record to mark failed.
    let workflow_id = format!("user-onboarding-{user}");
    exec(
        &app,
        &format!(
            "INSERT INTO public.workflow_executions (id, workflow_id, workflow_type, entity_type, entity_id, status) \
             VALUES ('{}', '{workflow_id}', 'UserOnboarding', 'user', '{user}', 'running')",
            Uuid::now_v7()
        ),
    )
    .await;
    let failed = start_directly(
        &app,
        &workflow_id,
        OnboardingInput {
            user_id: user,
            tenant_id: None,
        },
    )
    .await
    .unwrap_err();
    assert!(failed.contains("ReferenceMissing"), "{failed}");
    let (status, error): (String, Option<String>) = sqlx::query_as(
        "SELECT status, error_message FROM public.workflow_executions WHERE workflow_id = $1",
    )
    .bind(&workflow_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("ReferenceMissing"));
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM public.email_outbox WHERE kind = 'welcome'"
        )
        .await,
        0
    );
    app.shutdown().await;
}

/// A provider that counts its calls and answers as told.
struct FakeBilling {
    calls: AtomicUsize,
    answer: Result<Option<String>, BillingError>,
}

#[async_trait::async_trait]
impl BillingProvider for FakeBilling {
    async fn ensure_customer(
        &self,
        _tenant_id: Uuid,
        email: &str,
        name: &str,
        idempotency_key: &str,
    ) -> Result<Option<String>, BillingError> {
        assert!(email.ends_with("@example.com"));
        assert_eq!(name, "Billed");
        assert!(idempotency_key.starts_with("tenant:"));
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.answer.clone()
    }
}

fn deps(app: &TestApp, billing: Arc<dyn BillingProvider>) -> Arc<Deps> {
    Arc::new(Deps {
        db: app.db.clone(),
        settings: app.settings.clone(),
        mailer: Arc::new(MailboxMailer),
        billing,
    })
}

async fn billed_tenant(app: &TestApp) -> (Uuid, Uuid) {
    let user = app
        .create_user(
            &format!("{}@example.com", unique("payer-")),
            PASSWORD,
            false,
        )
        .await
        .unwrap();
    let tenant = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO public.tenants (id, name, slug, status, is_active, origin, claimed_at) \
         VALUES ($1, 'Billed', $2, 'ready', true, 'admin', now())",
    )
    .bind(tenant)
    .bind(unique("billed-"))
    .execute(&app.pool)
    .await
    .unwrap();
    (user, tenant)
}

async fn stored_customer(app: &TestApp, tenant: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT billing_customer_id FROM public.tenants WHERE id = $1")
        .bind(tenant)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_customer_is_created_once_and_stored() {
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    let (user, tenant) = billed_tenant(&app).await;
    let fake = Arc::new(FakeBilling {
        calls: AtomicUsize::new(0),
        answer: Ok(Some("cus_123".to_owned())),
    });
    let deps = deps(&app, fake.clone());
    let input = BillingInput {
        tenant_id: tenant,
        user_id: user,
    };
    let first = ensure_billing_customer(&deps, &input).await.unwrap();
    assert_eq!(first.billing_customer_id.as_deref(), Some("cus_123"));
    assert_eq!(
        stored_customer(&app, tenant).await.as_deref(),
        Some("cus_123")
    );
    // A stored id skips the provider.
    let second = ensure_billing_customer(&deps, &input).await.unwrap();
    assert_eq!(second.billing_customer_id.as_deref(), Some("cus_123"));
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);

    // An id stored by someone else first is never overwritten, and is what the step reports.
    let (user2, tenant2) = billed_tenant(&app).await;
    let other = Arc::new(FakeBilling {
        calls: AtomicUsize::new(0),
        answer: Ok(Some("cus_late".to_owned())),
    });
    let racing = deps_with_race(&app, tenant2, other.clone());
    let out = ensure_billing_customer(
        &racing,
        &BillingInput {
            tenant_id: tenant2,
            user_id: user2,
        },
    )
    .await
    .unwrap();
    assert_eq!(out.billing_customer_id.as_deref(), Some("cus_first"));
    assert_eq!(
        stored_customer(&app, tenant2).await.as_deref(),
        Some("cus_first")
    );
    app.shutdown().await;
}

/// A provider that, while "creating" the customer, lets a concurrent attempt store another id first.
fn deps_with_race(app: &TestApp, tenant: Uuid, inner: Arc<FakeBilling>) -> Arc<Deps> {
    struct Racing {
        pool: sqlx::PgPool,
        tenant: Uuid,
        inner: Arc<FakeBilling>,
    }
    #[async_trait::async_trait]
    impl BillingProvider for Racing {
        async fn ensure_customer(
            &self,
            tenant_id: Uuid,
            email: &str,
            name: &str,
            key: &str,
        ) -> Result<Option<String>, BillingError> {
            sqlx::query(
                "UPDATE public.tenants SET billing_customer_id = 'cus_first' WHERE id = $1",
            )
            .bind(self.tenant)
            .execute(&self.pool)
            .await
            .unwrap();
            self.inner
                .ensure_customer(tenant_id, email, name, key)
                .await
        }
    }
    deps(
        app,
        Arc::new(Racing {
            pool: app.pool.clone(),
            tenant,
            inner,
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_rejections_are_final_and_outages_are_retried() {
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    let (user, tenant) = billed_tenant(&app).await;
    let input = BillingInput {
        tenant_id: tenant,
        user_id: user,
    };
    let rejected = deps(
        &app,
        Arc::new(FakeBilling {
            calls: AtomicUsize::new(0),
            answer: Err(BillingError::Rejected("card declined".to_owned())),
        }),
    );
    let ActivityError::Application(af) = ensure_billing_customer(&rejected, &input)
        .await
        .unwrap_err()
    else {
        panic!("expected an application failure")
    };
    assert_eq!(af.type_name(), Some("BillingRejected"));
    assert!(af.is_non_retryable());

    let down = deps(
        &app,
        Arc::new(FakeBilling {
            calls: AtomicUsize::new(0),
            answer: Err(BillingError::Transient("503".to_owned())),
        }),
    );
    let ActivityError::Application(af) = ensure_billing_customer(&down, &input).await.unwrap_err()
    else {
        panic!("expected an application failure")
    };
    assert!(!af.is_non_retryable());
    assert_eq!(stored_customer(&app, tenant).await, None);

    // A missing tenant is final too.
    let missing = ensure_billing_customer(
        &deps(&app, Arc::new(NoBilling)),
        &BillingInput {
            tenant_id: Uuid::now_v7(),
            user_id: user,
        },
    )
    .await
    .unwrap_err();
    let ActivityError::Application(af) = missing else {
        panic!("expected an application failure")
    };
    assert_eq!(af.type_name(), Some("TenantNotFound"));
    app.shutdown().await;
}
