//! Integration tests of the binary: the architecture rules over the whole
//! workspace, and the commands as an operator runs them.

mod anonymize;
mod architecture;
mod at_rest;
mod audit_attack;
mod cli;
mod ingest;
mod licenses;
mod link;
