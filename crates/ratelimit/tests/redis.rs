//! Behaviour against a real Redis: the shared one at 127.0.0.1:6379 (unique key prefixes per test) and
//! redis-server processes started and killed by the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{RedisServer, SHARED_REDIS, connect, free_port, unique_prefix};
use redis::AsyncCommands;
use tenantry_ratelimit::{Backend, Bucket, Decision, RateLimiter, RateLimiterConfig};

const HOUR: Duration = Duration::from_secs(3600);

/// A limiter on the shared Redis. The timeout is generous because these tests are about semantics: a slow
/// answer under a loaded test machine must not turn into a silent fallback to memory.
fn shared_limiter(prefix: &str) -> RateLimiter {
    let mut config = RateLimiterConfig::new(Some(SHARED_REDIS), prefix);
    config.command_timeout = Duration::from_secs(5);
    RateLimiter::with_config(config).unwrap()
}

async fn server_time_ms(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(conn).await.unwrap();
    secs * 1000 + micros / 1000
}

#[tokio::test]
async fn capacity_is_respected() {
    let prefix = unique_prefix("capacity");
    let limiter = shared_limiter(&prefix);
    let b = [Bucket::per_period("ip:1", 5, HOUR)];
    for expected_remaining in (0..5).rev() {
        let d = limiter.check(&b, 1).await;
        assert!(d.allowed);
        assert_eq!((d.limit, d.remaining), (5, expected_remaining));
    }
    let d = limiter.check(&b, 1).await;
    assert_eq!(
        d,
        Decision {
            allowed: false,
            limit: 5,
            remaining: 0,
            reset_secs: 3600,
            // One token per 720 s.
            retry_after_secs: 720,
        }
    );
    assert_eq!(limiter.backend(), Backend::Redis);

    let mut conn = connect(SHARED_REDIS).await;
    let key = format!("{prefix}ip:1");
    let tokens: String = conn.hget(&key, "tokens").await.unwrap();
    assert!(tokens.parse::<f64>().unwrap() < 0.01);
    // Expires once full again (3600 s) plus the margin.
    let ttl: i64 = conn.pttl(&key).await.unwrap();
    assert!(ttl > 3_500_000 && ttl <= 3_601_000, "ttl {ttl}");
}

#[tokio::test]
async fn refill_math_from_stored_state() {
    let prefix = unique_prefix("refill-math");
    let limiter = shared_limiter(&prefix);
    let mut conn = connect(SHARED_REDIS).await;
    // One token per 10 s; the bucket held 2.5 tokens a minute ago, so it has 8.5 now.
    let b = [Bucket::new("k", 10, 1, Duration::from_secs(10))];
    let now = server_time_ms(&mut conn).await;
    let key = format!("{prefix}k");
    let _: () = conn
        .hset_multiple(
            &key,
            &[("tokens", "2.5"), ("ts", &(now - 60_000).to_string())],
        )
        .await
        .unwrap();

    let d = limiter.check(&b, 1).await;
    assert!(d.allowed);
    assert_eq!(d.remaining, 7);
    // 2.5 tokens missing at 1 token per 10 s, minus the few ms since `now`: rounds up to 25.
    assert_eq!(d.reset_secs, 25);

    let d = limiter.check(&b, 7).await;
    assert!(d.allowed);
    assert_eq!(d.remaining, 0);
    let d = limiter.check(&b, 1).await;
    assert!(!d.allowed);
    // 0.5 tokens left: the next whole token is 5 s away.
    assert_eq!(d.retry_after_secs, 5);
    assert_eq!(d.reset_secs, 95);
    assert_eq!(limiter.backend(), Backend::Redis);
}

