//! Token-bucket rate limiting (spec §0.7) backed by Redis, with an in-process fallback.
//!
//! All buckets of one request are checked and charged atomically: either every bucket has the cost and it
//! is taken from all of them, or nothing is taken. Redis does this in one Lua script using server time; the
//! in-process store does the same under one lock. When Redis is not configured the limiter uses memory;
//! when Redis fails it answers from memory, warns once per outage, and probes Redis again at most once per
//! retry interval (5 s by default).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod bucket;
mod health;
mod memory;
mod redis_store;

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub use bucket::{Bucket, Decision};

use health::{Health, Route};
use memory::MemoryStore;
use redis_store::RedisStore;

/// Name of the gauge reporting the store in use (spec §8).
pub const BACKEND_GAUGE: &str = "tenantry_rate_limit_backend";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimitError {
    #[error("invalid Redis URL")]
    InvalidRedisUrl(#[source] redis::RedisError),
    #[error("Redis command failed")]
    Redis(#[from] redis::RedisError),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("unexpected reply from the rate-limit script")]
    UnexpectedReply,
}

/// The store that answers requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Redis,
    Memory,
}

impl Backend {
    /// The `backend` label value of [`BACKEND_GAUGE`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Memory => "memory",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings for [`RateLimiter::with_config`]; [`RateLimiterConfig::new`] fills in the defaults.
#[derive(Clone)]
#[non_exhaustive]
pub struct RateLimiterConfig {
    /// `None`: in-process store only.
    pub redis_url: Option<String>,
    /// Prepended verbatim to every bucket key in Redis (e.g. `"tenantry:rl:"`).
    pub key_prefix: String,
    /// Upper bound for one Redis exchange, connecting included. Default 250 ms.
    pub command_timeout: Duration,
    /// Minimum time between attempts to reach Redis again during an outage. Default 5 s.
    pub retry_interval: Duration,
    /// Maximum number of keys in the in-process store. Default 100 000.
    pub memory_capacity: NonZeroUsize,
}

impl RateLimiterConfig {
    pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(250);
    pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(5);
    pub const DEFAULT_MEMORY_CAPACITY: NonZeroUsize = NonZeroUsize::new(100_000).unwrap();

    pub fn new(redis_url: Option<&str>, key_prefix: &str) -> Self {
        Self {
            redis_url: redis_url.map(str::to_owned),
            key_prefix: key_prefix.to_owned(),
            command_timeout: Self::DEFAULT_COMMAND_TIMEOUT,
            retry_interval: Self::DEFAULT_RETRY_INTERVAL,
            memory_capacity: Self::DEFAULT_MEMORY_CAPACITY,
        }
    }
}

// Hand-written so the URL, which may carry a password, never reaches a log.
impl fmt::Debug for RateLimiterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiterConfig")
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<set>"))
            .field("key_prefix", &self.key_prefix)
            .field("command_timeout", &self.command_timeout)
            .field("retry_interval", &self.retry_interval)
            .field("memory_capacity", &self.memory_capacity)
            .finish()
    }
}

/// The rate limiter. Cheap to clone; clones share all state.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    enabled: bool,
    memory: MemoryStore,
    redis: Option<RedisStore>,
    health: Mutex<Health>,
}

impl RateLimiter {
    /// A limiter using Redis at `redis_url` (keys prefixed with `key_prefix`), or memory only when `None`.
    ///
    /// Does not connect: a Redis that is down at start is not an error (requests are answered from memory
    /// until it is reachable). Only an unparsable URL is.
    pub fn new(redis_url: Option<&str>, key_prefix: &str) -> Result<Self, RateLimitError> {
        Self::with_config(RateLimiterConfig::new(redis_url, key_prefix))
    }

