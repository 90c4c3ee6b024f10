//! Bucket parameters, the decision returned to callers, and the token-bucket arithmetic shared by both stores.
//!
//! Levels are kept in *scaled* units, `tokens * refill_period_ms`. In those units one elapsed millisecond adds
//! exactly `refill_tokens`, so refill is integer arithmetic: no rounding drift, and the Lua script (whose numbers
//! are doubles) computes bit-for-bit what the in-process store computes, as long as every value stays below 2^53.
//! [`Bucket::new`] clamps its parameters to guarantee that.

use std::time::Duration;

/// Largest integer a Lua double represents exactly; every scaled level must stay below it.
const MAX_SCALED: u64 = (1 << 53) - 1;
/// About 35 years; longer periods would leave almost no room for the capacity under [`MAX_SCALED`].
const MAX_PERIOD_MS: u64 = 1 << 40;

/// One token bucket: holds at most `capacity` tokens and gains `refill_tokens` every `refill_period`,
/// continuously (fractions of a token accrue between requests).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bucket {
    key: String,
    capacity: u32,
    refill_tokens: u32,
    refill_period_ms: u64,
}

impl Bucket {
    /// A bucket of `capacity` tokens refilled at `refill_tokens` per `refill_period`
    /// (the global limit is `Bucket::new(key, 50, 20, Duration::from_secs(1))`).
    ///
    /// Degenerate parameters are clamped rather than rejected, because limits come from configuration that
    /// was validated elsewhere and a request path has no good way to report an error: the period is clamped
    /// to 1 ms ..= 2^40 ms, `refill_tokens` to at least 1, and `capacity` so that `capacity * period_ms < 2^53`
    /// (only absurd configurations, e.g. more than 100 million tokens per day, are affected).
    pub fn new(
        key: impl Into<String>,
        capacity: u32,
        refill_tokens: u32,
        refill_period: Duration,
    ) -> Self {
        let refill_period_ms = u64::try_from(refill_period.as_millis())
            .unwrap_or(MAX_PERIOD_MS)
            .clamp(1, MAX_PERIOD_MS);
        let max_capacity = u32::try_from(MAX_SCALED / refill_period_ms).unwrap_or(u32::MAX);
        Self {
            key: key.into(),
            capacity: capacity.min(max_capacity),
            refill_tokens: refill_tokens.max(1),
            refill_period_ms,
        }
    }

    /// The per-endpoint form of §0.7: `capacity` tokens, refilled at `capacity` per `period`
    /// (e.g. "IP 20/min" is `Bucket::per_period(key, 20, Duration::from_secs(60))`).
    pub fn per_period(key: impl Into<String>, capacity: u32, period: Duration) -> Self {
        Self::new(key, capacity, capacity, period)
    }

    /// The key identifying this bucket (without the store's prefix).
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    pub fn refill_tokens(&self) -> u32 {
        self.refill_tokens
    }

    /// The refill period after clamping (whole milliseconds).
    pub fn refill_period(&self) -> Duration {
        Duration::from_millis(self.refill_period_ms)
    }

    pub(crate) fn period_ms(&self) -> u64 {
        self.refill_period_ms
    }

    /// Scaled units gained per elapsed millisecond.
    pub(crate) fn refill_per_ms(&self) -> u64 {
        u64::from(self.refill_tokens)
    }

    /// Scaled level of a full bucket.
    pub(crate) fn full(&self) -> u64 {
        u64::from(self.capacity) * self.refill_period_ms
    }

    /// Scaled amount a request of `cost` tokens needs; saturates so an enormous cost is simply never met.
    pub(crate) fn scaled(&self, tokens: u32) -> u64 {
        u64::from(tokens).saturating_mul(self.refill_period_ms)
    }

    /// Scaled level at `now_ms` of a bucket that held `level` at `ts_ms`.
    pub(crate) fn refilled(&self, level: u64, ts_ms: u64, now_ms: u64) -> u64 {
        let full = self.full();
        let level = level.min(full);
        let missing = full - level;
        // A clock that went backwards (another replica, a restarted process) must not drain a bucket.
        let elapsed = now_ms.saturating_sub(ts_ms);
        // u128 because an idle key can be read after an arbitrarily long time.
        let added = u128::from(elapsed) * u128::from(self.refill_per_ms());
        match u64::try_from(added) {
            Ok(added) if added < missing => level + added,
            _ => full,
        }
    }

