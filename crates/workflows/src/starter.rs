//! Starting a workflow from an outbox row: untyped (type name + JSON input), idempotent by id.

use async_trait::async_trait;
use temporalio_client::errors::WorkflowStartError;
use temporalio_client::{
    UntypedWorkflow, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowStartOptions,
};
use temporalio_common::data_converters::RawValue;
use temporalio_common::protos::coresdk::AsJsonPayloadExt;
use tenantry_services::outbox::{StartError, StartOutcome, StartRequest, WorkflowStarter};

use crate::client::TemporalConnection;

/// The relay's Temporal side. Reuse policy reject-duplicate and conflict policy use-existing
/// (workflows.md §1.3): a duplicate start of a running or finished workflow is a no-op.
pub struct TemporalStarter {
    connection: TemporalConnection,
}

impl TemporalStarter {
    pub fn new(connection: TemporalConnection) -> Self {
        Self { connection }
    }
}

#[async_trait]
impl WorkflowStarter for TemporalStarter {
    async fn start(&self, request: &StartRequest) -> Result<StartOutcome, StartError> {
        let Some(client) = self.connection.get() else {
            return Err(StartError::Unavailable(
                "not connected to temporal yet".to_owned(),
            ));
        };
        let payload = request
            .input
            .as_json_payload()
            .map_err(|e| StartError::Rejected(format!("input is not encodable: {e}")))?;
        let options =
            WorkflowStartOptions::new(request.task_queue.clone(), request.workflow_id.clone())
                .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
                .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
                .build();
        let started = client
            .start_workflow(
                UntypedWorkflow::new(request.workflow_type.clone()),
                RawValue::new(vec![payload]),
                options,
            )
            .await;
        match started {
            Ok(handle) => Ok(StartOutcome::Started {
                run_id: handle.run_id().unwrap_or_default().to_owned(),
            }),
            Err(WorkflowStartError::AlreadyStarted { run_id, .. }) => {
                Ok(StartOutcome::AlreadyStarted { run_id })
            }
            Err(WorkflowStartError::Rpc(status)) => {
                use temporalio_client::tonic::Code;
                match status.code() {
                    Code::InvalidArgument
                    | Code::NotFound
                    | Code::PermissionDenied
                    | Code::FailedPrecondition => {
                        Err(StartError::Rejected(status.message().to_owned()))
                    }
                    _ => Err(StartError::Unavailable(status.message().to_owned())),
                }
            }
            Err(e) => Err(StartError::Rejected(e.to_string())),
        }
    }
}
