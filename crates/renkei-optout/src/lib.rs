//! Opt-out management (オプトアウト管理): patients saying no, and the platform
//! being sure it holds.
//!
//! **Owns:** the opt-out registry (scopes, effective times, withdrawals, full
//! history, receipts), the deceased-person policy, and the exclusion set of
//! person_keys for a purpose and an instant, stamped with the registry
//! version it reflects.
//!
//! **Never:** forgets a change (history is append-only), or answers an
//! exclusion set without the version it reflects.
//!
//! **Status:** filled by the opt-out issue; this crate holds only its contract
//! until then.
#![warn(missing_docs)]
