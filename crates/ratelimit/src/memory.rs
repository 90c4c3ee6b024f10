//! The in-process store: used when Redis is not configured or not reachable.

use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use lru::LruCache;

use crate::bucket::{Bucket, Decision};

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Scaled level (tokens * period_ms of the bucket at the time it was stored).
    level: u64,
    /// The period the level was scaled with, so a key whose limit changed is still read correctly.
    period_ms: u64,
    ts_ms: u64,
}

impl Slot {
    fn level_at(&self, bucket: &Bucket, now_ms: u64) -> u64 {
        let level = if self.period_ms == bucket.period_ms() {
            self.level
        } else {
            let rescaled = u128::from(self.level) * u128::from(bucket.period_ms())
                / u128::from(self.period_ms);
            u64::try_from(rescaled).unwrap_or(u64::MAX)
        };
        bucket.refilled(level, self.ts_ms, now_ms)
    }
}

/// Buckets in a size-bounded LRU: an evicted key simply starts full again, which errs on the side of
/// letting requests through rather than growing without bound under a flood of distinct keys.
pub(crate) struct MemoryStore {
    cache: Mutex<LruCache<String, Slot>>,
    epoch: Instant,
}

impl MemoryStore {
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        Self {
            cache: Mutex::new(LruCache::new(capacity)),
            epoch: Instant::now(),
        }
    }

    pub(crate) fn check(&self, buckets: &[Bucket], cost: u32) -> Decision {
        let now_ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.check_at(buckets, cost, now_ms)
    }

    /// Same semantics as the Redis script: all buckets are read under one lock, and cost is taken from all
    /// of them or from none.
    pub(crate) fn check_at(&self, buckets: &[Bucket], cost: u32, now_ms: u64) -> Decision {
        // The cache holds plain numbers, so a panic elsewhere cannot leave it logically inconsistent.
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let mut levels: Vec<u64> = buckets
            .iter()
            .map(|bucket| match cache.get(bucket.key()) {
                Some(slot) => slot.level_at(bucket, now_ms),
                None => bucket.full(),
            })
            .collect();
        let allowed = buckets
            .iter()
            .zip(&levels)
            .all(|(bucket, &level)| level >= bucket.scaled(cost));
        if allowed {
            for (bucket, level) in buckets.iter().zip(levels.iter_mut()) {
                *level -= bucket.scaled(cost);
                let slot = Slot {
                    level: *level,
                    period_ms: bucket.period_ms(),
                    ts_ms: now_ms,
                };
                // Update in place when present so the hot path allocates no key.
                if let Some(existing) = cache.get_mut(bucket.key()) {
                    *existing = slot;
                } else {
                    cache.put(bucket.key().to_owned(), slot);
                }
            }
        }
        drop(cache);
        Decision::from_levels(buckets, &levels, allowed, cost)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn store() -> MemoryStore {
        MemoryStore::new(NonZeroUsize::new(1000).unwrap())
    }

    fn drain(store: &MemoryStore, buckets: &[Bucket], now_ms: u64) -> u32 {
        let mut allowed = 0;
        while store.check_at(buckets, 1, now_ms).allowed {
            allowed += 1;
            assert!(allowed <= 1_000_000, "bucket never empties");
        }
        allowed
    }

    #[test]
    fn capacity_then_denied() {
        let s = store();
        let b = [Bucket::per_period("k", 5, Duration::from_secs(3600))];
        for expected_remaining in (0..5).rev() {
            let d = s.check_at(&b, 1, 0);
            assert!(d.allowed);
            assert_eq!(d.limit, 5);
            assert_eq!(d.remaining, expected_remaining);
        }
        let d = s.check_at(&b, 1, 0);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        // One token per 720 s.
        assert_eq!(d.retry_after_secs, 720);
        assert_eq!(d.reset_secs, 3600);
    }

    #[test]
    fn refill_over_time() {
        let s = store();
        // 10 tokens per 100 ms: one token per 10 ms.
        let b = [Bucket::new("k", 10, 10, Duration::from_millis(100))];
        assert_eq!(drain(&s, &b, 1_000), 10);
        let d = s.check_at(&b, 1, 1_000);
        assert_eq!((d.allowed, d.retry_after_secs, d.reset_secs), (false, 1, 1));
        assert!(!s.check_at(&b, 1, 1_009).allowed);
        assert_eq!(drain(&s, &b, 1_035), 3);
        // Fractions carry over: 3.5 tokens were there at 1_035, 0.5 remain, +0.5 at 1_040.
        assert_eq!(drain(&s, &b, 1_040), 1);
        assert_eq!(drain(&s, &b, 5_000), 10);
    }

    #[test]
    fn global_limit_math() {
        let s = store();
        let b = [Bucket::new("ip", 50, 20, Duration::from_secs(1))];
        assert_eq!(drain(&s, &b, 0), 50);
        let d = s.check_at(&b, 1, 0);
        // 50 tokens at 20/s take 2.5 s; one token takes 50 ms.
        assert_eq!((d.reset_secs, d.retry_after_secs), (3, 1));
        assert_eq!(drain(&s, &b, 1_000), 20);
    }

    #[test]
    fn cost_is_taken_from_every_bucket_or_none() {
        let s = store();
        let a = Bucket::per_period("a", 5, Duration::from_secs(3600));
        let b = Bucket::per_period("b", 2, Duration::from_secs(3600));
        let both = [a.clone(), b.clone()];
        assert!(s.check_at(&both, 1, 0).allowed);
        assert!(s.check_at(&both, 1, 0).allowed);
        let d = s.check_at(&both, 1, 0);
        assert!(!d.allowed);
        assert_eq!((d.limit, d.remaining), (2, 0));
        // The denied request took nothing from `a`.
        let d = s.check_at(std::slice::from_ref(&a), 1, 0);
        assert!(d.allowed);
        assert_eq!(d.remaining, 2);
    }

    #[test]
    fn cost_above_one() {
        let s = store();
        let b = [Bucket::per_period("k", 10, Duration::from_secs(10))];
        assert!(s.check_at(&b, 4, 0).allowed);
        assert!(s.check_at(&b, 4, 0).allowed);
        let d = s.check_at(&b, 4, 0);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 2);
        assert_eq!(d.retry_after_secs, 2);
        // Denied requests take nothing, so a smaller one still fits.
        assert!(s.check_at(&b, 2, 0).allowed);
    }

    #[test]
    fn changed_period_keeps_the_token_count() {
        let s = store();
        let old = [Bucket::per_period("k", 10, Duration::from_secs(10))];
        assert!(s.check_at(&old, 4, 0).allowed);
        let new = [Bucket::per_period("k", 10, Duration::from_secs(1000))];
        let d = s.check_at(&new, 1, 0);
        assert!(d.allowed);
        assert_eq!(d.remaining, 5);
    }

    #[test]
    fn lru_bounds_the_number_of_keys() {
        let s = MemoryStore::new(NonZeroUsize::new(2).unwrap());
        let bucket = |k: &str| [Bucket::per_period(k, 1, Duration::from_secs(3600))];
        assert!(s.check_at(&bucket("a"), 1, 0).allowed);
        assert!(s.check_at(&bucket("b"), 1, 0).allowed);
        assert!(!s.check_at(&bucket("a"), 1, 0).allowed);
        // "b" is now the least recently used key and is evicted; it starts full again.
        assert!(s.check_at(&bucket("c"), 1, 0).allowed);
        assert!(s.check_at(&bucket("b"), 1, 0).allowed);
        assert_eq!(s.cache.lock().unwrap().len(), 2);
    }
}
