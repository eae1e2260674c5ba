//! Integration tests of the stores, each body run on SQLite and PostgreSQL.

mod db;
