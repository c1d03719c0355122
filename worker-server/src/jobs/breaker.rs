//! Circuit breaker for the external API: a small typed state machine.
//!
//! Closed -> (N consecutive failures) -> Open -> (open duration passed) ->
//! HalfOpen (exactly one probe) -> Closed on success / Open on failure.
//! No crate: the maintained ones (`failsafe`, `circuitbreaker-rs`) bring their own
//! futures/timer machinery for what is ~100 lines here, and this one is tested
//! with an injected clock.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    pub const ALL: [CircuitState; 3] = [Self::Closed, Self::Open, Self::HalfOpen];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
enum Inner {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// Shared breaker; cheap to clone.
#[derive(Debug, Clone)]
pub struct Breaker {
    inner: Arc<Mutex<Inner>>,
    threshold: u32,
    open_for: Duration,
}

/// Why a call was not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// Time until a probe will be allowed (zero while a probe is running).
    pub retry_in: Duration,
}

/// Permission for one call. Must be settled with `success` or `failure`;
/// dropped unsettled (the job was cancelled), it counts as neither but frees a
/// half-open probe slot so the breaker cannot get stuck.
#[derive(Debug)]
pub struct Permit {
    breaker: Breaker,
    probe: bool,
    settled: bool,
}

impl Breaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner::Closed { failures: 0 })),
            threshold: threshold.max(1),
            open_for,
        }
    }

    pub fn state(&self) -> CircuitState {
        self.state_at(Instant::now())
    }

    pub fn state_at(&self, now: Instant) -> CircuitState {
        match *self.lock() {
            Inner::Closed { .. } => CircuitState::Closed,
            Inner::Open { until } if now >= until => CircuitState::HalfOpen,
            Inner::Open { .. } => CircuitState::Open,
            Inner::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    pub fn try_acquire(&self) -> Result<Permit, Rejected> {
        self.try_acquire_at(Instant::now())
    }

    pub fn try_acquire_at(&self, now: Instant) -> Result<Permit, Rejected> {
        let mut inner = self.lock();
        let probe = match *inner {
            Inner::Closed { .. } => false,
            Inner::Open { until } if now < until => {
                return Err(Rejected {
                    retry_in: until - now,
                });
            }
            Inner::Open { .. } | Inner::HalfOpen { probing: false } => {
                *inner = Inner::HalfOpen { probing: true };
                true
            }
            Inner::HalfOpen { probing: true } => {
                return Err(Rejected {
                    retry_in: Duration::ZERO,
                });
            }
        };
        Ok(Permit {
            breaker: self.clone(),
            probe,
            settled: false,
        })
    }

    fn record(&self, probe: bool, ok: bool, now: Instant) {
        let mut inner = self.lock();
        *inner = match (&*inner, ok) {
            (_, true) => Inner::Closed { failures: 0 },
            (Inner::Closed { failures }, false) => {
                let failures = failures + 1;
                if failures >= self.threshold {
                    Inner::Open {
                        until: now + self.open_for,
                    }
                } else {
                    Inner::Closed { failures }
                }
            }
            // A failed probe re-opens; a late failure of a call admitted before the
            // circuit opened does not extend the open period.
            (Inner::HalfOpen { .. }, false) if probe => Inner::Open {
                until: now + self.open_for,
            },
            (Inner::HalfOpen { probing }, false) => Inner::HalfOpen { probing: *probing },
            (Inner::Open { until }, false) => Inner::Open { until: *until },
        };
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The state stays consistent even if a holder panicked: recover it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Permit {
    pub fn success(self) {
        self.settle(true, Instant::now());
    }

    pub fn failure(self) {
        self.settle(false, Instant::now());
    }

    pub fn settle(mut self, ok: bool, now: Instant) {
        self.settled = true;
        self.breaker.record(self.probe, ok, now);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            let mut inner = self.breaker.lock();
            if let Inner::HalfOpen { probing: true } = *inner {
                *inner = Inner::HalfOpen { probing: false };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: Duration = Duration::from_secs(5);

    /// A breaker (threshold 1) that one failure opened at `t`, and the moment
    /// its open period ends.
    fn opened() -> (Breaker, Instant) {
        let b = Breaker::new(1, OPEN);
        let t = Instant::now();
        b.try_acquire_at(t).unwrap().settle(false, t);
        (b, t + OPEN)
    }

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let b = Breaker::new(3, OPEN);
        let t = Instant::now();
        for _ in 0..2 {
            b.try_acquire_at(t).unwrap().settle(false, t);
        }
        assert_eq!(b.state_at(t), CircuitState::Closed);
        // A success resets the count.
        b.try_acquire_at(t).unwrap().settle(true, t);
        for _ in 0..2 {
            b.try_acquire_at(t).unwrap().settle(false, t);
        }
        assert_eq!(b.state_at(t), CircuitState::Closed);
        b.try_acquire_at(t).unwrap().settle(false, t);
        assert_eq!(b.state_at(t), CircuitState::Open);
        let rejected = b.try_acquire_at(t + Duration::from_secs(1)).unwrap_err();
        assert_eq!(rejected.retry_in, Duration::from_secs(4));
    }

    #[test]
    fn half_open_lets_exactly_one_probe_through() {
        let (b, later) = opened();
        assert_eq!(b.state_at(later), CircuitState::HalfOpen);
        let probe = b.try_acquire_at(later).unwrap();
        assert!(b.try_acquire_at(later).is_err(), "second probe refused");
        probe.settle(true, later);
        assert_eq!(b.state_at(later), CircuitState::Closed);
        assert!(b.try_acquire_at(later).is_ok());
    }

    #[test]
    fn failed_probe_reopens() {
        let (b, later) = opened();
        b.try_acquire_at(later).unwrap().settle(false, later);
        assert_eq!(b.state_at(later), CircuitState::Open);
        assert_eq!(b.state_at(later + OPEN), CircuitState::HalfOpen);
    }

    #[test]
    fn dropped_probe_frees_the_slot() {
        let (b, later) = opened();
        drop(b.try_acquire_at(later).unwrap());
        assert!(b.try_acquire_at(later).is_ok());
    }

    #[test]
    fn late_failure_of_an_old_call_does_not_extend_open() {
        let b = Breaker::new(1, OPEN);
        let t = Instant::now();
        let old = b.try_acquire_at(t).unwrap();
        b.try_acquire_at(t).unwrap().settle(false, t);
        old.settle(false, t + Duration::from_secs(4));
        assert_eq!(b.state_at(t + OPEN), CircuitState::HalfOpen);
    }
}
