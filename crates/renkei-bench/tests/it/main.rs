//! The benchmarks end to end at tiny sizes, as an operator runs them: they
//! finish, refuse what they must, and end with their JSON line. No number
//! is asserted here; those are BENCHMARKS.md's.

mod query;
mod siege;
