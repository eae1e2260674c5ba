//! Guessing throttles for sign-in and patient identification.
//!
//! Every attempt is charged to several counters ([`Key`]s) at once, each
//! with its own [`Tier`]: the strict one for what is being guessed (an
//! account from one address, a patient's card), and looser ceilings
//! for everything from one address, or every address guessing one
//! account. The rules, each the answer to an attack:
//!
//! - **A slot is reserved before the guess is evaluated**
//!   ([`Throttle::begin`]): attempts in flight count against the budget
//!   like failures, under one lock, so 40 concurrent guesses cannot all
//!   pass the check before any of them fails.
//! - **A success clears only what it proves** ([`Scope::cleared_by_success`]):
//!   one's own sign-in or identification never resets the per-address
//!   ceiling, so it cannot be used to spray guesses at other targets.
//! - **Lockouts grow**: a counter that reaches its limit is locked for
//!   `lockout`, and each further lockout in a row doubles, up to
//!   `max_lockout`; a quiet `max_lockout` forgets the strikes.
//! - **Nobody can lock an account out from elsewhere**: the account-wide
//!   counter has a much higher limit and short lockouts, and does not apply
//!   at all from an address that signed in to the account before
//!   ([`Throttle::trusted`]).
//! - **Memory is bounded**: counters are kept by a keyed hash (so the table
//!   holds no user name or card number), and past `capacity` entries the
//!   idle ones, then the least recently used, are dropped.
//!
//! Kept in memory: a restart forgives, which is acceptable because each
//! guess is slow (Argon2id) or strictly limited (identification).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use rand::RngCore;
use renkei_core::Clock;
use sha2::Sha256;

/// What a counter counts, which decides what a success clears and how it
/// is named in logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Sign-ins to one account from one address (strict).
    AccountAddress,
    /// Sign-ins to one account from anywhere (a slow, high ceiling).
    Account,
    /// Sign-ins from one address, to any account (a ceiling).
    SignInAddress,
    /// Identifications of one insurance identity, as identity normalizes
    /// it, from anywhere (strict).
    PatientTarget,
    /// Identifications from one address, of anyone (a ceiling well above
    /// the target's, so a kiosk or a carrier's NAT is not shut).
    PatientAddress,
}

impl Scope {
    /// The name in logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::AccountAddress => "account_address",
            Scope::Account => "account",
            Scope::SignInAddress => "sign_in_address",
            Scope::PatientTarget => "patient_target",
            Scope::PatientAddress => "patient_address",
        }
    }

    /// Whether a success forgets this counter's failures. Only the
    /// counter of what the success proved: the account from this address,
    /// the identity identified. Never an address's ceiling (one's own
    /// success would reset a sprayer's budget) nor the account-wide one
    /// (the owner signing in would reset a distributed guesser's).
    pub fn cleared_by_success(self) -> bool {
        matches!(self, Scope::AccountAddress | Scope::PatientTarget)
    }
}

/// How many failures a counter allows and how long it then locks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tier {
    /// Failures (plus attempts in flight) within `window_secs` before a
    /// lockout.
    pub limit: u32,
    /// The window failures are counted in, in seconds.
    pub window_secs: u64,
    /// The first lockout, in seconds; each further one in a row doubles.
    pub lockout_secs: u64,
    /// The longest lockout, in seconds; a quiet spell this long forgets
    /// earlier lockouts.
    pub max_lockout_secs: u64,
}

impl Tier {
    fn window_us(&self) -> i64 {
        secs_to_us(self.window_secs)
    }

    /// The lockout after `strikes` earlier ones in a row.
    fn lockout_us(&self, strikes: u32) -> i64 {
        let base = secs_to_us(self.lockout_secs.max(1));
        let max = secs_to_us(self.max_lockout_secs.max(self.lockout_secs).max(1));
        base.saturating_mul(1_i64 << strikes.min(40)).min(max)
    }
}

fn secs_to_us(secs: u64) -> i64 {
    i64::try_from(secs)
        .unwrap_or(i64::MAX / 1_000_000)
        .saturating_mul(1_000_000)
}

/// One counter an attempt is charged to: a scope, a keyed hash of what it
/// counts, and its tier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    scope: Scope,
    id: [u8; 16],
    tier: Tier,
}

impl Key {
    /// The counter's scope.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// A short id for logs: the first bytes of the keyed hash, which tells
    /// repeated events about one target apart and names nobody.
    pub fn log_id(&self) -> String {
        hex::encode(&self.id[..4])
    }
}

