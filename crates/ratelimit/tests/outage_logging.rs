//! Outage logging and probe spacing against a redis-server the test starts and kills. A test binary of its
//! own because it installs the process-wide tracing subscriber: callsite interest is cached per process, so
//! a thread-local subscriber would miss events whose callsites other tests registered first.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{RedisServer, free_port, unique_prefix};
use tenantry_ratelimit::{Backend, Bucket, RateLimiter, RateLimiterConfig};

const HOUR: Duration = Duration::from_secs(3600);

/// Checks until `want` is the backend, answering every request meanwhile (a probe only starts from a request).
async fn wait_for_backend(limiter: &RateLimiter, want: Backend) {
    let probe = [Bucket::per_period(
        "probe",
        u32::MAX,
        Duration::from_secs(1),
    )];
    let deadline = Instant::now() + Duration::from_secs(20);
    while limiter.backend() != want {
        assert!(limiter.check(&probe, 1).await.allowed);
        assert!(
            Instant::now() < deadline,
            "limiter never switched to {want}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Counts this crate's log events by level and message.
#[derive(Default)]
struct LogCounter {
    events: std::sync::Mutex<Vec<(tracing::Level, String)>>,
}

impl LogCounter {
    fn count(&self, level: tracing::Level, message_part: &str) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(l, m)| *l == level && m.contains(message_part))
            .count()
    }
}

struct MessageVisitor(String);

impl tracing::field::Visit for MessageVisitor {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for LogCounter {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target().starts_with("tenantry_ratelimit")
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut visitor = MessageVisitor(String::new());
        event.record(&mut visitor);
        self.events
            .lock()
            .unwrap()
            .push((*event.metadata().level(), visitor.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn outage_is_logged_once_and_probes_are_spaced() {
    let logs = Arc::new(LogCounter::default());
    tracing::subscriber::set_global_default(Arc::clone(&logs)).unwrap();
    const RETRY: Duration = Duration::from_millis(300);
    const OUTAGE: &str = "Redis unavailable";
    const PROBE_FAILED: &str = "still unavailable";

    let port = free_port();
    let server = RedisServer::start(port).await;
    let mut config = RateLimiterConfig::new(Some(&server.url()), &unique_prefix("logging"));
    config.retry_interval = RETRY;
    let limiter = RateLimiter::with_config(config).unwrap();
    let b = [Bucket::per_period("k", u32::MAX, HOUR)];
    assert!(limiter.check(&b, 1).await.allowed);
    assert_eq!(limiter.backend(), Backend::Redis);

    server.kill();
    let outage_start = Instant::now();
    for _ in 0..100 {
        assert!(limiter.check(&b, 1).await.allowed);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Let a probe that was started by the last request finish before counting.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let elapsed = outage_start.elapsed();
    assert_eq!(limiter.backend(), Backend::Memory);
    assert_eq!(logs.count(tracing::Level::WARN, OUTAGE), 1);
    let probes = logs.count(tracing::Level::DEBUG, PROBE_FAILED);
    let max_probes = usize::try_from(elapsed.as_millis() / RETRY.as_millis()).unwrap() + 1;
    assert!(probes >= 1, "Redis was never probed during the outage");
    assert!(
        probes <= max_probes,
        "{probes} probes in {elapsed:?}, at most {max_probes} expected"
    );

    let server = RedisServer::start(port).await;
    wait_for_backend(&limiter, Backend::Redis).await;
    assert_eq!(logs.count(tracing::Level::INFO, "reachable again"), 1);

    // A second outage is a new outage: one more warning.
    server.kill();
    for _ in 0..10 {
        assert!(limiter.check(&b, 1).await.allowed);
    }
    assert_eq!(limiter.backend(), Backend::Memory);
    assert_eq!(logs.count(tracing::Level::WARN, OUTAGE), 2);
}
