//! Integration tests of the stores: the databases (each body run on SQLite
//! and PostgreSQL) and the lake (on a temporary directory).

mod db;
mod lake;
