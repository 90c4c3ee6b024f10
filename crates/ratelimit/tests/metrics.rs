//! The `tenantry_rate_limit_backend` gauge follows the store in use. A test binary of its own, because it
//! installs a process-wide metrics recorder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{SHARED_REDIS, free_port, unique_prefix};
use metrics::{
    Counter, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use tenantry_ratelimit::{BACKEND_GAUGE, Backend, Bucket, RateLimiter, RateLimiterConfig};

type Values = Arc<Mutex<HashMap<String, f64>>>;

struct GaugeCell {
    name: String,
    values: Values,
}

impl GaugeFn for GaugeCell {
    fn increment(&self, value: f64) {
        *self
            .values
            .lock()
            .unwrap()
            .entry(self.name.clone())
            .or_default() += value;
    }
    fn decrement(&self, value: f64) {
        *self
            .values
            .lock()
            .unwrap()
            .entry(self.name.clone())
            .or_default() -= value;
    }
    fn set(&self, value: f64) {
        self.values.lock().unwrap().insert(self.name.clone(), value);
    }
}

struct GaugeRecorder(Values);

impl Recorder for GaugeRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        Gauge::from_arc(Arc::new(GaugeCell {
            name: format!("{}{{{}}}", key.name(), labels.join(",")),
            values: Arc::clone(&self.0),
        }))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

fn gauges(values: &Values) -> (f64, f64) {
    let values = values.lock().unwrap();
    let get = |backend: &str| values[&format!("{BACKEND_GAUGE}{{backend={backend}}}")];
    (get("redis"), get("memory"))
}

#[tokio::test]
async fn backend_gauge_follows_the_store_in_use() {
    let values = Values::default();
    metrics::set_global_recorder(GaugeRecorder(Arc::clone(&values))).unwrap();
    let b = [Bucket::per_period("k", 5, Duration::from_secs(60))];

    let memory = RateLimiter::new(None, "").unwrap();
    assert_eq!(gauges(&values), (0.0, 1.0));
    memory.check(&b, 1).await;

    let redis = RateLimiter::new(Some(SHARED_REDIS), &unique_prefix("gauge")).unwrap();
    assert_eq!(gauges(&values), (1.0, 0.0));
    redis.check(&b, 1).await;
    assert_eq!(redis.backend(), Backend::Redis);
    assert_eq!(gauges(&values), (1.0, 0.0));

    // Nothing listens on this port: the first failure switches the gauge.
    let mut config = RateLimiterConfig::new(
        Some(&format!("redis://127.0.0.1:{}", free_port())),
        &unique_prefix("gauge-down"),
    );
    config.retry_interval = Duration::from_secs(3600);
    let down = RateLimiter::with_config(config).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while down.backend() != Backend::Memory {
        assert!(down.check(&b, 1).await.allowed);
        assert!(Instant::now() < deadline);
    }
    assert_eq!(gauges(&values), (0.0, 1.0));

    redis.publish_metrics();
    assert_eq!(gauges(&values), (1.0, 0.0));

    RateLimiter::disabled();
    assert_eq!(gauges(&values), (0.0, 0.0));
}
