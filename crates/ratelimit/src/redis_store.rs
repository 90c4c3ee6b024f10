//! The Redis store: one Lua script does the check-and-take for all buckets of a request.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::RateLimitError;
use crate::bucket::Bucket;

pub(crate) struct RedisStore {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    script: redis::Script,
    /// Created lazily because building a `ConnectionManager` needs a running Tokio runtime, which
    /// `RateLimiter::new` does not require. The lock is only held to clone or replace the handle.
    conn: Mutex<Option<ConnectionManager>>,
}

/// The script's answer: whether cost was taken, and the scaled level of every bucket.
pub(crate) struct Levels {
    pub(crate) allowed: bool,
    pub(crate) levels: Vec<u64>,
}

impl RedisStore {
    pub(crate) fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, RateLimitError> {
        let client = redis::Client::open(url).map_err(RateLimitError::InvalidRedisUrl)?;
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
            timeout,
            script: redis::Script::new(include_str!("check_and_take.lua")),
            conn: Mutex::new(None),
        })
    }

    /// A manager that does not retry on its own: while Redis is failing, the limiter answers from memory
    /// and probes on its own schedule, so internal backoff would only delay requests.
    fn new_connection(&self) -> Result<ConnectionManager, RateLimitError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(0);
        Ok(ConnectionManager::new_lazy_with_config(
            self.client.clone(),
            config,
        )?)
    }

    fn connection(&self) -> Result<ConnectionManager, RateLimitError> {
        let mut slot = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let conn = self.new_connection()?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    fn install(&self, conn: ConnectionManager) {
        *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn);
    }

    /// Bounds a whole exchange (connecting, EVALSHA, and the SCRIPT LOAD + retry after NOSCRIPT), so a hung
    /// Redis costs a request at most this long.
    async fn bounded<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, RateLimitError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(RateLimitError::Timeout(self.timeout)),
        }
    }

    pub(crate) async fn check(
        &self,
        buckets: &[Bucket],
        cost: u32,
    ) -> Result<Levels, RateLimitError> {
        let mut conn = self.connection()?;
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(cost);
        for bucket in buckets {
            invocation
                .key(format!("{}{}", self.prefix, bucket.key()))
                .arg(bucket.capacity())
                .arg(bucket.refill_tokens())
                .arg(bucket.period_ms());
        }
        let reply: Vec<i64> = self.bounded(invocation.invoke_async(&mut conn)).await?;
        parse_reply(&reply, buckets.len())
    }

    /// Checks a fresh connection; on success it replaces the one in use, which may still be stuck on the
    /// socket that broke when the outage began.
    pub(crate) async fn probe(&self) -> Result<(), RateLimitError> {
        let mut conn = self.new_connection()?;
        let _: String = self
            .bounded(redis::cmd("PING").query_async(&mut conn))
            .await?;
        self.install(conn);
        Ok(())
    }

    /// Pings over the connection in use (creating it if needed).
    pub(crate) async fn ping(&self) -> Result<(), RateLimitError> {
        let mut conn = self.connection()?;
        let _: String = self
            .bounded(redis::cmd("PING").query_async(&mut conn))
            .await?;
        Ok(())
    }
}

fn parse_reply(reply: &[i64], buckets: usize) -> Result<Levels, RateLimitError> {
    let (&allowed, levels) = reply.split_first().ok_or(RateLimitError::UnexpectedReply)?;
    if levels.len() != buckets || !(allowed == 0 || allowed == 1) {
        return Err(RateLimitError::UnexpectedReply);
    }
    let levels = levels
        .iter()
        .map(|&level| u64::try_from(level).map_err(|_| RateLimitError::UnexpectedReply))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Levels {
        allowed: allowed == 1,
        levels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_shape_is_validated() {
        let ok = parse_reply(&[1, 5, 0], 2).unwrap();
        assert!(ok.allowed);
        assert_eq!(ok.levels, [5, 0]);
        assert!(parse_reply(&[], 0).is_err());
        assert!(parse_reply(&[1, 5], 2).is_err());
        assert!(parse_reply(&[2, 5], 1).is_err());
        assert!(parse_reply(&[0, -1], 1).is_err());
    }

    #[test]
    fn unparsable_url_is_rejected() {
        assert!(matches!(
            RedisStore::new("not a url", "p:", Duration::from_millis(250)),
            Err(RateLimitError::InvalidRedisUrl(_))
        ));
    }
}
