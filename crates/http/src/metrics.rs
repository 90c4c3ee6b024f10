//! Prometheus metrics of api.md §8: the recorder, HTTP request metrics, and every named series
//! registered at zero so dashboards see them before the first event.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub const LIMIT_NAMES: [&str; 14] = [
    "global",
    "login",
    "register",
    "refresh",
    "logout",
    "verify",
    "resend",
    "forgot",
    "reset",
    "password",
    "invite-info",
    "invite-accept",
    "provisioning",
    "assume",
];

static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the process-wide recorder once; later calls (several test apps in one process) share it.
pub fn install_recorder() -> Result<PrometheusHandle, String> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .install_recorder()
                .map_err(|e| e.to_string())?;
            register_known_series();
            Ok(handle)
        })
        .clone()
}

fn register_known_series() {
    for limit in LIMIT_NAMES {
        metrics::counter!("tenantry_rate_limited_total", "limit" => limit).absolute(0);
    }
    for result in ["started", "already_started", "error"] {
        metrics::counter!("tenantry_outbox_dispatch_total", "result" => result).absolute(0);
    }
    for state in ["idle", "in_use"] {
        metrics::gauge!("tenantry_db_pool_connections", "state" => state).set(0.0);
    }
    metrics::gauge!("tenantry_outbox_pending").set(0.0);
    metrics::gauge!("tenantry_outbox_oldest_age_seconds").set(0.0);
    metrics::counter!("tenantry_refresh_reuse_detected_total").absolute(0);
    metrics::counter!("tenantry_audit_write_failures_total").absolute(0);
}

pub(crate) fn record_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    metrics::counter!(
        "http_requests_total",
        "method" => method.to_owned(),
        "route" => route.to_owned(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!(
        "http_request_duration_seconds",
        "method" => method.to_owned(),
        "route" => route.to_owned()
    )
    .record(elapsed.as_secs_f64());
}

pub(crate) fn record_pool(pool: &sqlx::PgPool) {
    let size = f64::from(pool.size());
    let idle = pool.num_idle() as f64;
    metrics::gauge!("tenantry_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("tenantry_db_pool_connections", "state" => "in_use")
        .set((size - idle).max(0.0));
}
