//! The global per-IP token bucket (api.md §0.7), with Redis up, Redis killed mid-run, and Redis absent.

use std::time::{Duration, Instant};

use tenantry_testkit::{TestApp, TestAppBuilder};

use crate::support::{
    DEFAULT_CSP, RedisServer, Reply, assert_security_headers, closed_port, eventually, metric,
    redis_keys, send,
};

const BURST: usize = 5;
/// Not exempt, and cheap: an unknown route (the rate limit comes before routing).
const LIMITED_PATH: &str = "/api/v1/limited-probe";
const GLOBAL_SERIES: &str = "tenantry_rate_limited_total{limit=\"global\"}";

fn limited_app() -> TestAppBuilder {
    TestApp::builder()
        .without_worker()
        .without_relay()
        .env("RATE_LIMIT_ENABLED", "true")
        .env("GLOBAL_RATE_LIMIT_BURST", &BURST.to_string())
        .env("GLOBAL_RATE_LIMIT_PER_SECOND", "1")
}

/// What `n` back-to-back requests got.
struct Round {
    allowed: usize,
    limited: Vec<Reply>,
    elapsed: Duration,
}

impl Round {
    /// At most the burst plus what refilled (1 token/s) while the round ran, plus one for rounding.
    fn max_allowed(&self) -> usize {
        BURST + self.elapsed.as_secs() as usize + 1
    }
}

async fn hammer(app: &TestApp, n: usize) -> Round {
    hammer_from(app, n, |_| None).await
}

