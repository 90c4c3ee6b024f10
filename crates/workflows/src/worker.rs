//! Temporal workers (workflows.md §1.2): one SDK worker per task queue, every workflow type and every
//! activity registered on each, graceful shutdown on the process's shutdown token.

use std::sync::Arc;
use std::time::Duration;

use temporalio_client::Client;
use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use tenantry_domain::{jobs_queue, tenant_queue};
use tenantry_settings::Settings;
use tokio_util::sync::CancellationToken;

use crate::activities::Deps;
use crate::activities::cleanup::CleanupActivities;
use crate::activities::email::EmailActivities;
use crate::activities::onboarding::OnboardingActivities;
use crate::activities::tenant::TenantActivities;
use crate::options::{self, RetryTuning};
use crate::workflows::cleanup::TokenCleanup;
use crate::workflows::deletion::TenantDeletion;
use crate::workflows::onboarding::UserOnboarding;
use crate::workflows::provisioning::TenantProvisioning;
use crate::workflows::send_email::SendEmail;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Tenant,
    Jobs,
    All,
}

impl Workload {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::Jobs => "jobs",
            Self::All => "all",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    Tenant,
    Jobs,
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub name: String,
    pub kind: QueueKind,
}

/// The queues a worker of `workload` polls: the given tenant shards (all when `None`) and/or the jobs queue.
pub fn queues(settings: &Settings, workload: Workload, shards: Option<&[u16]>) -> Vec<Queue> {
    let prefix = &settings.temporal_queue_prefix;
    let mut out = Vec::new();
    if matches!(workload, Workload::Tenant | Workload::All) {
        let all: Vec<u16> = (0..settings.temporal_queue_shards).collect();
        for shard in shards.unwrap_or(&all) {
            out.push(Queue {
                name: tenant_queue(prefix, *shard),
                kind: QueueKind::Tenant,
            });
        }
    }
    if matches!(workload, Workload::Jobs | Workload::All) {
        out.push(Queue {
            name: jobs_queue(prefix),
            kind: QueueKind::Jobs,
        });
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("worker setup failed: {0}")]
    Setup(String),
    #[error("worker stopped with an error: {0}")]
    Run(String),
}

fn slots(kind: QueueKind) -> usize {
    match kind {
        QueueKind::Tenant => 20,
        QueueKind::Jobs => 50,
    }
}

fn build(
    runtime: &Runtime,
    client: &Client,
    deps: &Arc<Deps>,
    queue: &Queue,
) -> Result<Worker, WorkerError> {
    let n = slots(queue.kind);
    let tuner = TunerHolder::builder()
        .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(n))
        .activity_task_slot_supplier(FixedSizeSlotSupplier::new(n))
        .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(n))
        .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .build();
    let options = WorkerOptions::new(queue.name.clone())
        .register_workflow::<SendEmail>()
        .map_err(|e| WorkerError::Setup(e.to_string()))?
        .register_workflow::<TenantProvisioning>()
        .map_err(|e| WorkerError::Setup(e.to_string()))?
        .register_workflow::<TenantDeletion>()
        .map_err(|e| WorkerError::Setup(e.to_string()))?
        .register_workflow::<UserOnboarding>()
        .map_err(|e| WorkerError::Setup(e.to_string()))?
        .register_workflow::<TokenCleanup>()
        .map_err(|e| WorkerError::Setup(e.to_string()))?
        .register_activities(EmailActivities { deps: deps.clone() })
        .register_activities(TenantActivities { deps: deps.clone() })
        .register_activities(OnboardingActivities { deps: deps.clone() })
        .register_activities(CleanupActivities { deps: deps.clone() })
        .tuner(tuner)
        .graceful_shutdown_period(deps.settings.worker_shutdown_grace)
        .build();
    Worker::new(runtime, client.clone(), options).map_err(|e| WorkerError::Setup(e.to_string()))
}

/// Runs workers on `queues` until `shutdown` is cancelled and they have drained. The future is not
/// `Send` (workflows are local futures): await it on a task of its own runtime or thread.
pub async fn run(
    deps: Arc<Deps>,
    client: Client,
    queues: &[Queue],
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    options::set_tuning(RetryTuning {
        initial: deps.settings.activity_retry_initial,
        maximum: deps.settings.activity_retry_max,
    });
    let runtime = Runtime::from_current_tokio(Default::default())
        .map_err(|e| WorkerError::Setup(e.to_string()))?;
    let mut workers = queues
        .iter()
        .map(|q| build(&runtime, &client, &deps, q))
        .collect::<Result<Vec<_>, _>>()?;
    if queues.iter().any(|q| q.kind == QueueKind::Jobs) {
        // In the background, so polling starts at once; a failure is logged and never stops the worker
        // (the next jobs worker to start ensures the schedule again).
        tokio::spawn(crate::schedule::ensure_in_background(
            client.clone(),
            deps.settings.clone(),
            shutdown.clone(),
        ));
    }
    let handles: Vec<_> = workers.iter().map(|w| w.shutdown_handle()).collect();
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        stopper.cancelled().await;
        for stop in handles {
            stop();
        }
    });
    tracing::info!(queues = ?queues.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(), "worker polling");
    let results = futures::future::join_all(workers.iter_mut().map(Worker::run)).await;
    for r in results {
        r.map_err(|e| WorkerError::Run(e.to_string()))?;
    }
    Ok(())
}

/// Like [`run`], but rides out a Temporal that is down at start or drops away: waits for the connection
/// and restarts the workers until `shutdown`.
pub async fn run_until_shutdown(
    deps: Arc<Deps>,
    connection: crate::client::TemporalConnection,
    queues: Vec<Queue>,
    shutdown: CancellationToken,
) {
    let mut delay = Duration::from_millis(500);
    loop {
        let client = tokio::select! {
            () = shutdown.cancelled() => return,
            client = connection.wait(Duration::from_secs(3600)) => client,
        };
        let Some(client) = client else { continue };
        match run(deps.clone(), client, &queues, shutdown.clone()).await {
            Ok(()) if shutdown.is_cancelled() => return,
            Ok(()) => tracing::warn!("workers stopped; restarting"),
            Err(e) => tracing::warn!(error = %e, "workers failed; restarting"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}