#[tokio::test]
async fn refill_over_time() {
    let limiter = shared_limiter(&unique_prefix("refill"));
    // 10 tokens per 100 ms: one token per 10 ms.
    let b = [Bucket::new("k", 10, 10, Duration::from_millis(100))];
    let mut drained = 0;
    let denied = loop {
        let d = limiter.check(&b, 1).await;
        if !d.allowed {
            break d;
        }
        drained += 1;
    };
    // More than 10 only if the machine stalled long enough for tokens to come back.
    assert!(drained >= 10, "{drained}");
    assert_eq!(denied.retry_after_secs, 1);
    assert_eq!(denied.reset_secs, 1);

    tokio::time::sleep(Duration::from_millis(35)).await;
    let mut refilled = 0;
    while limiter.check(&b, 1).await.allowed {
        refilled += 1;
    }
    assert!(refilled >= 3, "{refilled}");

    // Longer than a full refill: full, and never more than full.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let d = limiter.check(&b, 1).await;
    assert!(d.allowed);
    assert_eq!(d.remaining, 9);
    assert_eq!(limiter.backend(), Backend::Redis);
}

#[tokio::test]
async fn denied_request_takes_nothing_from_any_bucket() {
    let prefix = unique_prefix("atomic");
    let limiter = shared_limiter(&prefix);
    let ip = Bucket::per_period("login:ip", 5, HOUR);
    let email = Bucket::per_period("login:email", 2, HOUR);
    let both = [ip.clone(), email.clone()];
    assert!(limiter.check(&both, 1).await.allowed);
    let d = limiter.check(&both, 1).await;
    assert!(d.allowed);
    assert_eq!((d.limit, d.remaining), (2, 0));
    for _ in 0..3 {
        let d = limiter.check(&both, 1).await;
        assert!(!d.allowed);
        assert_eq!((d.limit, d.remaining), (2, 0));
        assert_eq!(d.retry_after_secs, 1800);
    }
    let d = limiter.check(std::slice::from_ref(&ip), 1).await;
    assert!(d.allowed);
    assert_eq!(d.remaining, 2);
    assert_eq!(limiter.backend(), Backend::Redis);
}

#[tokio::test]
async fn prefixes_isolate_limiters() {
    let a = shared_limiter(&unique_prefix("iso-a"));
    let b = shared_limiter(&unique_prefix("iso-b"));
    let bucket = [Bucket::per_period("same", 1, HOUR)];
    assert!(a.check(&bucket, 1).await.allowed);
    assert!(!a.check(&bucket, 1).await.allowed);
    assert!(b.check(&bucket, 1).await.allowed);
}

/// The same sequence gives the same decisions from both stores. Refill is slow enough (a token every few
/// minutes) that the milliseconds between calls cannot change a rounded value.
#[tokio::test]
async fn redis_and_memory_agree() {
    let redis = shared_limiter(&unique_prefix("parity"));
    let memory = RateLimiter::new(None, "").unwrap();
    let a = [Bucket::per_period("a", 10, HOUR)];
    let b = [Bucket::new("b", 4, 3, Duration::from_secs(600))];
    let both = [a[0].clone(), b[0].clone()];
    let sequence: [(&[Bucket], u32); 9] = [
        (&a, 3),
        (&both, 2),
        (&b, 3),
        (&both, 1),
        (&b, 1),
        (&a, 6),
        (&a, 5),
        (&both, 11),
        (&both, 0),
    ];
    for (buckets, cost) in sequence {
        let from_redis = redis.check(buckets, cost).await;
        let from_memory = memory.check(buckets, cost).await;
        assert_eq!(from_redis, from_memory, "cost {cost} on {buckets:?}");
    }
    assert_eq!(redis.backend(), Backend::Redis);
}

