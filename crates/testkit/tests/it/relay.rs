//! The outbox relay (workflows.md §2): every committed start request becomes exactly one workflow run,
//! with relays racing, a relay dying between start and mark, and Temporal down.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tenantry_services::outbox::{
    Relay, RelayOptions, StartError, StartOutcome, StartRequest, WorkflowStarter,
};
use tenantry_testkit::TestApp;
use tenantry_workflows::{TemporalConnection, TemporalStarter};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::support::{
    TemporalServer, closed_port, email_state, enqueue_email, enqueue_emails, eventually, metric,
    send,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_start_request_runs_its_workflow_once() {
    let app = TestApp::spawn().await.unwrap();
    let queue = tenantry_domain::jobs_queue(&app.settings.temporal_queue_prefix);
    let email_id = enqueue_email(&app.pool, &queue).await;

    let attempts: i32 = eventually("the email to be sent", Duration::from_secs(60), || async {
        let (sent, attempts) = email_state(&app.pool, email_id).await;
        sent.then_some(attempts)
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

/// One start call as a starter saw it: which relay made it, for which workflow, and what came back.
#[derive(Debug, Clone)]
struct Call {
    relay: usize,
    workflow_id: String,
    outcome: Result<StartOutcome, String>,
}

type Log = Arc<Mutex<Vec<Call>>>;

/// Delegates to the real starter and logs every call.
struct Recording {
    relay: usize,
    inner: Arc<dyn WorkflowStarter>,
    log: Log,
}

#[async_trait]
impl WorkflowStarter for Recording {
    async fn start(&self, request: &StartRequest) -> Result<StartOutcome, StartError> {
        let result = self.inner.start(request).await;
        self.log.lock().unwrap().push(Call {
            relay: self.relay,
            workflow_id: request.workflow_id.clone(),
            outcome: result.as_ref().map_err(ToString::to_string).cloned(),
        });
        result
    }
}

fn recording(relay: usize, connection: &TemporalConnection, log: &Log) -> Arc<dyn WorkflowStarter> {
    Arc::new(Recording {
        relay,
        inner: Arc::new(TemporalStarter::new(connection.clone())),
        log: log.clone(),
    })
}

/// A Temporal connection of our own, made before the app exists, for a starter handed to the app.
async fn own_connection() -> TemporalConnection {
    let mut settings = tenantry_settings::Settings::for_tests("postgres://unused").unwrap();
    settings.temporal_host = tenantry_testkit::temporal_host();
    let client = tenantry_workflows::client::connect(&settings)
        .await
        .unwrap();
    TemporalConnection::ready(client)
}

async fn undispatched(pool: &sqlx::PgPool) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM public.workflow_start_requests WHERE dispatched_at IS NULL",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_relays_start_every_workflow_exactly_once() {
    const EMAILS: usize = 50;
    const EXTRA_RELAYS: usize = 3;
    let connection = own_connection().await;
    let log: Log = Arc::default();
    // Relay 0 is the app's own; relays 1..=3 run on a pool of their own, like other replicas.
    let app = TestApp::builder()
        .starter(recording(0, &connection, &log))
        .spawn()
        .await
        .unwrap();
    let replica_pool = tenantry_store::connect(&app.database.url, 2 * EXTRA_RELAYS as u32)
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let mut replicas = Vec::new();
    for relay in 1..=EXTRA_RELAYS {
        let r = Relay::new(
            replica_pool.clone().into(),
            recording(relay, &connection, &log),
            RelayOptions::default(),
        );
        let stop = stop.clone();
        replicas.push(tokio::spawn(async move { r.run(stop).await }));
    }
    // Let every relay reach LISTEN, so one commit wakes all of them at once.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let queue = tenantry_domain::jobs_queue(&app.settings.temporal_queue_prefix);
    let ids = enqueue_emails(&app.pool, &queue, EMAILS).await;

    eventually(
        "every start request to be dispatched",
        Duration::from_secs(60),
        || async { (undispatched(&app.pool).await == 0).then_some(()) },
    )
    .await;
    eventually(
        "every email to be sent",
        Duration::from_secs(120),
        || async {
            for id in &ids {
                if !email_state(&app.pool, *id).await.0 {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    for id in &ids {
        assert_eq!(email_state(&app.pool, *id).await, (true, 1), "email {id}");
    }
    let (failed_attempts,): (i64,) =
        sqlx::query_as("SELECT coalesce(sum(attempts), 0) FROM public.workflow_start_requests")
            .fetch_one(&app.pool)
            .await
            .unwrap();

    let calls = log.lock().unwrap().clone();
    let expected: BTreeSet<String> = ids.iter().map(|id| format!("email-{id}")).collect();
    let mut run_of: BTreeMap<String, String> = BTreeMap::new();
    let mut started = BTreeSet::new();
    let mut duplicates = 0;
    for call in &calls {
        assert!(expected.contains(&call.workflow_id), "{call:?}");
        match &call.outcome {
            Ok(StartOutcome::Started { run_id }) => {
                if !started.insert(call.workflow_id.clone()) {
                    duplicates += 1;
                }
                let first = run_of
                    .entry(call.workflow_id.clone())
                    .or_insert_with(|| run_id.clone());
                assert_eq!(
                    first, run_id,
                    "a second Started must name the same run: {call:?}"
                );
            }
            Ok(StartOutcome::AlreadyStarted { run_id }) => {
                duplicates += 1;
                if let (Some(run_id), Some(first)) = (run_id, run_of.get(&call.workflow_id)) {
                    assert_eq!(first, run_id, "{call:?}");
                }
            }
            Err(_) => {}
        }
    }
    assert_eq!(
        started, expected,
        "exactly the {EMAILS} workflows were started"
    );
    let errors = calls.iter().filter(|c| c.outcome.is_err()).count();
    assert_eq!(
        i64::try_from(errors).unwrap(),
        failed_attempts,
        "every failed call is counted on its row"
    );
    let relays: BTreeSet<usize> = calls.iter().map(|c| c.relay).collect();
    assert!(
        relays.len() >= 2,
        "the relays really raced: only {relays:?} dispatched"
    );
    eprintln!(
        "{} start calls by relays {relays:?}: {EMAILS} started, {duplicates} duplicate, {errors} failed",
        calls.len()
    );

    // The run Temporal holds for each id is the one the relays reported.
    let client = app.temporal().await;
    for (workflow_id, run_id) in &run_of {
        let handle =
            client.get_workflow_handle::<temporalio_client::UntypedWorkflow>(workflow_id.clone());
        let info = handle
            .describe(temporalio_client::WorkflowDescribeOptions::default())
            .await
            .unwrap();
        assert_eq!(info.run_id(), run_id, "{workflow_id}");
    }

    stop.cancel();
    for r in replicas {
        r.await.unwrap();
    }
    replica_pool.close().await;
    app.shutdown().await;
}

/// Starts for real, then never returns on its first call: the relay "dies" after Temporal accepted the
/// start and before its transaction marks the row.
struct DiesAfterFirstStart {
    inner: Arc<dyn WorkflowStarter>,
    first: Mutex<Option<Result<StartOutcome, String>>>,
    reached: Notify,
}

#[async_trait]
impl WorkflowStarter for DiesAfterFirstStart {
    async fn start(&self, request: &StartRequest) -> Result<StartOutcome, StartError> {
        let result = self.inner.start(request).await;
        let is_first = {
            let mut first = self.first.lock().unwrap();
            let is_first = first.is_none();
            if is_first {
                *first = Some(result.as_ref().map_err(ToString::to_string).cloned());
            }
            is_first
        };
        if is_first {
            self.reached.notify_one();
            std::future::pending::<()>().await;
        }
        result
    }
}

async fn start_request_row(pool: &sqlx::PgPool, workflow_id: &str) -> (bool, i32) {
    let row: (Option<time::OffsetDateTime>, i32) = sqlx::query_as(
        "SELECT dispatched_at, attempts FROM public.workflow_start_requests WHERE workflow_id = $1",
    )
    .bind(workflow_id)
    .fetch_one(pool)
    .await
    .unwrap();
    (row.0.is_some(), row.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_dying_between_start_and_mark_causes_only_a_harmless_second_start() {
    let app = TestApp::builder().without_relay().spawn().await.unwrap();
    let dying = Arc::new(DiesAfterFirstStart {
        inner: Arc::new(TemporalStarter::new(app.connection.clone())),
        first: Mutex::new(None),
        reached: Notify::new(),
    });
    let relay = Relay::new(
        app.db.clone(),
        dying.clone(),
        RelayOptions {
            // Long enough that the relay's own timeout never fires before we kill it.
            start_timeout: Duration::from_secs(600),
            ..RelayOptions::default()
        },
    );
    let never = CancellationToken::new();
    let task = tokio::spawn(async move { relay.run(never).await });

    let queue = tenantry_domain::jobs_queue(&app.settings.temporal_queue_prefix);
    let email_id = enqueue_email(&app.pool, &queue).await;
    let workflow_id = format!("email-{email_id}");
    tokio::time::timeout(Duration::from_secs(60), dying.reached.notified())
        .await
        .expect("the first start to be made");
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());

    let first = dying.first.lock().unwrap().clone().unwrap();
    let Ok(StartOutcome::Started { run_id: first_run }) = first.clone() else {
        panic!("the first start reached Temporal: {first:?}");
    };
    assert_eq!(
        start_request_row(&app.pool, &workflow_id).await,
        (false, 0),
        "the dead relay marked nothing"
    );

    let log: Log = Arc::default();
    let relay = Relay::new(
        app.db.clone(),
        recording(1, &app.connection, &log),
        RelayOptions::default(),
    );
    let stop = CancellationToken::new();
    let stop_relay = stop.clone();
    let task = tokio::spawn(async move { relay.run(stop_relay).await });

    eventually(
        "the row to be dispatched",
        Duration::from_secs(60),
        || async {
            start_request_row(&app.pool, &workflow_id)
                .await
                .0
                .then_some(())
        },
    )
    .await;
    let calls = log.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    match &calls[0].outcome {
        Ok(StartOutcome::AlreadyStarted { run_id }) => {
            if let Some(run_id) = run_id {
                assert_eq!(run_id, &first_run);
            }
        }
        Ok(StartOutcome::Started { run_id }) => assert_eq!(run_id, &first_run, "same run"),
        Err(e) => panic!("second start failed: {e}"),
    }

    let attempts = eventually("the email to be sent", Duration::from_secs(60), || async {
        let (sent, attempts) = email_state(&app.pool, email_id).await;
        sent.then_some(attempts)
    })
    .await;
    assert_eq!(attempts, 1, "delivered exactly once");
    let client = app.temporal().await;
    let status =
        tenantry_testkit::temporal::wait_closed(&client, &workflow_id, Duration::from_secs(30))
            .await
            .unwrap();
    assert_eq!(
        status,
        temporalio_client::WorkflowExecutionStatus::Completed
    );
    let info = client
        .get_workflow_handle::<temporalio_client::UntypedWorkflow>(workflow_id.clone())
        .describe(temporalio_client::WorkflowDescribeOptions::default())
        .await
        .unwrap();
    assert_eq!(info.run_id(), first_run, "one run only");

    stop.cancel();
    task.await.unwrap();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_temporal_down_start_requests_wait_with_backoff_and_the_api_stays_up() {
    let (_held, port) = closed_port();
    let app = TestApp::builder()
        .without_worker()
        .env("TEMPORAL_HOST", &format!("127.0.0.1:{port}"))
        .spawn()
        .await
        .unwrap();
    let errors_series = "tenantry_outbox_dispatch_total{result=\"error\"}";
    let page = send(app.http.get(app.url("/metrics"))).await.text;
    let errors_before = metric(&page, errors_series).unwrap();

    let queue = tenantry_domain::jobs_queue(&app.settings.temporal_queue_prefix);
    let email_id = enqueue_email(&app.pool, &queue).await;
    let workflow_id = format!("email-{email_id}");

    let row_now = || async {
        let row: (i32, Option<String>, bool, bool) = sqlx::query_as(
            "SELECT attempts, last_error, dispatched_at IS NULL, next_attempt_at > now() \
             FROM public.workflow_start_requests WHERE workflow_id = $1",
        )
        .bind(&workflow_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        row
    };
    let (attempts, last_error) = eventually(
        "a failed attempt pushed into the future",
        Duration::from_secs(30),
        || async {
            let (attempts, last_error, waiting, in_future) = row_now().await;
            assert!(waiting, "never dispatched while Temporal is down");
            (attempts >= 2 && in_future).then_some((attempts, last_error))
        },
    )
    .await;
    let last_error = last_error.expect("last_error recorded");
    assert!(!last_error.is_empty() && last_error.chars().count() <= 1000);
    let (_, _, waiting, _) = row_now().await;
    assert!(waiting);
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM public.workflow_start_requests")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1, "rows are never dropped");
    assert_eq!(email_state(&app.pool, email_id).await, (false, 0));

    eventually(
        "failed dispatches to be counted",
        Duration::from_secs(10),
        || async {
            let page = send(app.http.get(app.url("/metrics"))).await.text;
            let errors_after = metric(&page, errors_series).unwrap();
            (errors_after - errors_before >= f64::from(attempts)).then_some(())
        },
    )
    .await;

    let health = send(app.http.get(app.url("/health"))).await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.json["temporal"], "unhealthy");
    let ready = send(app.http.get(app.url("/ready"))).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json["checks"]["temporal"]["status"], "down");
    assert_eq!(ready.json["checks"]["temporal"]["required"], false);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_and_late_duplicate_starts_never_make_a_second_run() {
    const STARTERS: usize = 8;
    // No relay: the duplicate starts below are the only ones.
    let app = TestApp::builder().without_relay().spawn().await.unwrap();
    app.temporal().await;
    let queue = tenantry_domain::jobs_queue(&app.settings.temporal_queue_prefix);
    let email_id = enqueue_email(&app.pool, &queue).await;
    let request = StartRequest {
        workflow_id: format!("email-{email_id}"),
        workflow_type: "SendEmail".to_owned(),
        task_queue: queue,
        input: serde_json::json!({ "email_id": email_id }),
    };
    let starter = Arc::new(TemporalStarter::new(app.connection.clone()));
    let barrier = Arc::new(tokio::sync::Barrier::new(STARTERS));
    let mut tasks = Vec::new();
    for _ in 0..STARTERS {
        let (starter, barrier, request) = (starter.clone(), barrier.clone(), request.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            starter.start(&request).await
        }));
    }
    let mut runs = BTreeSet::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(StartOutcome::Started { run_id }) => {
                runs.insert(run_id);
            }
            Ok(StartOutcome::AlreadyStarted { run_id }) => runs.extend(run_id),
            Err(e) => panic!("a duplicate start is not an error: {e}"),
        }
    }
    assert_eq!(runs.len(), 1, "one run for all starts: {runs:?}");
    let run = runs.into_iter().next().unwrap();

    let attempts = eventually("the email to be sent", Duration::from_secs(60), || async {
        let (sent, attempts) = email_state(&app.pool, email_id).await;
        sent.then_some(attempts)
    })
    .await;
    assert_eq!(attempts, 1);
    let client = app.temporal().await;
    let status = tenantry_testkit::temporal::wait_closed(
        &client,
        &request.workflow_id,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(
        status,
        temporalio_client::WorkflowExecutionStatus::Completed
    );

    // A start after the run closed is "already started" (reject-duplicate), not a second run.
    match starter.start(&request).await {
        Ok(StartOutcome::AlreadyStarted { run_id }) => {
            if let Some(run_id) = run_id {
                assert_eq!(run_id, run);
            }
        }
        other => panic!("expected AlreadyStarted after the run closed: {other:?}"),
    }
    let info = client
        .get_workflow_handle::<temporalio_client::UntypedWorkflow>(request.workflow_id.clone())
        .describe(temporalio_client::WorkflowDescribeOptions::default())
        .await
        .unwrap();
    assert_eq!(info.run_id(), run, "still the one run");
    assert_eq!(email_state(&app.pool, email_id).await, (true, 1));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_requests_made_while_temporal_is_down_run_once_it_comes_up() {
    let (held, port) = closed_port();
    let app = TestApp::builder()
        .env("TEMPORAL_HOST", &format!("127.0.0.1:{port}"))
        .spawn()
        .await
        .unwrap();
    let queue = tenantry_domain::jobs_queue(&app.settings.temporal_queue_prefix);
    let email_id = enqueue_email(&app.pool, &queue).await;
    let workflow_id = format!("email-{email_id}");
    eventually(
        "a failed dispatch attempt",
        Duration::from_secs(30),
        || async {
            let (dispatched, attempts) = start_request_row(&app.pool, &workflow_id).await;
            assert!(!dispatched, "nothing to dispatch to");
            (attempts >= 1).then_some(())
        },
    )
    .await;

    // Temporal appears where the app has been looking for it.
    drop(held);
    let _temporal = TemporalServer::start_on(port).await;

    let attempts = eventually("the email to be sent", Duration::from_secs(120), || async {
        let (sent, attempts) = email_state(&app.pool, email_id).await;
        sent.then_some(attempts)
    })
    .await;
    assert_eq!(attempts, 1, "delivered exactly once");
    let (dispatched, failed_attempts) = start_request_row(&app.pool, &workflow_id).await;
    assert!(dispatched);
    assert!(failed_attempts >= 1);
    let client = app.temporal().await;
    let status =
        tenantry_testkit::temporal::wait_closed(&client, &workflow_id, Duration::from_secs(30))
            .await
            .unwrap();
    assert_eq!(
        status,
        temporalio_client::WorkflowExecutionStatus::Completed
    );
    app.shutdown().await;
}
