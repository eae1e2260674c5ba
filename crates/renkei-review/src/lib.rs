//! Review (審査): who may use which data, for what.
//!
//! **Owns:** applications, the review workflow as a state machine, reviewer
//! assignment with conflict-of-interest exclusion, risk signals, decisions,
//! machine-readable permits (tables, columns, rows, purpose, users, expiry),
//! amendments, and the public register entries.
//!
//! **Never:** lets an illegal workflow transition be expressed, or changes a
//! permit without an audited decision.
//!
//! **Status:** filled by the review issue; this crate holds only its contract
//! until then.
#![warn(missing_docs)]
