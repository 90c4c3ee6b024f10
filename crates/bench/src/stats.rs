//! Latency samples, percentiles, and the generic closed-loop load driver: N tasks, each sending one
//! request after the other until a deadline (or a shared request budget) is reached.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

/// Sorted latencies of the successful operations of one scenario, with its errors and wall time.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    pub lat: Vec<Duration>,
    pub errors: u64,
    pub first_error: Option<String>,
    pub wall: Duration,
}

impl Samples {
    pub fn new(mut lat: Vec<Duration>, errors: u64, wall: Duration) -> Samples {
        lat.sort_unstable();
        Samples {
            lat,
            errors,
            first_error: None,
            wall,
        }
    }

    pub fn count(&self) -> usize {
        self.lat.len()
    }

    /// Successful operations per second of wall time.
    pub fn rate(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.lat.len() as f64 / secs
        } else {
            0.0
        }
    }

    pub fn p(&self, q: f64) -> Duration {
        percentile(&self.lat, q)
    }

    pub fn max(&self) -> Duration {
        self.lat.last().copied().unwrap_or_default()
    }

    /// `123.4/s | p50 1.20 ms | p95 … | p99 … | max … | n 1234` (and errors, when any).
    pub fn line(&self) -> String {
        let mut s = format!(
            "{:.1}/s | p50 {} | p95 {} | p99 {} | max {} | n {}",
            self.rate(),
            ms(self.p(0.5)),
            ms(self.p(0.95)),
            ms(self.p(0.99)),
            ms(self.max()),
            self.count()
        );
        if self.errors > 0 {
            s.push_str(&format!(
                " | errors {} (first: {})",
                self.errors,
                self.first_error.as_deref().unwrap_or("?")
            ));
        }
        s
    }
}

/// Nearest-rank percentile of sorted durations (`q` in 0..=1).
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * q.clamp(0.0, 1.0)).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Milliseconds with a precision that suits the size: `0.42 ms`, `12.3 ms`, `298 ms`.
pub fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    if v < 10.0 {
        format!("{v:.2} ms")
    } else if v < 100.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} ms")
    }
}

/// One operation of a load loop: `(worker index, sequence number)` → done or failed.
pub type Op = Arc<dyn Fn(usize, u64) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

pub fn op<F, Fut>(f: F) -> Op
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    Arc::new(move |w, s| Box::pin(f(w, s)))
}

#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// Keep sending until this much time has passed.
    Elapsed(Duration),
    /// Stop after this many operations in total (shared by all workers).
    Count(u64),
}

/// `concurrency` tasks, each running `op` back to back until `until`. Failed operations are counted, not
/// timed. Sequence numbers are unique across workers (useful for unique names).
pub async fn drive(concurrency: usize, until: Until, op: Op) -> anyhow::Result<Samples> {
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..concurrency.max(1))
        .map(|w| {
            let (op, next) = (op.clone(), next.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                let mut first_error = None;
                loop {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    let more = match until {
                        Until::Elapsed(d) => started.elapsed() < d,
                        Until::Count(n) => seq < n,
                    };
                    if !more {
                        break;
                    }
                    let t = Instant::now();
                    match op(w, seq).await {
                        Ok(()) => lat.push(t.elapsed()),
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| format!("{e:#}"));
                        }
                    }
                }
                (lat, errors, first_error)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for h in handles {
        let (lat, e, first) = h.await?;
        all.extend(lat);
        errors += e;
        if first_error.is_none() {
            first_error = first;
        }
    }
    let mut samples = Samples::new(all, errors, started.elapsed());
    samples.first_error = first_error;
    anyhow::ensure!(
        samples.count() > 0 || errors == 0,
        "every operation failed; first error: {}",
        samples.first_error.as_deref().unwrap_or("?")
    );
    Ok(samples)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let lat: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&lat, 0.5), Duration::from_millis(51));
        assert_eq!(percentile(&lat, 0.0), Duration::from_millis(1));
        assert_eq!(percentile(&lat, 1.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn ms_precision() {
        assert_eq!(ms(Duration::from_micros(420)), "0.42 ms");
        assert_eq!(ms(Duration::from_micros(12_340)), "12.3 ms");
        assert_eq!(ms(Duration::from_millis(298)), "298 ms");
    }

    #[tokio::test]
    async fn drive_honours_count_and_counts_errors() {
        let s = drive(
            3,
            Until::Count(10),
            op(|_, seq| async move {
                anyhow::ensure!(seq % 5 != 0, "boom {seq}");
                Ok(())
            }),
        )
        .await
        .unwrap();
        assert_eq!(s.count(), 8);
        assert_eq!(s.errors, 2);
        assert!(s.first_error.unwrap().starts_with("boom"));
    }
}
