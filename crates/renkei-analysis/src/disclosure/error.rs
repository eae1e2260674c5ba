//! Errors of disclosure control.
//!
//! A table the workspace built wrongly (`Invalid…`) is a different variant
//! from a bug of ours (`Internal`), and from a release that the privacy
//! budget refuses (`BudgetExceeded`). Messages name the cell or line by its
//! key (`sex=F, age=*`) and never quote a count of a suppressed cell.

use super::dp::Epsilon;

/// What went wrong checking or releasing a proposed output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A cell's key has a different number of parts than the table has
    /// dimensions.
    #[error("cell {index} has {found} key parts but the table has {expected} dimensions")]
    InvalidKeyLength {
        /// Position of the cell as pushed.
        index: usize,
        /// Number of dimensions of the table.
        expected: usize,
        /// Number of parts of the cell's key.
        found: usize,
    },
    /// Two cells have the same key.
    #[error("cell `{key}` appears twice")]
    DuplicateCell {
        /// The key, as `dim=value, …`.
        key: String,
    },
    /// Two dimensions have the same name.
    #[error("dimension `{name}` appears twice")]
    DuplicateDimension {
        /// The repeated name.
        name: String,
    },
    /// A total is not the sum of its line: the table is not additive (a
    /// person counted in two categories, or a missing total), so margins
    /// cannot be protected by the linear rules of secondary suppression.
    #[error("total `{line}` does not equal the sum of its line ({what})")]
    NotAdditive {
        /// The total's key, as `dim=value, …` with `*` for totals.
        line: String,
        /// `persons` or `sum`.
        what: &'static str,
    },
    /// Some cells carry a sum and others do not.
    #[error("cell `{key}` has no sum but other cells of the table do")]
    MixedSums {
        /// A cell without a sum.
        key: String,
    },
    /// A sum or its largest contributions are unusable.
    #[error("sum of cell `{key}` is invalid: {detail}")]
    InvalidSum {
        /// The cell's key.
        key: String,
        /// What is wrong (non-finite, negative, unsorted, too few).
        detail: &'static str,
    },
    /// The dense table would be too large to check.
    #[error(
        "table has {cells} cells (with totals and empty combinations); at most {max} can be checked"
    )]
    TooLarge {
        /// Cells of the dense table.
        cells: usize,
        /// The limit.
        max: usize,
    },
    /// The rules themselves are unusable.
    #[error("invalid disclosure rules: {detail}")]
    InvalidRules {
        /// Which rule, and why.
        detail: &'static str,
    },
    /// An earlier release does not match the table it claims to be.
    #[error("earlier release `{release}` is malformed: {detail}")]
    InvalidEarlierRelease {
        /// The release id.
        release: String,
        /// What is wrong.
        detail: &'static str,
    },
    /// A privacy parameter is unusable (zero ε, bounds out of order…).
    #[error("invalid privacy parameter: {detail}")]
    InvalidPrivacyParameter {
        /// Which parameter, and why.
        detail: String,
    },
    /// The permit's privacy budget cannot pay for this release.
    #[error("release needs ε = {requested} but the permit's budget has only ε = {remaining} left")]
    BudgetExceeded {
        /// ε this release would spend.
        requested: Epsilon,
        /// ε left in the budget.
        remaining: Epsilon,
    },
    /// The check ran out of its time budget: the table is too large or
    /// too fragmented to check here.
    #[error(
        "the table could not be checked within {seconds} s: ask for fewer dimensions or categories"
    )]
    OverBudget {
        /// The budget.
        seconds: f64,
    },
    /// The request that asked for the check went away.
    #[error("the check was cancelled")]
    Cancelled,
    /// A person is counted in two interior cells.
    #[error("a person is counted in two cells; a table counts each person in one")]
    PersonInTwoCells,
    /// A table's persons could not be read back.
    #[error("a table's persons are unreadable: {detail}")]
    InvalidMembership {
        /// What is wrong.
        detail: &'static str,
    },
    /// A table to be compared with earlier releases does not say which
    /// persons it counts.
    #[error(
        "the table does not say which persons it counts, so it cannot be compared with earlier releases"
    )]
    NoMembership,
    /// A bug of ours: an invariant of the engine does not hold.
    #[error("internal error in disclosure control: {detail}")]
    Internal {
        /// The broken invariant.
        detail: String,
    },
}

/// Result of disclosure control.
pub type Result<T, E = Error> = std::result::Result<T, E>;
