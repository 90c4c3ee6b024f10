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

/// The Temporal server of this test process: `TEMPORAL_HOST` when it answers (scripts/test starts one per
/// run), otherwise a dev server started here from the `temporal` CLI (`TEMPORAL_BIN` or PATH) on a free
/// port. A watchdog stops that server when this process exits, so none outlives the tests.
pub async fn ensure_server() -> String {
    static HOST: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    HOST.get_or_init(|| async {
        let host = crate::temporal_host();
        if answers(&host).await {
            return host;
        }
        let port = free_port_block();
        let bin = std::env::var("TEMPORAL_BIN").unwrap_or_else(|_| "temporal".to_owned());
        let script = format!(
            "'{bin}' server start-dev --headless --ip 127.0.0.1 --port {p} --http-port {h} --metrics-port {m} --log-level error & \
             server=$!; while kill -0 {parent} 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 1; done; kill $server 2>/dev/null",
            p = port,
            h = port + 1,
            m = port + 2,
            parent = std::process::id(),
        );
        let spawned = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let host = format!("127.0.0.1:{port}");
        if spawned.is_ok() {
            for _ in 0..300 {
                if answers(&host).await {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        host
    })
    .await
    .clone()
}

async fn answers(host: &str) -> bool {
    let addr = host.trim_start_matches("http://");
    matches!(
        tokio::time::timeout(
            std::time::Duration::from_millis(500),
            tokio::net::TcpStream::connect(addr)
        )
        .await,
        Ok(Ok(_))
    )
}

/// Three consecutive free ports (gRPC, HTTP, metrics).
fn free_port_block() -> u16 {
    loop {
        let Ok(l) = std::net::TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = l.local_addr() else { continue };
        drop(l);
        let p = addr.port();
        if p < 60_000 && (1..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok()) {
            return p;
        }
    }
}
