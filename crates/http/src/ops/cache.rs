//! Probe results shared by `/health` (cached 10 s) and `/ready` (cached ≤ 1 s), so a flood of probes
//! never becomes a flood of dependency checks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tenantry_services::health::Probe;
use tokio::sync::Mutex;

use crate::state::Probes;

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
pub(crate) enum ProbeResult {
    NotConfigured,
    Up { latency_ms: f64 },
    Down,
}

impl ProbeResult {
    pub(crate) fn is_down(self) -> bool {
        matches!(self, Self::Down)
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    pub taken_at: Instant,
    pub database: ProbeResult,
    pub temporal: ProbeResult,
    pub redis: ProbeResult,
}

#[derive(Default)]
pub(crate) struct ProbeCache {
    last: Mutex<Option<Snapshot>>,
}

impl ProbeCache {
    /// A snapshot no older than `max_age`; probing happens under the lock so concurrent callers share it.
    pub(crate) async fn get(&self, probes: &Probes, max_age: Duration) -> (Snapshot, bool) {
        let mut last = self.last.lock().await;
        if let Some(s) = *last
            && s.taken_at.elapsed() <= max_age
        {
            return (s, true);
        }
        let (database, temporal, redis) = tokio::join!(
            run(Some(&probes.database)),
            run(probes.temporal.as_ref()),
            run(probes.redis.as_ref()),
        );
        let snapshot = Snapshot {
            taken_at: Instant::now(),
            database,
            temporal,
            redis,
        };
        *last = Some(snapshot);
        (snapshot, false)
    }
}

async fn run(probe: Option<&Arc<dyn Probe>>) -> ProbeResult {
    let Some(probe) = probe else {
        return ProbeResult::NotConfigured;
    };
    let started = Instant::now();
    match tokio::time::timeout(PROBE_TIMEOUT, probe.check()).await {
        Ok(Ok(())) => ProbeResult::Up {
            latency_ms: (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0,
        },
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "probe failed");
            ProbeResult::Down
        }
        Err(_) => ProbeResult::Down,
    }
}