    /// Like [`RateLimiter::new`], with timeouts, retry interval and memory size under the caller's control.
    ///
    /// When called inside a Tokio runtime it also starts a connection attempt in the background, so that an
    /// unreachable Redis is reported (and the gauge switched) before the first request.
    pub fn with_config(config: RateLimiterConfig) -> Result<Self, RateLimitError> {
        let redis = config
            .redis_url
            .as_deref()
            .map(|url| RedisStore::new(url, &config.key_prefix, config.command_timeout))
            .transpose()?;
        let limiter = Self {
            inner: Arc::new(Inner {
                enabled: true,
                memory: MemoryStore::new(config.memory_capacity),
                redis,
                health: Mutex::new(Health::new(config.retry_interval, Instant::now())),
            }),
        };
        limiter.publish_metrics();
        if limiter.inner.redis.is_some()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let this = limiter.clone();
            runtime.spawn(async move { this.initial_connect().await });
        }
        Ok(limiter)
    }

    /// A limiter that allows everything (`RATE_LIMIT_ENABLED=false`). Its decisions report every bucket full.
    pub fn disabled() -> Self {
        let limiter = Self {
            inner: Arc::new(Inner {
                enabled: false,
                memory: MemoryStore::new(NonZeroUsize::MIN),
                redis: None,
                health: Mutex::new(Health::new(
                    RateLimiterConfig::DEFAULT_RETRY_INTERVAL,
                    Instant::now(),
                )),
            }),
        };
        limiter.publish_metrics();
        limiter
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.enabled
    }

    /// Checks all `buckets` of one request and, only if every one holds `cost` tokens, takes `cost` from each.
    ///
    /// Never fails: when Redis is unavailable the in-process store answers. Keys within one call should be
    /// distinct (a repeated key is charged once).
    pub async fn check(&self, buckets: &[Bucket], cost: u32) -> Decision {
        let inner = &*self.inner;
        if !inner.enabled || buckets.is_empty() {
            return Decision::unlimited(buckets);
        }
        if let Some(redis) = &inner.redis {
            let route = self.health().route(Instant::now());
            match route {
                Route::Redis { epoch } => match redis.check(buckets, cost).await {
                    Ok(reply) => {
                        return Decision::from_levels(buckets, &reply.levels, reply.allowed, cost);
                    }
                    Err(error) => self.redis_failed(epoch, &error),
                },
                Route::Memory { probe: true } => self.spawn_probe(),
                Route::Memory { probe: false } => {}
            }
        }
        inner.memory.check(buckets, cost)
    }

    /// The store currently answering requests (`Memory` for a disabled limiter).
    pub fn backend(&self) -> Backend {
        if self.inner.redis.is_some() && self.health().is_up() {
            Backend::Redis
        } else {
            Backend::Memory
        }
    }

    /// Sets [`BACKEND_GAUGE`] for the current backend (both labels 0 when disabled). The limiter does this
    /// itself on construction and on every switch; call it again if the metrics recorder is installed
    /// after the limiter was built, since values set before that are lost.
    pub fn publish_metrics(&self) {
        let in_use = self.inner.enabled.then(|| self.backend());
        for backend in [Backend::Redis, Backend::Memory] {
            let value = if in_use == Some(backend) { 1.0 } else { 0.0 };
            metrics::gauge!(BACKEND_GAUGE, "backend" => backend.as_str()).set(value);
        }
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        // The state is a few plain fields that are always left consistent, so a poisoned lock is still usable.
        self.inner
            .health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn redis_failed(&self, epoch: u64, error: &RateLimitError) {
        let started = self.health().on_failure(epoch, Instant::now());
        if started {
            tracing::warn!(
                error = %error_chain(error),
                "Redis unavailable; rate limits are served from the in-process store until it recovers"
            );
            self.publish_metrics();
        } else {
            tracing::debug!(error = %error_chain(error), "Redis rate-limit call failed during an outage");
        }
    }

    /// Probes off the request path, so no request waits for a Redis that may still be hung.
    fn spawn_probe(&self) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let this = self.clone();
                runtime.spawn(async move { this.probe().await });
            }
            Err(_) => tracing::debug!("no Tokio runtime to probe Redis from"),
        }
    }

    async fn probe(&self) {
        let Some(redis) = &self.inner.redis else {
            return;
        };
        match redis.probe().await {
            Ok(()) => {
                if self.health().on_probe_success() {
                    tracing::info!("Redis reachable again; rate limits are served from Redis");
                    self.publish_metrics();
                }
            }
            Err(error) => {
                tracing::debug!(error = %error_chain(&error), "Redis still unavailable for rate limits");
            }
        }
    }

    async fn initial_connect(&self) {
        let Some(redis) = &self.inner.redis else {
            return;
        };
        let epoch = self.health().epoch();
        if let Err(error) = redis.ping().await {
            self.redis_failed(epoch, &error);
        }
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("enabled", &self.inner.enabled)
            .field("redis_configured", &self.inner.redis.is_some())
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// `Display` of an error and its sources, since `RateLimitError`'s own message leaves the cause to `source()`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn limiter_is_send_sync_and_its_future_is_send() {
        assert_send_sync::<RateLimiter>();
        let limiter = RateLimiter::new(None, "p:").unwrap();
        let buckets = [Bucket::per_period("k", 1, Duration::from_secs(1))];
        assert_send(&limiter.check(&buckets, 1));
    }

    #[tokio::test]
    async fn memory_only_without_url() {
        let limiter = RateLimiter::new(None, "p:").unwrap();
        assert_eq!(limiter.backend(), Backend::Memory);
        let b = [Bucket::per_period("k", 2, Duration::from_secs(60))];
        assert!(limiter.check(&b, 1).await.allowed);
        assert!(limiter.clone().check(&b, 1).await.allowed);
        assert!(!limiter.check(&b, 1).await.allowed);
    }

    #[tokio::test]
    async fn disabled_allows_everything() {
        let limiter = RateLimiter::disabled();
        assert!(!limiter.is_enabled());
        let b = [Bucket::per_period("k", 1, Duration::from_secs(60))];
        for _ in 0..10 {
            let d = limiter.check(&b, 1).await;
            assert!(d.allowed);
            assert_eq!((d.limit, d.remaining), (1, 1));
        }
    }

    #[test]
    fn empty_bucket_list_is_allowed() {
        let limiter = RateLimiter::new(None, "p:").unwrap();
        let d = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(limiter.check(&[], 1));
        assert!(d.allowed);
    }

    #[test]
    fn bad_url_is_the_only_construction_error() {
        assert!(matches!(
            RateLimiter::new(Some("::not a url::"), "p:"),
            Err(RateLimitError::InvalidRedisUrl(_))
        ));
        // Nothing listens there, and that is fine (no runtime here, so not even a connection attempt).
        assert!(RateLimiter::new(Some("redis://127.0.0.1:1"), "p:").is_ok());
    }

    #[test]
    fn config_debug_hides_the_url() {
        let config = RateLimiterConfig::new(Some("redis://:hunter2@localhost"), "p:");
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
