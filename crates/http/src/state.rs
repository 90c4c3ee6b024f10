//! What every handler and layer can reach: settings, the pool, the rate limiter, probes and the
//! process lifecycle (draining and in-flight requests).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use metrics_exporter_prometheus::PrometheusHandle;
use tenantry_ratelimit::RateLimiter;
use tenantry_services::Services;
use tenantry_services::health::Probe;
use tenantry_settings::Settings;
use tenantry_store::Db;

use crate::ops::cache::ProbeCache;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Arc<Settings>,
    db: Db,
    services: Services,
    rate_limiter: RateLimiter,
    lifecycle: Lifecycle,
    probes: Probes,
    metrics: Option<PrometheusHandle>,
    probe_cache: ProbeCache,
}

/// Optional dependencies are `None` when not configured.
#[derive(Clone)]
pub struct Probes {
    pub database: Arc<dyn Probe>,
    pub temporal: Option<Arc<dyn Probe>>,
    pub redis: Option<Arc<dyn Probe>>,
}

pub struct AppStateParts {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub services: Services,
    pub rate_limiter: RateLimiter,
    pub probes: Probes,
    pub metrics: Option<PrometheusHandle>,
    pub lifecycle: Lifecycle,
}

impl AppState {
    pub fn new(parts: AppStateParts) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings: parts.settings,
                db: parts.db,
                services: parts.services,
                rate_limiter: parts.rate_limiter,
                lifecycle: parts.lifecycle,
                probes: parts.probes,
                metrics: parts.metrics,
                probe_cache: ProbeCache::default(),
            }),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn services(&self) -> &Services {
        &self.inner.services
    }

    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.inner.rate_limiter
    }

    pub fn lifecycle(&self) -> &Lifecycle {
        &self.inner.lifecycle
    }

    pub fn probes(&self) -> &Probes {
        &self.inner.probes
    }

    pub fn metrics_handle(&self) -> Option<&PrometheusHandle> {
        self.inner.metrics.as_ref()
    }

    pub(crate) fn probe_cache(&self) -> &ProbeCache {
        &self.inner.probe_cache
    }
}

/// Shared between the server and whoever triggers shutdown, so `/health` and `/ready` can answer
/// `draining` while in-flight requests finish.
#[derive(Clone, Default)]
pub struct Lifecycle {
    inner: Arc<LifecycleInner>,
}

#[derive(Default)]
struct LifecycleInner {
    draining: AtomicBool,
    in_flight: AtomicUsize,
}

impl Lifecycle {
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    pub(crate) fn enter(&self) -> InFlight {
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.inner.clone())
    }
}

/// Decrements the in-flight count when the request's future ends, however it ends.
pub(crate) struct InFlight(Arc<LifecycleInner>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