    /// Milliseconds until a bucket at scaled `level` reaches scaled `target` (0 if it is already there).
    fn ms_until(&self, level: u64, target: u64) -> u64 {
        target.saturating_sub(level).div_ceil(self.refill_per_ms())
    }
}

/// The outcome of [`crate::RateLimiter::check`].
///
/// `limit`, `remaining` and `reset_secs` describe the most restrictive bucket of the request (the one with the
/// fewest whole tokens left, after the take when allowed), ready for the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Capacity of the most restrictive bucket.
    pub limit: u32,
    /// Whole tokens left in the most restrictive bucket.
    pub remaining: u32,
    /// Seconds until the most restrictive bucket is full again, rounded up.
    pub reset_secs: u64,
    /// When denied: seconds until the request would be allowed, rounded up, at least 1. 0 when allowed.
    pub retry_after_secs: u64,
}

impl Decision {
    /// What a disabled limiter (or a request without buckets) answers: allowed, every bucket full.
    pub(crate) fn unlimited(buckets: &[Bucket]) -> Self {
        let limit = buckets.iter().map(Bucket::capacity).min().unwrap_or(0);
        Self {
            allowed: true,
            limit,
            remaining: limit,
            reset_secs: 0,
            retry_after_secs: 0,
        }
    }

    /// Builds the decision from the scaled `levels` of `buckets` (after the take when `allowed`, else current).
    pub(crate) fn from_levels(
        buckets: &[Bucket],
        levels: &[u64],
        allowed: bool,
        cost: u32,
    ) -> Self {
        let mut decision = Self::unlimited(&[]);
        decision.allowed = allowed;
        // (remaining, reset_ms) of the most restrictive bucket so far.
        let mut tightest: Option<(u64, u64)> = None;
        let mut retry_ms: u64 = 0;
        for (bucket, &level) in buckets.iter().zip(levels) {
            let remaining = level / bucket.period_ms();
            let reset_ms = bucket.ms_until(level, bucket.full());
            // Ties go to the bucket that takes longer to refill: its headers are the ones that stay true longest.
            let tighter = tightest
                .is_none_or(|(r, reset)| remaining < r || (remaining == r && reset_ms > reset));
            if tighter {
                tightest = Some((remaining, reset_ms));
                decision.limit = bucket.capacity();
                decision.remaining = u32::try_from(remaining).unwrap_or(u32::MAX);
                decision.reset_secs = reset_ms.div_ceil(1000);
            }
            if !allowed && level < bucket.scaled(cost) {
                // A cost above capacity can never be met; the best advice is to wait until the bucket is full.
                let target = bucket.scaled(cost.min(bucket.capacity()));
                // Buckets refill at different rates, so the request passes only once the slowest blocker has
                // enough: take the maximum, not the emptiest bucket's wait.
                retry_ms = retry_ms.max(bucket.ms_until(level, target));
            }
        }
        if !allowed {
            decision.retry_after_secs = retry_ms.div_ceil(1000).max(1);
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_degenerate_parameters() {
        let b = Bucket::new("k", 5, 0, Duration::ZERO);
        assert_eq!(b.refill_tokens(), 1);
        assert_eq!(b.refill_period(), Duration::from_millis(1));
        assert_eq!(b.capacity(), 5);

        let b = Bucket::new("k", u32::MAX, 1, Duration::from_secs(86_400 * 365));
        assert!(b.full() <= MAX_SCALED);
        assert!(b.capacity() > 0);

        let b = Bucket::new("k", 1, 1, Duration::MAX);
        assert_eq!(b.period_ms(), MAX_PERIOD_MS);
        assert!(b.full() <= MAX_SCALED);
    }

    #[test]
    fn refill_is_exact_and_capped() {
        // 20 tokens per second: 1 token per 50 ms.
        let b = Bucket::new("k", 50, 20, Duration::from_secs(1));
        assert_eq!(b.full(), 50_000);
        assert_eq!(b.refilled(0, 1_000, 1_000), 0);
        assert_eq!(b.refilled(0, 1_000, 1_050) / b.period_ms(), 1);
        assert_eq!(b.refilled(0, 1_000, 1_049) / b.period_ms(), 0);
        assert_eq!(b.refilled(0, 0, 2_500), b.full());
        assert_eq!(b.refilled(0, 0, u64::MAX), b.full());
        // Time going backwards neither refills nor drains.
        assert_eq!(b.refilled(7_000, 5_000, 1_000), 7_000);
        // A level above capacity (capacity lowered by configuration) is capped.
        assert_eq!(b.refilled(u64::MAX, 0, 0), b.full());
    }

    #[test]
    fn decision_describes_most_restrictive_bucket() {
        let wide = Bucket::per_period("wide", 100, Duration::from_secs(100));
        let narrow = Bucket::per_period("narrow", 5, Duration::from_secs(10));
        let levels = [wide.scaled(90), narrow.scaled(3)];
        let d = Decision::from_levels(&[wide, narrow], &levels, true, 1);
        assert_eq!(
            d,
            Decision {
                allowed: true,
                limit: 5,
                remaining: 3,
                // 2 tokens at 1 token per 2 s.
                reset_secs: 4,
                retry_after_secs: 0,
            }
        );
    }

    #[test]
    fn ties_pick_the_slower_bucket() {
        let fast = Bucket::per_period("fast", 10, Duration::from_secs(1));
        let slow = Bucket::per_period("slow", 10, Duration::from_secs(100));
        let levels = [fast.scaled(2), slow.scaled(2)];
        let d = Decision::from_levels(&[fast, slow], &levels, true, 1);
        assert_eq!(d.reset_secs, 80);
    }

    #[test]
    fn retry_after_waits_for_the_slowest_blocker() {
        // Both empty; one refills 1 token/s, the other 1 token/10 s.
        let fast = Bucket::per_period("fast", 10, Duration::from_secs(10));
        let slow = Bucket::per_period("slow", 10, Duration::from_secs(100));
        let d = Decision::from_levels(&[fast, slow], &[0, 0], false, 2);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.limit, 10);
        assert_eq!(d.reset_secs, 100);
        assert_eq!(d.retry_after_secs, 20);
    }

    #[test]
    fn retry_after_rounds_up_and_is_at_least_one() {
        let b = Bucket::new("k", 50, 20, Duration::from_secs(1));
        // 10 ms short of one token.
        let d = Decision::from_levels(std::slice::from_ref(&b), &[b.scaled(1) - 200], false, 1);
        assert_eq!(d.retry_after_secs, 1);
        // A cost above capacity: wait until full, never 0.
        let d = Decision::from_levels(std::slice::from_ref(&b), &[b.full()], false, 51);
        assert_eq!(d.retry_after_secs, 1);
        let d = Decision::from_levels(std::slice::from_ref(&b), &[0], false, 60);
        assert_eq!(d.retry_after_secs, 3);
    }

    #[test]
    fn partial_tokens_round_remaining_down_and_reset_up() {
        let b = Bucket::per_period("k", 3, Duration::from_secs(3));
        // 1.5 tokens.
        let d = Decision::from_levels(std::slice::from_ref(&b), &[4_500], true, 1);
        assert_eq!(d.remaining, 1);
        // 1.5 tokens at 1 token/s.
        assert_eq!(d.reset_secs, 2);
    }

    #[test]
    fn unlimited_reports_smallest_capacity() {
        let a = Bucket::per_period("a", 30, Duration::from_secs(60));
        let b = Bucket::per_period("b", 5, Duration::from_secs(60));
        let d = Decision::unlimited(&[a, b]);
        assert!(d.allowed);
        assert_eq!((d.limit, d.remaining, d.reset_secs), (5, 5, 0));
        assert_eq!(Decision::unlimited(&[]).limit, 0);
    }
}
