//! Errors of the shared vocabulary: parsing ids, roles and names.

/// What went wrong while parsing a word of the shared vocabulary.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value that should name one of a fixed set did not.
    #[error("unknown {kind} {value:?}; expected one of: {expected}")]
    Unknown {
        /// What kind of name was expected (`role`, `function`, ...).
        kind: &'static str,
        /// The value that was given.
        value: String,
        /// The valid names, comma-separated.
        expected: String,
    },
    /// An id that is not in its expected form.
    #[error("invalid {kind} {value:?}: {reason}")]
    InvalidId {
        /// Which id (`user id`, `org id`, ...).
        kind: &'static str,
        /// The value that was given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A time that could not be read or written.
    #[error("invalid time {value:?}: {reason}")]
    InvalidTime {
        /// The value that was given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// Another function failed to answer; the message says which and why.
    #[error("{function} failed: {message}")]
    Service {
        /// The function that failed (`identity`, `optout`, ...).
        function: &'static str,
        /// What went wrong, without any personal data.
        message: String,
    },
    /// An audit log could not take an entry; whatever the entry was
    /// recording must not become visible.
    #[error("audit log refused the entry: {0}")]
    Audit(String),
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn unknown(kind: &'static str, value: &str, expected: &[&str]) -> Self {
        Error::Unknown {
            kind,
            value: value.to_owned(),
            expected: expected.join(", "),
        }
    }
}
