//! Errors of the audit log. The caller's mistakes (a size or index out of
//! range, a proof or head that does not verify) are separate variants from
//! failures of the store, and every tampering variant names the entry index
//! or the head's tree size where the log stops being trustworthy.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::merkle::Hash;

/// Where a signed tree head under verification came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadOrigin {
    /// A head stored in the log's own database.
    Stored,
    /// A head handed to [`crate::verify`] by its caller (`--head FILE`).
    Given,
    /// The last head published to the witness ([`crate::Witness`]).
    Witnessed,
}

impl fmt::Display for HeadOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeadOrigin::Stored => "stored",
            HeadOrigin::Given => "given",
            HeadOrigin::Witnessed => "witnessed",
        })
    }
}

/// What went wrong in the audit log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A leaf index outside the tree it was asked about.
    #[error(
        "leaf index {index} is out of range for tree size {tree_size}; valid indices are 0..{tree_size}"
    )]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The size of the tree it was asked about.
        tree_size: u64,
    },
    /// A tree size the log cannot answer for.
    #[error("tree size {tree_size} is out of range; valid sizes are {min}..={max}")]
    TreeSizeOutOfRange {
        /// The size asked for.
        tree_size: u64,
        /// The smallest valid size.
        min: u64,
        /// The largest valid size (the log's current size, or the other size
        /// of a consistency proof).
        max: u64,
    },
    /// A range of entries that is reversed, beyond the log, or too long.
    #[error(
        "entry range {start}..{end} is out of range; valid ranges lie within 0..{size}, start no later than end, at most {max_len} entries"
    )]
    RangeOutOfRange {
        /// The first index asked for.
        start: u64,
        /// One past the last index asked for.
        end: u64,
        /// The log's current size.
        size: u64,
        /// The most entries one call returns.
        max_len: u64,
    },
    /// An inclusion proof that does not verify.
    #[error("inclusion proof of leaf {index} in tree size {tree_size} does not verify: {reason}")]
    InclusionProofInvalid {
        /// The leaf index the proof claims.
        index: u64,
        /// The tree size the proof claims.
        tree_size: u64,
        /// Which check failed.
        reason: &'static str,
    },
    /// A consistency proof that does not verify.
    #[error("consistency proof from tree size {first} to {second} does not verify: {reason}")]
    ConsistencyProofInvalid {
        /// The older size.
        first: u64,
        /// The newer size.
        second: u64,
        /// Which check failed.
        reason: &'static str,
    },
    /// A signed tree head whose signature does not verify with the key.
    #[error(
        "{origin} signed tree head at size {tree_size} has a signature that does not verify: the head was altered; entries {since}..{tree_size} are unconfirmed"
    )]
    HeadSignatureInvalid {
        /// Stored in the log or given by the caller.
        origin: HeadOrigin,
        /// The head's tree size.
        tree_size: u64,
        /// The size of the last head that verified before it (0 if none).
        since: u64,
    },
    /// A signed tree head made with another key than this log's.
    #[error(
        "{origin} signed tree head at size {tree_size} was signed by key {found}, but this log's key is {expected}"
    )]
    HeadKeyMismatch {
        /// Stored in the log or given by the caller.
        origin: HeadOrigin,
        /// The head's tree size.
        tree_size: u64,
        /// The key id in the head.
        found: String,
        /// The key id of this log's key.
        expected: String,
    },
    /// A correctly signed head whose root is not the root of the stored
    /// entries: some entry since the last good head was altered.
    #[error(
        "{origin} signed tree head at size {tree_size} does not match the entries: its root is {signed} but the entries give {computed}; an entry in {since}..{tree_size} was altered"
    )]
    HeadRootMismatch {
        /// Stored in the log or given by the caller.
        origin: HeadOrigin,
        /// The head's tree size.
        tree_size: u64,
        /// The size of the last head that verified before it (0 if none).
        since: u64,
        /// The root the head signs.
        signed: Hash,
        /// The root recomputed from the stored entries.
        computed: Hash,
    },
    /// A signed tree head covering more entries than the log holds:
    /// entries were removed.
    #[error(
        "{origin} signed tree head at size {tree_size} covers more entries than the log holds ({entries}): entries {entries}..{tree_size} were removed"
    )]
    HeadBeyondLog {
        /// Stored in the log or given by the caller.
        origin: HeadOrigin,
        /// The head's tree size.
        tree_size: u64,
        /// How many entries the log holds.
        entries: u64,
    },
    /// A stored head row that cannot be read as a head.
    #[error("stored signed tree head at size {tree_size} is malformed: {reason}")]
    HeadMalformed {
        /// The head's tree size, as stored.
        tree_size: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// The stored entries skip or repeat an index.
    #[error("audit entries are not contiguous: expected entry {expected}, found entry {found}")]
    EntryGap {
        /// The index that should come next.
        expected: u64,
        /// The index found instead.
        found: i64,
    },
    /// An entry whose stored leaf hash is not the hash of its stored data.
    #[error(
        "audit entry {index} was altered: its stored leaf hash {stored} is not the hash of its data {computed}"
    )]
    LeafHashMismatch {
        /// The entry's index.
        index: u64,
        /// The leaf hash as stored.
        stored: String,
        /// The hash of the stored data.
        computed: Hash,
    },
    /// An entry whose stored leaf hash is not 32 bytes long.
    #[error("audit entry {index} was altered: its stored leaf hash has {len} bytes, not 32")]
    LeafHashMalformed {
        /// The entry's index.
        index: u64,
        /// How many bytes are stored.
        len: usize,
    },
    /// An entry whose data is not a readable audit event.
    #[error("audit entry {index} cannot be read as an audit event")]
    EntryMalformed {
        /// The entry's index.
        index: u64,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// On opening, the entries do not give the root of the latest stored
    /// head: the log was altered, and appending would sign over it.
    #[error(
        "refusing to open the audit log, which was altered; run `renkei audit verify` to locate the damage"
    )]
    Tampered(#[source] Box<Error>),
    /// The log's key file holds another key than the one the operator
    /// pinned: whoever replaced it could re-sign every head.
    #[error(
        "the audit signing key {path} has public key {found}, not the pinned key {expected}: the key file was replaced"
    )]
    KeyNotPinned {
        /// The key file.
        path: PathBuf,
        /// The public half of the key in the file.
        found: String,
        /// The pinned public key.
        expected: String,
    },
    /// A witness file that cannot be read or appended to.
    #[error(
        "witness file {}{}: {reason}",
        path.display(),
        offset.map(|o| format!(" at byte {o}")).unwrap_or_default()
    )]
    Witness {
        /// The witness file.
        path: PathBuf,
        /// Where in it, for a line that is not a head.
        offset: Option<u64>,
        /// What went wrong.
        reason: String,
        /// The I/O error, if any.
        #[source]
        source: Option<std::io::Error>,
    },
    /// The log has heads but no key file to check them with.
    #[error(
        "audit signing key {path} is missing, so the stored signed tree heads cannot be checked"
    )]
    KeyMissing {
        /// Where the key was expected.
        path: PathBuf,
    },
    /// A signed tree head file or text that is not a head.
    #[error("cannot read a signed tree head: {0}")]
    InvalidHead(#[source] serde_json::Error),
    /// A public key that is not an Ed25519 key.
    #[error("invalid audit public key {value:?}: {reason}")]
    InvalidPublicKey {
        /// The text given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// The store (database or key file) could not be opened.
    #[error("cannot open the audit store")]
    Store(#[from] renkei_store::Error),
    /// A query failed.
    #[error("audit database error while {doing}")]
    Database {
        /// What was being done.
        doing: &'static str,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// A batch of appends could not be committed; none of its entries may be
    /// relied on, and what they record must not take effect.
    #[error("audit batch of {count} entries from index {first} was not committed")]
    CommitFailed {
        /// The index the batch would have started at.
        first: u64,
        /// How many entries the batch held.
        count: usize,
        /// Why (shared by every waiter of the batch).
        #[source]
        source: Arc<sqlx::Error>,
    },
    /// The writer cannot take entries for now.
    #[error("the audit log cannot take entries: {reason}")]
    Unavailable {
        /// Why.
        reason: &'static str,
    },
    /// Another process holds the log open for writing.
    #[error(
        "the audit log is open for writing elsewhere ({holder}); stop that process first, or make the change through its API"
    )]
    InUse {
        /// Who holds it, as far as can be told.
        holder: String,
    },
    /// The writer lock could not be taken for another reason.
    #[error("cannot lock the audit log: {reason}")]
    Lock {
        /// Why.
        reason: String,
    },
    /// The log was closed, or its writer stopped.
    #[error("the audit log is closed")]
    Closed,
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the caller asked for something the log cannot answer (a size,
    /// index or range out of range, a proof, head or key that does not
    /// parse or verify), rather than the log failing.
    pub fn is_caller_error(&self) -> bool {
        matches!(
            self,
            Error::IndexOutOfRange { .. }
                | Error::TreeSizeOutOfRange { .. }
                | Error::RangeOutOfRange { .. }
                | Error::InclusionProofInvalid { .. }
                | Error::ConsistencyProofInvalid { .. }
                | Error::InvalidHead(_)
                | Error::InvalidPublicKey { .. }
        )
    }

    pub(crate) fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
        move |source| Error::Database { doing, source }
    }
}
