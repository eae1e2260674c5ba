//! The JSON API under `/api/v1`, plus the operational endpoints. Each handler
//! parses, calls its function's service, and maps the result; access and
//! audit happen in the access layer, errors become problems in one place.

pub mod analysis;
pub mod audit;
pub mod collect;
pub mod health;
pub mod identity;
pub mod jobs;
pub mod json;
pub mod openapi;
pub mod optout;
pub mod processing;
pub mod register;
pub mod reports;
pub mod review;
pub mod tokens;
pub mod users;

pub use json::ApiJson;
