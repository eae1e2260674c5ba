//! The audit log (being written in this change).
