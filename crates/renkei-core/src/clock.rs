//! Time as a parameter: every function reads the time from a [`Clock`] so
//! that tests can fix it, and stores it as a [`Timestamp`] (microseconds since
//! the Unix epoch, UTC) so that SQLite and PostgreSQL hold the same value.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Error;

/// An instant in UTC with microsecond precision.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `micros` microseconds after 1970-01-01T00:00:00Z.
    pub fn from_unix_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the Unix epoch; the form stored in databases.
    pub fn unix_micros(self) -> i64 {
        self.0
    }

    /// Seconds since the Unix epoch, rounded down.
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// This instant moved by `micros` (negative moves back).
    pub fn plus_micros(self, micros: i64) -> Self {
        Self(self.0.saturating_add(micros))
    }

    /// Reads an RFC 3339 time (`2026-11-25T09:00:00Z`, any offset).
    pub fn parse_rfc3339(text: &str) -> Result<Self, Error> {
        let t = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| Error::InvalidTime {
            value: text.to_owned(),
            reason: e.to_string(),
        })?;
        let micros = t.unix_timestamp_nanos() / 1_000;
        i64::try_from(micros)
            .map(Self)
            .map_err(|_| Error::InvalidTime {
                value: text.to_owned(),
                reason: "out of range".to_owned(),
            })
    }

    /// The instant as an RFC 3339 string in UTC.
    pub fn to_rfc3339(self) -> String {
        let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000)
            .expect("an i64 of microseconds is always within time's range");
        t.format(&Rfc3339)
            .expect("RFC 3339 formatting of a UTC time cannot fail")
    }

    /// The wall-clock text of this instant in Japan (JST, UTC+9, no
    /// daylight saving): `YYYY-MM-DDTHH:MM:SS…`, the offset left off. The
    /// platform's months and days are Japan's: a decision at 23:30 UTC on
    /// the last of the month counts in the next month.
    fn jst_text(self) -> String {
        const JST_US: i64 = 9 * 3600 * 1_000_000;
        self.plus_micros(JST_US).to_rfc3339()
    }

    /// The month in Japan, `YYYY-MM`.
    pub fn jst_month(self) -> String {
        self.jst_text().chars().take(7).collect()
    }

    /// The minute in Japan, `YYYY-MM-DD HH:MM`, as pages show times.
    pub fn jst_minute(self) -> String {
        self.jst_text()
            .chars()
            .take(16)
            .collect::<String>()
            .replace('T', " ")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_rfc3339())
    }
}

impl TryFrom<String> for Timestamp {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse_rfc3339(&s)
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> String {
        t.to_rfc3339()
    }
}

/// Where the time comes from.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system's real-time clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        Timestamp(i64::try_from(nanos / 1_000).expect("the present fits in i64 microseconds"))
    }
}

/// A clock that stands still until moved; for tests.
#[derive(Debug)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock standing at `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(AtomicI64::new(at.unix_micros()))
    }

    /// Moves the clock forward by `micros`.
    pub fn advance_micros(&self, micros: i64) {
        self.0.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japan_time_is_nine_hours_ahead_and_moves_the_month() {
        let t = Timestamp::parse_rfc3339("2026-11-30T15:30:00Z").expect("parses");
        assert_eq!(t.jst_month(), "2026-12");
        assert_eq!(t.jst_minute(), "2026-12-01 00:30");
        let t = Timestamp::parse_rfc3339("2026-11-30T14:59:00Z").expect("parses");
        assert_eq!(
            (t.jst_month(), t.jst_minute()),
            ("2026-11".to_owned(), "2026-11-30 23:59".to_owned())
        );
    }

    #[test]
    fn rfc3339_round_trips_with_microseconds() {
        let t = Timestamp::parse_rfc3339("2026-11-25T09:30:00.123456+09:00").expect("valid");
        assert_eq!(t.to_rfc3339(), "2026-11-25T00:30:00.123456Z");
        assert_eq!(
            Timestamp::parse_rfc3339(&t.to_rfc3339()).expect("own output"),
            t
        );
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let c = FixedClock::new(Timestamp::from_unix_micros(5));
        assert_eq!(c.now().unix_micros(), 5);
        c.advance_micros(10);
        assert_eq!(c.now().unix_micros(), 15);
    }
}
