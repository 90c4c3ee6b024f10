//! Temporal helpers for tests: inspecting workflow runs by id.

use temporalio_client::{
    Client, UntypedWorkflow, WorkflowDescribeOptions, WorkflowExecutionStatus,
};

/// The status of the latest run of `workflow_id`, or `None` when Temporal has no such workflow.
pub async fn status(client: &Client, workflow_id: &str) -> Option<WorkflowExecutionStatus> {
    let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id.to_owned());
    handle
        .describe(WorkflowDescribeOptions::default())
        .await
        .ok()
        .map(|d| d.status())
}

/// Polls until the latest run of `workflow_id` is closed, or `timeout` passes.
pub async fn wait_closed(
    client: &Client,
    workflow_id: &str,
    timeout: std::time::Duration,
) -> Option<WorkflowExecutionStatus> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(s) = status(client, workflow_id).await
            && s != WorkflowExecutionStatus::Running
        {
            return Some(s);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
