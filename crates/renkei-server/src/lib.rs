//! The server (being written in this change).
