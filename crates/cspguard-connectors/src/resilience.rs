//! Retry with backoff and a per-service circuit breaker: every outgoing call goes through both.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rand::Rng;
use tokio::time::Instant;

use crate::error::{ConnectorError, Result};

/// How often and how long to retry a retryable failure (429, 5xx, transport errors).
///
/// The wait before retry `n` (1-based) is `base_delay * 2^(n-1)` capped at `max_delay`, of which a random half is
/// jitter (so clients that failed together do not retry together). A `Retry-After` from the service replaces it,
/// capped at `max_delay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Wait before the first retry (before jitter).
    pub base_delay: Duration,
    /// Longest wait between two attempts, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 500 ms doubling, at most 60 s between two attempts.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// 3 attempts, 10 ms doubling, at most 2 s (enough to honour a 1 s `Retry-After`): for tests.
    pub fn fast_for_tests() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(2),
        }
    }

    /// No retry at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        }
    }

    /// The wait before retry number `retry` (1 = the first retry), given the service's `Retry-After` if any.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_delay);
        }
        let exp = retry.saturating_sub(1).min(30);
        let full = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let half = full / 2;
        let jitter_ns =
            rand::thread_rng().gen_range(0..=half.as_nanos().min(u64::MAX as u128) as u64);
        half + Duration::from_nanos(jitter_ns)
    }
}

/// Reads a `Retry-After` value: delay-seconds or an HTTP-date (a date in the past means now).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// What a [`CircuitBreaker`] currently does with calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are refused with [`ConnectorError::CircuitOpen`] until the cooldown ends.
    Open,
    /// The cooldown has ended: one probe call goes through; its outcome closes or re-opens the circuit.
    HalfOpen,
}

#[derive(Debug)]
struct BreakerInner {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probe_in_flight: bool,
}

/// A circuit breaker for one service.
///
/// It counts *calls* (an operation after its retries), not attempts: after `failure_threshold` consecutive calls
/// that ended in a retryable failure it opens for `cooldown`; then it is half-open and lets one probe call through.
/// A success closes it; a failure of the probe opens it again. A client error (4xx) shows the service is up and
/// counts as a success for the breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    service: String,
    failure_threshold: u32,
    cooldown: Duration,
    inner: Mutex<BreakerInner>,
}

impl CircuitBreaker {
    /// A closed breaker for `service` (a name used in errors and logs).
    pub fn new(service: impl Into<String>, failure_threshold: u32, cooldown: Duration) -> Self {
        CircuitBreaker {
            service: service.into(),
            failure_threshold: failure_threshold.max(1),
            cooldown,
            inner: Mutex::new(BreakerInner {
                consecutive_failures: 0,
                open_until: None,
                probe_in_flight: false,
            }),
        }
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerInner> {
        // A panic while holding this lock cannot leave the counters inconsistent: keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        let inner = self.lock();
        match inner.open_until {
            None => BreakerState::Closed,
            Some(until) if Instant::now() < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// Asks to make a call: a permit, or [`ConnectorError::CircuitOpen`]. Report the call's outcome on the permit.
    pub fn acquire(&self) -> Result<BreakerPermit<'_>> {
        let mut inner = self.lock();
        match inner.open_until {
            None => Ok(BreakerPermit {
                breaker: self,
                probe: false,
                done: false,
            }),
            Some(until) => {
                let now = Instant::now();
                if now < until {
                    Err(self.open_error(until - now))
                } else if inner.probe_in_flight {
                    Err(self.open_error(Duration::ZERO))
                } else {
                    inner.probe_in_flight = true;
                    Ok(BreakerPermit {
                        breaker: self,
                        probe: true,
                        done: false,
                    })
                }
            }
        }
    }

    fn open_error(&self, remaining: Duration) -> ConnectorError {
        ConnectorError::CircuitOpen {
            service: self.service.clone(),
            until_secs: remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0),
        }
    }

    fn record(&self, success: bool, probe: bool) {
        let mut inner = self.lock();
        if probe {
            inner.probe_in_flight = false;
        }
        if success {
            if inner.open_until.is_some() {
                tracing::info!(service = %self.service, "circuit closed");
            }
            inner.consecutive_failures = 0;
            inner.open_until = None;
        } else {
            inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
            if probe || inner.consecutive_failures >= self.failure_threshold {
                tracing::warn!(service = %self.service, cooldown_s = self.cooldown.as_secs_f64(), "circuit opened");
                inner.open_until = Some(Instant::now() + self.cooldown);
            }
        }
    }
}

/// Permission to make one call through a [`CircuitBreaker`]. Dropping it without an outcome (a cancelled call)
/// records nothing but frees the half-open probe slot.
#[derive(Debug)]
pub struct BreakerPermit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    done: bool,
}

impl BreakerPermit<'_> {
    /// The call succeeded (or failed in a way that shows the service is up).
    pub fn success(mut self) {
        self.done = true;
        self.breaker.record(true, self.probe);
    }

    /// The call failed with a retryable failure after its retries.
    pub fn failure(mut self) {
        self.done = true;
        self.breaker.record(false, self.probe);
    }
}

impl Drop for BreakerPermit<'_> {
    fn drop(&mut self) {
        if !self.done && self.probe {
            self.breaker.lock().probe_in_flight = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for _ in 0..50 {
            let d1 = p.delay(1, None);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = p.delay(3, None);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            assert!(p.delay(20, None) <= Duration::from_secs(1));
        }
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(30))),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let future = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let d = parse_retry_after(&future).expect("date");
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn breaker_opens_half_opens_and_closes() {
        let b = CircuitBreaker::new("svc", 2, Duration::from_secs(10));
        b.acquire().expect("closed").failure();
        assert_eq!(b.state(), BreakerState::Closed);
        b.acquire().expect("closed").failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(matches!(
            b.acquire(),
            Err(ConnectorError::CircuitOpen { until_secs: 10, .. })
        ));
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.acquire().expect("probe");
        assert!(b.acquire().is_err(), "one probe at a time");
        probe.failure();
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(11)).await;
        b.acquire().expect("probe").success();
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
