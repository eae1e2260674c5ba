//! Storage for every function: operational databases, the Parquet lake and
//! secret key files.
//!
//! **Owns:** [`Stores`], which opens one database per function — a SQLite file
//! in WAL mode under the data directory (the embedded default) or a schema of
//! its own in one PostgreSQL database — and runs that function's migrations;
//! [`Db`], the pool a function queries through; the [`lake`] of Parquet files
//! on `object_store`, where a table version becomes visible only when its
//! manifest is committed; [`keys`], secret files created with mode 0600; and
//! [`private`]: every directory the platform creates under the data
//! directory is 0700 and every file 0600 (SQLite files before SQLite makes
//! them, lake and extract objects through [`private::PrivateStore`]), and
//! SQLite runs with `secure_delete` ([`Db::scrub`] after destroying a
//! secret).
//!
//! **Never:** knows a function's tables (each function crate owns its
//! migrations and its queries), writes a lake file in place, or leaves a
//! file it creates readable by group or others.
//!
//! **Start at:** [`Stores::open`], [`Db`], [`lake::Lake`].
//!
//! One query text serves both backends: functions write portable SQL with
//! `$1`-style parameters and the types sqlx's `Any` driver carries (integers,
//! floats, text, bytes, booleans). Times are `BIGINT` microseconds
//! ([`renkei_core::Timestamp`]), ids are `TEXT`.
#![warn(missing_docs)]

mod config;
mod db;
mod error;
pub mod keys;
pub mod lake;
pub mod private;
#[cfg(feature = "query")]
pub mod query;
pub mod sql;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{DatabaseConfig, StoreConfig};
pub use db::{Backend, Db, DbName, Migrations, Stores};
pub use error::{Error, Result};