/// Like [`hammer`], with an `X-Forwarded-For` chosen per request.
async fn hammer_from(
    app: &TestApp,
    n: usize,
    forwarded: impl Fn(usize) -> Option<String>,
) -> Round {
    let started = Instant::now();
    let mut allowed = 0;
    let mut limited = Vec::new();
    for i in 0..n {
        let mut req = app.http.get(app.url(LIMITED_PATH));
        if let Some(xff) = forwarded(i) {
            req = req.header("x-forwarded-for", xff);
        }
        let r = send(req).await;
        match r.status {
            429 => limited.push(r),
            404 => allowed += 1,
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    Round {
        allowed,
        limited,
        elapsed: started.elapsed(),
    }
}

/// A round on a full bucket: the whole burst passes, then 429s with the contract's body and headers.
fn assert_limited_after_burst(round: &Round) {
    assert!(
        round.allowed >= BURST,
        "the burst passes: {} allowed",
        round.allowed
    );
    assert!(
        round.allowed <= round.max_allowed(),
        "{} allowed, at most {} possible",
        round.allowed,
        round.max_allowed()
    );
    assert!(!round.limited.is_empty(), "some requests are limited");
    for r in &round.limited {
        r.assert_error(429, "Too many requests");
        let retry_after = r.json["retry_after"].as_u64().expect("integer retry_after");
        assert!(retry_after >= 1, "{}", r.text);
        assert_eq!(
            r.header("retry-after"),
            Some(retry_after.to_string().as_str())
        );
        assert_eq!(
            r.header("ratelimit-limit"),
            Some(BURST.to_string().as_str())
        );
        assert_eq!(r.header("ratelimit-remaining"), Some("0"));
        let reset: u64 = r
            .header("ratelimit-reset")
            .expect("RateLimit-Reset")
            .parse()
            .expect("RateLimit-Reset is whole seconds");
        assert!(reset >= 1, "{reset}");
        assert_eq!(r.json.as_object().unwrap().len(), 3, "{}", r.text);
    }
}

async fn global_limited_total(app: &TestApp) -> f64 {
    let r = send(app.http.get(app.url("/metrics"))).await;
    assert_eq!(r.status, 200);
    metric(&r.text, GLOBAL_SERIES).expect("global rate-limit series")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_limit_answers_429_after_the_burst_with_redis() {
    let app = limited_app().spawn().await.unwrap();
    let before = global_limited_total(&app).await;

    let round = hammer(&app, 10).await;
    assert_limited_after_burst(&round);

    let prefix = app.vars["RATE_LIMIT_KEY_PREFIX"].clone();
    let keys = redis_keys(&tenantry_testkit::redis_url(), &format!("{prefix}*"))
        .await
        .unwrap();
    assert!(!keys.is_empty(), "the buckets live in Redis");

    let after = global_limited_total(&app).await;
    assert!(
        after - before >= round.limited.len() as f64,
        "counter {before} -> {after}, {} limited",
        round.limited.len()
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exempt_paths_are_never_limited() {
    let app = limited_app().spawn().await.unwrap();
    let started = Instant::now();
    let round = hammer(&app, 8).await;
    assert!(!round.limited.is_empty(), "the bucket is empty");
    let mut allowed = round.allowed;
    for _ in 0..3 {
        for path in ["/health", "/ready", "/metrics", "/openapi.json", "/docs/"] {
            let r = send(app.http.get(app.url(path))).await;
            assert_eq!(r.status, 200, "{path}: {}", r.text);
            let r = send(app.http.get(app.url(LIMITED_PATH))).await;
            if r.status != 429 {
                allowed += 1;
            }
        }
    }
    // Other paths stayed limited throughout: only refills let any through.
    let max = BURST + started.elapsed().as_secs() as usize + 1;
    assert!(allowed <= max, "{allowed} allowed, at most {max} possible");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_429_carries_request_id_security_and_cors_headers() {
    let app = limited_app().spawn().await.unwrap();
    hammer(&app, 8).await;
    let r = send(
        app.http
            .get(app.url(LIMITED_PATH))
            .header("x-request-id", "limited.req:1")
            .header("origin", "http://localhost:3000"),
    )
    .await;
    r.assert_error(429, "Too many requests");
    assert_eq!(r.header("x-request-id"), Some("limited.req:1"));
    assert_security_headers(&r);
    assert_eq!(r.header("content-security-policy"), Some(DEFAULT_CSP));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let r = send(
        app.http
            .get(app.url(LIMITED_PATH))
            .header("x-request-id", "not valid"),
    )
    .await;
    r.assert_error(429, "Too many requests");
    let id = uuid::Uuid::parse_str(r.header("x-request-id").unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 7);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_limit_keeps_working_when_redis_is_killed() {
    let mut redis = RedisServer::start().await;
    let app = limited_app()
        .env("REDIS_URL", &redis.url())
        .spawn()
        .await
        .unwrap();
    let r = send(app.http.get(app.url("/ready"))).await;
    assert_eq!(r.json["checks"]["redis"]["status"], "up", "{}", r.text);

    let round = hammer(&app, 10).await;
    assert_limited_after_burst(&round);
    let prefix = app.vars["RATE_LIMIT_KEY_PREFIX"].clone();
    let keys = redis_keys(&redis.url(), &format!("{prefix}*"))
        .await
        .unwrap();
    assert!(
        !keys.is_empty(),
        "before the kill the buckets live in our Redis"
    );

    redis.kill();
    assert!(
        redis_keys(&redis.url(), "*").await.is_err(),
        "our Redis is gone"
    );

    // The in-process store takes over: never a 500, and still limited after its own burst.
    let round = hammer(&app, 15).await;
    assert!(!round.limited.is_empty(), "still limited without Redis");
    assert!(
        round.allowed <= round.max_allowed(),
        "{} allowed, at most {} possible",
        round.allowed,
        round.max_allowed()
    );
    for r in &round.limited {
        r.assert_error(429, "Too many requests");
        assert_eq!(r.header("ratelimit-remaining"), Some("0"));
        assert!(r.json["retry_after"].as_u64().unwrap() >= 1);
    }

    // Redis is optional for readiness: reported down, still ready.
    eventually(
        "/ready to see Redis down",
        Duration::from_secs(10),
        || async {
            let r = send(app.http.get(app.url("/ready"))).await;
            assert_eq!(r.status, 200, "{}", r.text);
            (r.json["checks"]["redis"]["status"] == "down").then_some(())
        },
    )
    .await;

    // Redis comes back (empty) on the same port: the limiter returns to it (it retries every 5 s).
    let revived = RedisServer::start_on(redis.port).await;
    eventually(
        "the buckets to be back in Redis",
        Duration::from_secs(30),
        || async {
            let r = send(app.http.get(app.url(LIMITED_PATH))).await;
            assert!(
                r.status == 404 || r.status == 429,
                "{}: {}",
                r.status,
                r.text
            );
            let keys = redis_keys(&revived.url(), &format!("{prefix}*"))
                .await
                .unwrap();
            (!keys.is_empty()).then_some(())
        },
    )
    .await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_limit_works_when_redis_was_never_reachable() {
    let (_held, port) = closed_port();
    let app = limited_app()
        .env("REDIS_URL", &format!("redis://127.0.0.1:{port}"))
        .spawn()
        .await
        .unwrap();
    let round = hammer(&app, 10).await;
    assert_limited_after_burst(&round);

    let h = send(app.http.get(app.url("/health"))).await;
    assert_eq!(h.status, 200, "{}", h.text);
    assert_eq!(h.json["redis"], "unhealthy");
    assert_eq!(h.json["status"], "degraded");
    let r = send(app.http.get(app.url("/ready"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["checks"]["redis"]["status"], "down");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_limited_when_rate_limiting_is_disabled() {
    // APP_ENV=test defaults RATE_LIMIT_ENABLED to false; the same tiny budget then limits nothing.
    let app = TestApp::builder()
        .without_worker()
        .without_relay()
        .env("GLOBAL_RATE_LIMIT_BURST", "5")
        .env("GLOBAL_RATE_LIMIT_PER_SECOND", "1")
        .spawn()
        .await
        .unwrap();
    let round = hammer(&app, 15).await;
    assert_eq!(round.allowed, 15);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit() {
    // TRUSTED_PROXIES is empty: X-Forwarded-For is ignored, every request is the socket peer's.
    let app = limited_app().spawn().await.unwrap();
    let round = hammer_from(&app, 12, |i| Some(format!("203.0.113.{i}"))).await;
    assert_limited_after_burst(&round);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_behind_a_trusted_proxy_get_buckets_of_their_own() {
    let app = limited_app()
        .env("TRUSTED_PROXIES", "127.0.0.1")
        .spawn()
        .await
        .unwrap();
    // One client whose own entries (left of what the proxy appended) vary: it is still one client.
    let round = hammer_from(&app, 10, |i| Some(format!("198.51.100.{i}, 203.0.113.7"))).await;
    assert_limited_after_burst(&round);
    // Another client behind the same proxy still has its whole burst; the rightmost untrusted entry
    // counts, whatever the client put to its left.
    let round = hammer_from(&app, BURST, |i| {
        Some(format!("198.51.100.{i}, 203.0.113.8, 127.0.0.1"))
    })
    .await;
    assert_eq!(round.allowed, BURST, "a fresh bucket for 203.0.113.8");
    app.shutdown().await;
}