/// A refused attempt: how long to wait, and which counter refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    /// Seconds until an attempt may be considered again.
    pub retry_after_secs: u64,
    /// The counter that refused (the longest wait, if several did).
    pub scope: Scope,
}

/// A counter that reached its limit with the failure just recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lockout {
    /// Which counter.
    pub scope: Scope,
    /// Its short id for logs ([`Key::log_id`]).
    pub id: String,
    /// Lockouts of this counter in a row, this one included.
    pub strikes: u32,
    /// How long this one lasts, in seconds.
    pub secs: u64,
}

#[derive(Debug, Default)]
struct Entry {
    /// Failures within the window, oldest first (µs).
    failures: VecDeque<i64>,
    /// Attempts reserved and not yet settled.
    in_flight: u32,
    /// Refused until then (µs); 0 for never.
    locked_until: i64,
    /// Lockouts in a row.
    strikes: u32,
    /// The last failure (µs), to forget strikes after a quiet spell.
    last_failure: i64,
    /// An account-address pair that signed in is trusted until then (µs).
    trusted_until: i64,
    /// The last time anything touched the entry, for eviction.
    last_seen: i64,
    /// The window of the entry's tier, to tell whether it is idle.
    window_us: i64,
}

impl Entry {
    fn prune(&mut self, now: i64, window_us: i64) {
        while self.failures.front().is_some_and(|t| t + window_us <= now) {
            self.failures.pop_front();
        }
    }

    fn idle(&mut self, now: i64) -> bool {
        self.prune(now, self.window_us);
        self.in_flight == 0
            && self.failures.is_empty()
            && self.locked_until <= now
            && self.trusted_until <= now
            && self.strikes == 0
    }
}

type Table = HashMap<(Scope, [u8; 16]), Entry>;

/// How long a successful sign-in makes its account-address pair trusted,
/// exempt from the account-wide counter.
const TRUST_US: i64 = 30 * 24 * 3_600_000_000;

/// Guess counters, shared by every request. Cheap to clone.
#[derive(Clone)]
pub struct Throttle {
    table: Arc<Mutex<Table>>,
    clock: Arc<dyn Clock>,
    hash_key: Arc<[u8; 32]>,
    capacity: usize,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Throttle {
    /// An empty throttle holding at most about `capacity` counters.
    pub fn new(clock: Arc<dyn Clock>, capacity: usize) -> Self {
        let mut hash_key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut hash_key);
        Self {
            table: Arc::new(Mutex::new(HashMap::new())),
            clock,
            hash_key: Arc::new(hash_key),
            capacity: capacity.max(16),
        }
    }

