//! Which store serves requests, as a small state machine kept free of IO so the outage rules can be tested
//! without a Redis.

use std::time::{Duration, Instant};

/// Where one request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Use Redis; report a failure with this epoch.
    Redis { epoch: u64 },
    /// Answer from memory; when `probe` is set this request was chosen to start the (single) recovery probe.
    Memory { probe: bool },
}

#[derive(Debug)]
pub(crate) struct Health {
    up: bool,
    /// Bumped on every transition so that a failure of a request that was routed before a recovery cannot
    /// declare a fresh outage.
    epoch: u64,
    next_probe: Instant,
    retry_interval: Duration,
}

impl Health {
    /// Starts optimistic: the first request tries Redis, and its failure (or that of the connection attempt
    /// made at construction) opens the outage.
    pub(crate) fn new(retry_interval: Duration, now: Instant) -> Self {
        Self {
            up: true,
            epoch: 0,
            next_probe: now,
            retry_interval,
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.up
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    pub(crate) fn route(&mut self, now: Instant) -> Route {
        if self.up {
            Route::Redis { epoch: self.epoch }
        } else if now >= self.next_probe {
            // Claiming the slot here, not when the probe ends, keeps concurrent requests from all probing.
            self.next_probe = now + self.retry_interval;
            Route::Memory { probe: true }
        } else {
            Route::Memory { probe: false }
        }
    }

    /// Returns true when this failure starts an outage (the caller logs it; later failures are silent).
    pub(crate) fn on_failure(&mut self, epoch: u64, now: Instant) -> bool {
        if self.up && self.epoch == epoch {
            self.up = false;
            self.epoch += 1;
            self.next_probe = now + self.retry_interval;
            true
        } else {
            false
        }
    }

    /// Returns true when this success ends an outage.
    pub(crate) fn on_probe_success(&mut self) -> bool {
        if self.up {
            false
        } else {
            self.up = true;
            self.epoch += 1;
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETRY: Duration = Duration::from_secs(5);

    #[test]
    fn outage_is_reported_once_and_probed_once_per_interval() {
        let t0 = Instant::now();
        let mut h = Health::new(RETRY, t0);
        let Route::Redis { epoch } = h.route(t0) else {
            panic!("starts on Redis");
        };
        // Many requests in flight fail together: one warning.
        assert!(h.on_failure(epoch, t0));
        assert!(!h.on_failure(epoch, t0));
        assert!(!h.on_failure(epoch, t0 + Duration::from_millis(10)));
        assert!(!h.is_up());

        for ms in [0, 1, 4_999] {
            assert_eq!(
                h.route(t0 + Duration::from_millis(ms)),
                Route::Memory { probe: false }
            );
        }
        let t1 = t0 + RETRY;
        assert_eq!(h.route(t1), Route::Memory { probe: true });
        assert_eq!(h.route(t1), Route::Memory { probe: false });
        assert_eq!(
            h.route(t1 + Duration::from_millis(4_999)),
            Route::Memory { probe: false }
        );
        // A failed probe needs no call: the next slot was claimed when it started.
        assert_eq!(h.route(t1 + RETRY), Route::Memory { probe: true });

        assert!(h.on_probe_success());
        assert!(!h.on_probe_success());
        assert!(h.is_up());
        assert!(matches!(h.route(t1 + RETRY), Route::Redis { .. }));
    }

    #[test]
    fn stale_failure_after_recovery_is_ignored() {
        let t0 = Instant::now();
        let mut h = Health::new(RETRY, t0);
        let Route::Redis { epoch: stale } = h.route(t0) else {
            panic!("starts on Redis");
        };
        assert!(h.on_failure(stale, t0));
        assert!(h.on_probe_success());
        // A request routed before the outage finishes late with an error.
        assert!(!h.on_failure(stale, t0));
        assert!(h.is_up());
        // A current one does open a new outage.
        assert!(h.on_failure(h.epoch(), t0));
        assert!(!h.is_up());
    }
}