async fn fifty_tasks_one_bucket(limiter: RateLimiter) -> usize {
    let bucket = Arc::new([Bucket::per_period("hot", 10, HOUR)]);
    let start = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let limiter = limiter.clone();
            let bucket = Arc::clone(&bucket);
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                limiter.check(&bucket[..], 1).await.allowed
            })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if task.await.unwrap() {
            allowed += 1;
        }
    }
    allowed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checks_on_redis() {
    let limiter = shared_limiter(&unique_prefix("concurrent"));
    assert_eq!(fifty_tasks_one_bucket(limiter.clone()).await, 10);
    assert_eq!(limiter.backend(), Backend::Redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checks_in_memory() {
    let limiter = RateLimiter::new(None, "").unwrap();
    assert_eq!(fifty_tasks_one_bucket(limiter).await, 10);
}

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

fn private_limiter(url: &str, prefix: &str) -> RateLimiter {
    let mut config = RateLimiterConfig::new(Some(url), prefix);
    config.retry_interval = Duration::from_millis(200);
    RateLimiter::with_config(config).unwrap()
}

#[tokio::test]
async fn falls_back_to_memory_and_returns_to_redis() {
    let port = free_port();
    let server = RedisServer::start(port).await;
    let url = server.url();
    let prefix = unique_prefix("fallback");
    let limiter = private_limiter(&url, &prefix);

    let b = [Bucket::per_period("k", 3, HOUR)];
    assert!(limiter.check(&b, 1).await.allowed);
    assert!(limiter.check(&b, 1).await.allowed);
    assert_eq!(limiter.backend(), Backend::Redis);

    server.kill();
    // Answered from memory, where this bucket is still full: counting restarts there.
    for _ in 0..3 {
        assert!(limiter.check(&b, 1).await.allowed);
    }
    assert!(!limiter.check(&b, 1).await.allowed);
    assert_eq!(limiter.backend(), Backend::Memory);
    // Several retry intervals pass with Redis still gone: still memory, still answering.
    for _ in 0..10 {
        let d = limiter.check(&b, 1).await;
        assert!(!d.allowed);
        assert!(d.retry_after_secs >= 1);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(limiter.backend(), Backend::Memory);

    let server = RedisServer::start(port).await;
    wait_for_backend(&limiter, Backend::Redis).await;
    // The restarted Redis is empty, so the bucket starts full there, and the keys land in it.
    for _ in 0..3 {
        assert!(limiter.check(&b, 1).await.allowed);
    }
    assert!(!limiter.check(&b, 1).await.allowed);
    let mut conn = connect(&server.url()).await;
    let exists: bool = conn.exists(format!("{prefix}k")).await.unwrap();
    assert!(exists);
    assert_eq!(limiter.backend(), Backend::Redis);
}

#[tokio::test]
async fn redis_down_at_start() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let limiter = private_limiter(&url, &unique_prefix("down-at-start"));
    let b = [Bucket::per_period("k", 2, HOUR)];
    assert!(limiter.check(&b, 1).await.allowed);
    assert!(limiter.check(&b, 1).await.allowed);
    assert!(!limiter.check(&b, 1).await.allowed);
    assert_eq!(limiter.backend(), Backend::Memory);

    let _server = RedisServer::start(port).await;
    wait_for_backend(&limiter, Backend::Redis).await;
    assert!(limiter.check(&b, 1).await.allowed);
}

#[tokio::test]
async fn hung_redis_times_out_to_memory() {
    let server = RedisServer::start(free_port()).await;
    let prefix = unique_prefix("hung");
    let limiter = private_limiter(&server.url(), &prefix);
    let b = [Bucket::per_period("k", 2, HOUR)];
    assert!(limiter.check(&b, 1).await.allowed);
    assert_eq!(limiter.backend(), Backend::Redis);

    server.pause();
    // Bounded by the command timeout instead of waiting for the frozen server; memory has the bucket full.
    assert!(limiter.check(&b, 1).await.allowed);
    assert!(limiter.check(&b, 1).await.allowed);
    assert!(!limiter.check(&b, 1).await.allowed);
    assert_eq!(limiter.backend(), Backend::Memory);
    // Probes against the frozen server time out too.
    for _ in 0..10 {
        assert!(!limiter.check(&b, 1).await.allowed);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(limiter.backend(), Backend::Memory);

    server.resume();
    wait_for_backend(&limiter, Backend::Redis).await;
    let fresh = [Bucket::per_period("fresh", 1, HOUR)];
    assert!(limiter.check(&fresh, 1).await.allowed);
    assert!(!limiter.check(&fresh, 1).await.allowed);
    let mut conn = connect(&server.url()).await;
    let exists: bool = conn.exists(format!("{prefix}fresh")).await.unwrap();
    assert!(exists);
}