    /// The counter of `parts` (a user name, an address, a normalized
    /// insurance identity) in `scope`. The parts are kept only as a keyed
    /// hash under a key made at start-up.
    pub fn key(&self, scope: Scope, parts: &[&str], tier: Tier) -> Key {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.hash_key.as_slice())
            .expect("HMAC takes a key of any length");
        mac.update(scope.as_str().as_bytes());
        for part in parts {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        let digest = mac.finalize().into_bytes();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        Key { scope, id, tier }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock leaves counts that are still
        // counts; keep serving rather than poisoning every sign-in.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `key` (an account-address pair) signed in successfully
    /// within the last 30 days.
    pub fn trusted(&self, key: &Key) -> bool {
        let now = self.clock.now().unix_micros();
        self.lock()
            .get(&(key.scope, key.id))
            .is_some_and(|e| e.trusted_until > now)
    }

    /// Reserves one attempt against every key, or refuses if any of them
    /// is locked or has its budget taken (by failures and attempts in
    /// flight). Check and reservation happen under one lock.
    pub fn begin(&self, keys: &[Key]) -> Result<Attempt, Refused> {
        let now = self.clock.now().unix_micros();
        let mut table = self.lock();
        let mut refused: Option<Refused> = None;
        for key in keys {
            let Some(entry) = table.get_mut(&(key.scope, key.id)) else {
                continue;
            };
            entry.prune(now, key.tier.window_us());
            let wait_us = if entry.locked_until > now {
                entry.locked_until - now
            } else if entry.failures.len() + entry.in_flight as usize >= key.tier.limit as usize {
                // The budget is held by attempts still being evaluated:
                // one of them may succeed and free it; ask to come back.
                1_000_000
            } else {
                continue;
            };
            let secs = u64::try_from((wait_us + 999_999) / 1_000_000).unwrap_or(1);
            if refused.is_none_or(|r| secs > r.retry_after_secs) {
                refused = Some(Refused {
                    retry_after_secs: secs,
                    scope: key.scope,
                });
            }
        }
        if let Some(r) = refused {
            return Err(r);
        }
        if table.len() + keys.len() > self.capacity {
            evict(&mut table, now, self.capacity);
        }
        for key in keys {
            let entry = table.entry((key.scope, key.id)).or_default();
            entry.in_flight += 1;
            entry.last_seen = now;
            entry.window_us = key.tier.window_us();
        }
        Ok(Attempt {
            throttle: self.clone(),
            keys: keys.to_vec(),
            settled: false,
        })
    }

    /// How many counters are held (for tests of the bound).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no counter is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops idle entries, then the least recently seen settled ones, down to
/// seven eighths of `capacity` (so that eviction is not paid on every
/// request once full).
fn evict(table: &mut Table, now: i64, capacity: usize) {
    table.retain(|_, e| !e.idle(now));
    let target = capacity - capacity / 8;
    if table.len() <= target {
        return;
    }
    let mut settled: Vec<(i64, (Scope, [u8; 16]))> = table
        .iter()
        .filter(|(_, e)| e.in_flight == 0)
        .map(|(k, e)| (e.last_seen, *k))
        .collect();
    settled.sort_unstable_by_key(|(seen, _)| *seen);
    let excess = table.len() - target;
    for (_, k) in settled.into_iter().take(excess) {
        table.remove(&k);
    }
}

/// A reserved attempt. Settle it with [`Attempt::failed`] or
/// [`Attempt::succeeded`]; dropped unsettled (an error on our side, a
/// client that hung up) it only frees its reservation.
#[derive(Debug)]
pub struct Attempt {
    throttle: Throttle,
    keys: Vec<Key>,
    settled: bool,
}

impl Attempt {
    /// Records a failure against every key; returns the counters that
    /// reached their limit with it (and are now locked).
    pub fn failed(mut self) -> Vec<Lockout> {
        self.settled = true;
        let now = self.throttle.clock.now().unix_micros();
        let mut table = self.throttle.lock();
        let mut lockouts = Vec::new();
        for key in &self.keys {
            let entry = table.entry((key.scope, key.id)).or_default();
            entry.in_flight = entry.in_flight.saturating_sub(1);
            entry.last_seen = now;
            let tier = key.tier;
            entry.prune(now, tier.window_us());
            let quiet = now - entry.last_failure.max(entry.locked_until);
            if quiet >= secs_to_us(tier.max_lockout_secs) {
                entry.strikes = 0;
            }
            entry.last_failure = now;
            entry.failures.push_back(now);
            if entry.failures.len() >= tier.limit as usize {
                let lockout_us = tier.lockout_us(entry.strikes);
                entry.locked_until = now.saturating_add(lockout_us);
                entry.strikes = entry.strikes.saturating_add(1);
                // The lockout is the penalty; after it, a fresh budget
                // (and a longer lockout if that is spent too).
                entry.failures.clear();
                lockouts.push(Lockout {
                    scope: key.scope,
                    id: key.log_id(),
                    strikes: entry.strikes,
                    secs: u64::try_from(lockout_us / 1_000_000).unwrap_or(u64::MAX),
                });
            }
        }
        drop(table);
        for l in &lockouts {
            // Someone is guessing: ids and counts only, never what the
            // counter counts (a user name, an address, a card).
            tracing::warn!(
                scope = l.scope.as_str(),
                counter = %l.id,
                strikes = l.strikes,
                lockout_secs = l.secs,
                "repeated failed attempts; counter locked"
            );
        }
        lockouts
    }

    /// Frees the reservations and forgets what the success proved
    /// ([`Scope::cleared_by_success`]); an account-address pair becomes
    /// trusted.
    pub fn succeeded(mut self) {
        self.settled = true;
        let now = self.throttle.clock.now().unix_micros();
        let mut table = self.throttle.lock();
        for key in &self.keys {
            let Some(entry) = table.get_mut(&(key.scope, key.id)) else {
                continue;
            };
            entry.in_flight = entry.in_flight.saturating_sub(1);
            entry.last_seen = now;
            if key.scope.cleared_by_success() {
                entry.failures.clear();
                entry.locked_until = 0;
                entry.strikes = 0;
            }
            if key.scope == Scope::AccountAddress {
                entry.trusted_until = now.saturating_add(TRUST_US);
            }
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let mut table = self.throttle.lock();
        for key in &self.keys {
            if let Some(entry) = table.get_mut(&(key.scope, key.id)) {
                entry.in_flight = entry.in_flight.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use renkei_core::{FixedClock, Timestamp};

    const STRICT: Tier = Tier {
        limit: 3,
        window_secs: 60,
        lockout_secs: 60,
        max_lockout_secs: 600,
    };
    const CEILING: Tier = Tier {
        limit: 5,
        window_secs: 60,
        lockout_secs: 60,
        max_lockout_secs: 600,
    };

    fn throttle() -> (Arc<FixedClock>, Throttle) {
        let clock = Arc::new(FixedClock::new(Timestamp::from_unix_micros(0)));
        (clock.clone(), Throttle::new(clock, 1000))
    }

    #[test]
    fn refuses_after_the_limit_until_the_lockout_passes() {
        let (clock, t) = throttle();
        let alice = t.key(Scope::AccountAddress, &["alice", "1"], STRICT);
        let bob = t.key(Scope::AccountAddress, &["bob", "1"], STRICT);
        for _ in 0..2 {
            assert!(
                t.begin(std::slice::from_ref(&alice))
                    .expect("allowed")
                    .failed()
                    .is_empty()
            );
        }
        let locks = t
            .begin(std::slice::from_ref(&alice))
            .expect("third")
            .failed();
        assert_eq!(locks.len(), 1);
        assert_eq!(locks[0].secs, 60);
        assert_eq!(
            t.begin(std::slice::from_ref(&alice))
                .expect_err("locked")
                .retry_after_secs,
            60
        );
        assert!(t.begin(&[bob]).is_ok(), "another key is untouched");
        clock.advance_micros(30_000_000);
        assert_eq!(
            t.begin(std::slice::from_ref(&alice))
                .expect_err("locked")
                .retry_after_secs,
            30
        );
        clock.advance_micros(30_000_000);
        assert!(t.begin(&[alice]).is_ok(), "the lockout is over");
    }

    #[test]
    fn lockouts_in_a_row_double_up_to_the_maximum() {
        let (clock, t) = throttle();
        let k = t.key(Scope::PatientTarget, &["06139999||1|01"], STRICT);
        let mut lengths = Vec::new();
        for _ in 0..6 {
            for _ in 0..3 {
                let locks = t.begin(std::slice::from_ref(&k)).expect("budget").failed();
                if let Some(l) = locks.first() {
                    lengths.push(l.secs);
                }
            }
            let wait = t
                .begin(std::slice::from_ref(&k))
                .expect_err("locked")
                .retry_after_secs;
            clock.advance_micros(i64::try_from(wait).expect("small") * 1_000_000);
        }
        assert_eq!(lengths, [60, 120, 240, 480, 600, 600]);
    }

    #[test]
    fn attempts_in_flight_hold_the_budget() {
        let (_, t) = throttle();
        let k = t.key(Scope::AccountAddress, &["a", "1"], STRICT);
        let held: Vec<Attempt> = (0..3)
            .map(|_| t.begin(std::slice::from_ref(&k)).expect("slot"))
            .collect();
        let refused = t
            .begin(std::slice::from_ref(&k))
            .expect_err("no slot left while three are evaluated");
        assert_eq!(refused.scope, Scope::AccountAddress);
        drop(held);
        assert!(t.begin(&[k]).is_ok(), "dropped attempts free their slots");
    }

    #[test]
    fn a_success_clears_only_what_it_proved() {
        let (_, t) = throttle();
        let ip = t.key(Scope::SignInAddress, &["1"], CEILING);
        let mine = t.key(Scope::AccountAddress, &["me", "1"], STRICT);
        let account = t.key(Scope::Account, &["me"], CEILING);
        for victim in ["a", "b"] {
            let k = t.key(Scope::AccountAddress, &[victim, "1"], STRICT);
            for _ in 0..2 {
                t.begin(&[k.clone(), ip.clone()]).expect("budget").failed();
            }
        }
        t.begin(&[mine.clone(), account.clone(), ip.clone()])
            .expect("own sign-in")
            .succeeded();
        assert!(t.trusted(&mine));
        // The address spent four of five; the own success gave none back.
        t.begin(std::slice::from_ref(&ip)).expect("fifth").failed();
        assert_eq!(
            t.begin(&[ip]).expect_err("ceiling").scope,
            Scope::SignInAddress
        );
    }

    #[test]
    fn the_table_stays_bounded_under_spoofed_targets() {
        let (clock, t) = throttle();
        for i in 0..10_000 {
            let k = t.key(Scope::PatientTarget, &[&i.to_string()], STRICT);
            t.begin(&[k]).expect("fresh target").failed();
            clock.advance_micros(1);
        }
        assert!(t.len() <= 1000, "{} entries", t.len());
    }
}
