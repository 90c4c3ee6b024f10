//! The Redis readiness probe: one `PING` on a managed connection.

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use tenantry_services::health::Probe;
use tokio::sync::OnceCell;

pub struct RedisProbe {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
}

impl RedisProbe {
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            connection: OnceCell::new(),
        })
    }
}

#[async_trait]
impl Probe for RedisProbe {
    async fn check(&self) -> Result<(), String> {
        let conn = self
            .connection
            .get_or_try_init(|| ConnectionManager::new(self.client.clone()))
            .await
            .map_err(|e| e.to_string())?;
        let mut conn = conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
