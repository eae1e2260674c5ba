//! Sign-in throttling: after too many failures for one user name or from one
//! address within a window, further attempts are refused until the oldest
//! failure leaves the window. Kept in memory: a restart forgives, which is
//! acceptable because Argon2id already makes each guess slow.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use renkei_core::{Clock, Timestamp};

/// Failure counts per user name and per address.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    inner: Arc<Mutex<HashMap<String, VecDeque<Timestamp>>>>,
    clock: Arc<dyn Clock>,
    max_failures: usize,
    window_us: i64,
}

impl LoginThrottle {
    /// Refuse after `max_failures` within `window_secs`.
    pub fn new(clock: Arc<dyn Clock>, max_failures: u32, window_secs: u64) -> Self {
        Self {
            inner: Arc::new(Mutex::new(HashMap::new())),
            clock,
            max_failures: max_failures.max(1) as usize,
            window_us: i64::try_from(window_secs).unwrap_or(i64::MAX / 1_000_000) * 1_000_000,
        }
    }

    /// Seconds to wait if any of `keys` is throttled now, else `None`.
    pub fn check(&self, keys: &[&str]) -> Option<u64> {
        let now = self.clock.now();
        let mut map = self.inner.lock().expect("throttle lock is never poisoned");
        let mut wait = None;
        for key in keys {
            if let Some(q) = map.get_mut(*key) {
                while q
                    .front()
                    .is_some_and(|t| t.unix_micros() + self.window_us <= now.unix_micros())
                {
                    q.pop_front();
                }
                if q.len() >= self.max_failures {
                    let oldest = q.front().expect("non-empty: len >= max_failures >= 1");
                    let left_us = oldest.unix_micros() + self.window_us - now.unix_micros();
                    let secs = u64::try_from((left_us + 999_999) / 1_000_000).unwrap_or(1);
                    wait = Some(wait.map_or(secs, |w: u64| w.max(secs)));
                }
            }
        }
        wait
    }

    /// Records a failed attempt against each of `keys`.
    pub fn failed(&self, keys: &[&str]) {
        let now = self.clock.now();
        let mut map = self.inner.lock().expect("throttle lock is never poisoned");
        for key in keys {
            let q = map.entry((*key).to_owned()).or_default();
            q.push_back(now);
            while q.len() > self.max_failures {
                q.pop_front();
            }
        }
    }

    /// Forgets the failures of `keys` after a successful sign-in.
    pub fn succeeded(&self, keys: &[&str]) {
        let mut map = self.inner.lock().expect("throttle lock is never poisoned");
        for key in keys {
            map.remove(*key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use renkei_core::FixedClock;

    #[test]
    fn refuses_after_max_failures_until_window_passes() {
        let clock = Arc::new(FixedClock::new(Timestamp::from_unix_micros(0)));
        let t = LoginThrottle::new(clock.clone(), 3, 60);
        for _ in 0..2 {
            t.failed(&["user:alice"]);
        }
        assert_eq!(t.check(&["user:alice"]), None);
        t.failed(&["user:alice"]);
        assert_eq!(t.check(&["user:alice", "ip:1"]), Some(60));
        assert_eq!(t.check(&["user:bob"]), None);
        clock.advance_micros(30_000_000);
        assert_eq!(t.check(&["user:alice"]), Some(30));
        clock.advance_micros(30_000_000);
        assert_eq!(t.check(&["user:alice"]), None);
    }

    #[test]
    fn success_forgets_failures() {
        let clock = Arc::new(FixedClock::new(Timestamp::from_unix_micros(0)));
        let t = LoginThrottle::new(clock, 2, 60);
        t.failed(&["user:a"]);
        t.failed(&["user:a"]);
        assert!(t.check(&["user:a"]).is_some());
        t.succeeded(&["user:a"]);
        assert_eq!(t.check(&["user:a"]), None);
    }
}
