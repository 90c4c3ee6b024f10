//! The TokenCleanup schedule: ensured by jobs workers, created once however many race, updated when the
//! settings change.

use std::time::{Duration, SystemTime};

use futures::StreamExt;
use temporalio_client::schedules::{
    ListSchedulesOptions, ScheduleDescription, ScheduleDescriptionAction,
};
use temporalio_client::{Client, RpcOptions};
use tenantry_domain::jobs_queue;
use tenantry_settings::Settings;
use tenantry_testkit::TestApp;
use tenantry_workflows::schedule::{
    EnsureOutcome, delete_cleanup_schedule, desired_note, ensure_cleanup_schedule, schedule_id,
};
use tenantry_workflows::workflows::cleanup::CleanupInput;

use crate::common::*;

async fn describe(client: &Client, settings: &Settings) -> Option<ScheduleDescription> {
    client
        .get_schedule_handle(schedule_id(settings))
        .describe(RpcOptions::default())
        .await
        .ok()
}

/// (hour, minute) in UTC of every upcoming run the server computed.
fn upcoming(desc: &ScheduleDescription) -> Vec<(u8, u8)> {
    desc.future_action_times()
        .into_iter()
        .map(|t: SystemTime| {
            let t = time::OffsetDateTime::from(t);
            (t.hour(), t.minute())
        })
        .collect()
}

/// The schedule matches `settings`: note, UTC cron times, skip overlap, 1 h catch-up, TokenCleanup on the
/// jobs queue with the configured retention.
async fn assert_matches(desc: &ScheduleDescription, settings: &Settings, at: (u8, u8)) {
    assert_eq!(desc.note(), Some(desired_note(settings).as_str()));
    let times = upcoming(desc);
    assert!(!times.is_empty(), "no upcoming runs");
    assert!(times.iter().all(|t| *t == at), "{times:?} vs {at:?}");
    let policies = desc.raw().schedule.as_ref().unwrap().policies.unwrap();
    assert_eq!(policies.overlap_policy, 1, "overlap policy must be skip");
    assert_eq!(policies.catchup_window.unwrap().seconds, 3600);
    let ScheduleDescriptionAction::StartWorkflow(action) = desc.action() else {
        panic!("unexpected schedule action")
    };
    assert_eq!(action.workflow_type(), "TokenCleanup");
    assert_eq!(
        action.task_queue(),
        jobs_queue(&settings.temporal_queue_prefix)
    );
    let input: CleanupInput = action.args().await.unwrap().unwrap();
    assert_eq!(input.retention_days, settings.cleanup_retention_days);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_worker_ensures_its_cleanup_schedule_at_start() {
    let app = TestApp::builder().without_relay().spawn().await.unwrap();
    let client = app.temporal().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let desc = loop {
        if let Some(d) = describe(&client, &app.settings).await
            && d.note() == Some(desired_note(&app.settings).as_str())
        {
            break d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never set up {}",
            schedule_id(&app.settings)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_matches(&desc, &app.settings, (3, 17)).await;
    delete_cleanup_schedule(&client, &app.settings)
        .await
        .unwrap();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_workers_create_the_schedule_once_and_a_new_cron_updates_it() {
    // No worker of its own: this test is the only one ensuring this prefix's schedule.
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .spawn()
        .await
        .unwrap();
    let client = app.temporal().await;
    let settings = app.settings.clone();
    assert!(describe(&client, &settings).await.is_none());

    // Two "workers" starting at once, each ensuring ten times concurrently.
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (client, settings, barrier) = (client.clone(), settings.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                futures::future::join_all(
                    (0..10).map(|_| ensure_cleanup_schedule(&client, &settings)),
                )
                .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        for r in t.await.unwrap() {
            outcomes.push(r.unwrap());
        }
    }
    assert_eq!(outcomes.len(), 20);
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == EnsureOutcome::Created)
            .count(),
        1,
        "{outcomes:?}"
    );
    let desc = describe(&client, &settings).await.unwrap();
    assert_matches(&desc, &settings, (3, 17)).await;

    // Listed exactly once (visibility lags a little behind the create).
    let id = schedule_id(&settings);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let listed: Vec<_> = client
            .list_schedules(ListSchedulesOptions::default())
            .filter_map(|s| async move { s.ok() })
            .filter(|s| futures::future::ready(s.schedule_id() == id))
            .collect()
            .await;
        assert!(listed.len() <= 1, "{} schedules named {id}", listed.len());
        if listed.len() == 1 {
            assert_eq!(listed[0].workflow_type(), Some("TokenCleanup"));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} never listed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Nothing changed: nothing to do.
    assert_eq!(
        ensure_cleanup_schedule(&client, &settings).await.unwrap(),
        EnsureOutcome::Unchanged
    );

    // A new cron (and retention) in the settings: the next worker start updates the schedule in place.
    let changed = settings_with(
        &app,
        &[
            ("CLEANUP_SCHEDULE", "45 4 * * *"),
            ("CLEANUP_RETENTION_DAYS", "14"),
        ],
    );
    assert_eq!(schedule_id(&changed), id);
    assert_eq!(
        ensure_cleanup_schedule(&client, &changed).await.unwrap(),
        EnsureOutcome::Updated
    );
    let desc = describe(&client, &changed).await.unwrap();
    assert_matches(&desc, &changed, (4, 45)).await;
    assert_eq!(
        ensure_cleanup_schedule(&client, &changed).await.unwrap(),
        EnsureOutcome::Unchanged
    );

    delete_cleanup_schedule(&client, &settings).await.unwrap();
    assert!(describe(&client, &settings).await.is_none());
    // Deleting what is gone is fine.
    delete_cleanup_schedule(&client, &settings).await.unwrap();
    app.shutdown().await;
}

#[test]
fn the_default_prefix_uses_the_contract_schedule_id() {
    let app_vars = [
        ("APP_ENV", "test"),
        ("DATABASE_URL", "postgres://localhost/unused"),
        ("JWT_SECRET_KEY", tenantry_testkit::TEST_JWT_SECRET),
    ];
    let vars = app_vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let settings = Settings::from_map(vars).unwrap();
    assert_eq!(settings.temporal_queue_prefix, "tenantry");
    assert_eq!(schedule_id(&settings), "tenantry-token-cleanup");
}
