//! The Temporal health probe: one namespace RPC, without the client's retries.

use std::time::Duration;

use async_trait::async_trait;
use temporalio_client::NamespacedClient;
use temporalio_client::tonic::IntoRequest;
use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest;
use tenantry_services::health::Probe;

use crate::client::TemporalConnection;

pub struct TemporalProbe {
    connection: TemporalConnection,
}

impl TemporalProbe {
    pub fn new(connection: TemporalConnection) -> Self {
        Self { connection }
    }
}

#[async_trait]
impl Probe for TemporalProbe {
    async fn check(&self) -> Result<(), String> {
        let client = self.connection.get().ok_or("not connected")?;
        let mut request = DescribeNamespaceRequest {
            namespace: client.namespace(),
            ..Default::default()
        }
        .into_request();
        request.set_timeout(Duration::from_secs(2));
        let mut service = client.connection().workflow_service();
        service
            .describe_namespace(request)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
