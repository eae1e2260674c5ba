//! Integration tests of the server: the real application on a loopback port,
//! a real HTTP client, fresh stores per test on SQLite and PostgreSQL.

mod helpers;

mod access;
mod accounts;
mod analysis;
mod audit;
mod browser;
mod collect;
mod guessing;
mod hardening;
mod identity;
mod jobs;
mod operations;
mod optout;
mod pages;
mod processing;
mod reports;
mod review;
