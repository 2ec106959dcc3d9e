//! One retry schedule for every loop that waits and tries again: capped exponential backoff.
//!
//! A [`Backoff`] hands out the waits `initial, 2×initial, 4×initial, …` up to `max`, then
//! `max` for ever, until [`Backoff::reset`] (call it after a success) starts over. It holds
//! no clock and never sleeps itself, so the same value serves an async retry loop
//! (`tokio::time::sleep(backoff.next())`), a "not before" deadline kept between calls
//! ([`Backoff::next`] added to `Instant::now()`), and plain unit tests.
//!
//! The schedule is deterministic (no jitter): ny-power's loops each talk to one server from
//! one process, so there is no herd to spread out.
//!
//! ```
//! use std::time::Duration;
//! use ny_power::backoff::Backoff;
//!
//! let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
//! let waits: Vec<u64> = (0..5).map(|_| b.next().as_secs()).collect();
//! assert_eq!(waits, [1, 2, 4, 5, 5]);
//! b.reset();
//! assert_eq!(b.next(), Duration::from_secs(1));
//! ```

use std::time::Duration;

/// Capped exponential backoff (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
    failures: u32,
}

impl Backoff {
    /// A schedule starting at `initial` and doubling up to `max`. An `initial` above `max` is
    /// lowered to `max`; a zero `initial` waits nothing, ever (for tests that must not wait).
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.min(max);
        Backoff {
            initial,
            max,
            next: initial,
            failures: 0,
        }
    }

    /// The wait before the next attempt; each call doubles the following one, up to the cap.
    #[allow(clippy::should_implement_trait)] // not an iterator: it never ends
    pub fn next(&mut self) -> Duration {
        let wait = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        self.failures = self.failures.saturating_add(1);
        wait
    }

    /// What [`Backoff::next`] will return, without advancing.
    pub fn peek(&self) -> Duration {
        self.next
    }

    /// How many waits were handed out since the last reset (the failures in a row).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Starts over at `initial` (after a success).
    pub fn reset(&mut self) {
        self.next = self.initial;
        self.failures = 0;
    }

    /// The first wait.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The cap: no wait is longer.
    pub fn max(&self) -> Duration {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(200), Duration::from_secs(30));
        let waits: Vec<Duration> = (0..10).map(|_| b.next()).collect();
        assert_eq!(
            waits,
            [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000].map(ms)
        );
        assert_eq!(b.failures(), 10);
        assert_eq!(b.peek(), ms(30000));
        b.reset();
        assert_eq!(b.failures(), 0);
        assert_eq!(b.next(), ms(200));
    }

    #[test]
    fn never_overflows_and_respects_odd_inputs() {
        let mut b = Backoff::new(Duration::from_secs(60), Duration::from_secs(30));
        assert_eq!(
            b.next(),
            Duration::from_secs(30),
            "initial above max is capped"
        );
        let mut huge = Backoff::new(Duration::from_secs(1), Duration::MAX);
        for _ in 0..200 {
            huge.next();
        }
        assert_eq!(huge.next(), Duration::MAX);
        let mut zero = Backoff::new(Duration::ZERO, Duration::from_secs(1));
        assert_eq!(zero.next(), Duration::ZERO);
        assert_eq!(zero.next(), Duration::ZERO);
    }
}
