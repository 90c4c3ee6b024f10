//! The Temporal client: built from settings, connected in the background so a process keeps running
//! (and the outbox keeps filling) while Temporal is down.

use std::time::Duration;

use temporalio_client::{Client, ClientOptions, ConnectionOptions, Url};
use tenantry_settings::Settings;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("TEMPORAL_HOST '{0}' is not a valid address")]
    InvalidHost(String),
    #[error("temporal connection failed: {0}")]
    Connect(String),
    #[error("temporal connection timed out")]
    Timeout,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `localhost:7233`, `http://host:7233` and `https://host:7233` are all accepted.
pub fn host_url(host: &str) -> Result<Url, ConnectError> {
    let with_scheme = if host.contains("://") {
        host.to_owned()
    } else {
        format!("http://{host}")
    };
    Url::parse(&with_scheme).map_err(|_| ConnectError::InvalidHost(host.to_owned()))
}

/// One connection attempt (the SDK connects eagerly and checks the server).
pub async fn connect(settings: &Settings) -> Result<Client, ConnectError> {
    let url = host_url(&settings.temporal_host)?;
    let options = ConnectionOptions::new(url)
        .connect_timeout(CONNECT_TIMEOUT)
        .build();
    let client_options = ClientOptions::new(settings.temporal_namespace.clone()).build();
    match tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(options, client_options)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(ConnectError::Connect(e.to_string())),
        Err(_) => Err(ConnectError::Timeout),
    }
}

/// A client that appears once Temporal first answers. After that the SDK client rides out outages itself.
#[derive(Clone)]
pub struct TemporalConnection {
    rx: watch::Receiver<Option<Client>>,
}

impl TemporalConnection {
    /// Starts connecting in the background, retrying with backoff until `shutdown`.
    pub fn spawn(settings: &Settings, shutdown: CancellationToken) -> Self {
        let (tx, rx) = watch::channel(None);
        let settings = settings.clone();
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(200);
            let mut warned = false;
            loop {
                match connect(&settings).await {
                    Ok(client) => {
                        tracing::info!(host = %settings.temporal_host, "connected to temporal");
                        let _ = tx.send(Some(client));
                        return;
                    }
                    Err(e) => {
                        if !warned {
                            tracing::warn!(host = %settings.temporal_host, error = %e, "temporal not reachable; retrying in the background");
                            warned = true;
                        }
                    }
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        });
        Self { rx }
    }

    /// A connection that is already established.
    pub fn ready(client: Client) -> Self {
        let (_tx, rx) = watch::channel(Some(client));
        Self { rx }
    }

    pub fn get(&self) -> Option<Client> {
        self.rx.borrow().clone()
    }

    /// Waits until connected or `timeout` passes.
    pub async fn wait(&self, timeout: Duration) -> Option<Client> {
        let mut rx = self.rx.clone();
        let found = tokio::time::timeout(timeout, rx.wait_for(Option::is_some)).await;
        match found {
            Ok(Ok(client)) => client.clone(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_get_a_scheme() {
        assert_eq!(
            host_url("localhost:7233").unwrap().as_str(),
            "http://localhost:7233/"
        );
        assert_eq!(
            host_url("https://t.example:7233").unwrap().scheme(),
            "https"
        );
    }
}
