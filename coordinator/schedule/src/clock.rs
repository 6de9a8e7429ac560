//! Where "now" comes from, so that schedulers can be tested without waiting.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The real clock sped up `speed` times from an instant `origin`: it shows
/// `origin + (real now - origin) * speed`. For tests of real processes
/// across several due times of a minute-granular schedule: processes given
/// the same origin and speed agree on the time. Never for production.
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    origin: DateTime<Utc>,
    speed: u32,
}

impl ScaledClock {
    #[must_use]
    pub fn new(origin: DateTime<Utc>, speed: u32) -> Self {
        ScaledClock { origin, speed }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let real = Utc::now();
        let elapsed = real.signed_duration_since(self.origin);
        elapsed
            .checked_mul(i32::try_from(self.speed).unwrap_or(i32::MAX))
            .and_then(|d| self.origin.checked_add_signed(d))
            .unwrap_or(real)
    }
}

/// A clock that only moves when told to, for tests.
///
/// Clones share the same time: hand one clone to the code under test and
/// move time on with another.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock showing `now`.
    #[must_use]
    pub fn new(now: DateTime<Utc>) -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(now)),
        }
    }

    /// Sets the time (backwards too).
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    /// Moves the time on by `by` (back, if negative), stopping at the limits
    /// of what [`DateTime`] can represent; returns the new time.
    pub fn advance(&self, by: TimeDelta) -> DateTime<Utc> {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now
            .checked_add_signed(by)
            .unwrap_or(if by < TimeDelta::zero() {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            });
        *now
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaled_clock_runs_faster_from_its_origin() {
        let origin = Utc::now() - TimeDelta::seconds(10);
        let ahead = ScaledClock::new(origin, 6)
            .now()
            .signed_duration_since(origin);
        assert!(ahead >= TimeDelta::seconds(60), "{ahead}");
        assert!(ahead < TimeDelta::seconds(600), "{ahead}");
    }
}
