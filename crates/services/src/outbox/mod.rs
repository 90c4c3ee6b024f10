//! Workflow starts go through the transactional outbox: business transactions write start requests,
//! and the relay hands them to Temporal through a [`WorkflowStarter`].

mod relay;

use async_trait::async_trait;
use serde_json::Value;

pub use relay::{Relay, RelayOptions};

/// What the relay asks Temporal to do for one outbox row.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub workflow_id: String,
    pub workflow_type: String,
    pub task_queue: String,
    pub input: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    Started {
        run_id: String,
    },
    /// A run with this id is open or closed already; by the start policies that is a successful dispatch.
    AlreadyStarted {
        run_id: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Temporal unreachable, timed out or overloaded: retried with backoff.
    #[error("temporal unavailable: {0}")]
    Unavailable(String),
    /// The request itself is wrong (unknown workflow type, bad input, unknown namespace): still retried,
    /// since rows are never dropped, but logged at error level.
    #[error("start rejected: {0}")]
    Rejected(String),
}

/// Starts a workflow idempotently by id (reuse policy reject-duplicate, conflict policy use-existing).
#[async_trait]
pub trait WorkflowStarter: Send + Sync {
    async fn start(&self, request: &StartRequest) -> Result<StartOutcome, StartError>;
}
