//! The one error a function answers another with, in-process or across an
//! HTTP hop: a kind a caller can act on, and a message without personal
//! data. A string would leave the caller unable to tell "no such permit"
//! from "try again later".

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Function;

/// What kind of failure, in the terms a caller acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request cannot be taken as written; retrying will not help.
    Invalid,
    /// No such thing. The message names it (`permit …`), so that each
    /// side can say "… not found" in its own words.
    NotFound,
    /// The thing is in a state that does not allow this.
    Conflict,
    /// The caller, or the thing asked about, is not allowed this now (a
    /// permit not in force).
    NotPermitted,
    /// The function cannot answer now; retrying later may help.
    Unavailable,
    /// The function failed; an operator must look.
    Internal,
}

impl ErrorKind {
    /// The kind's name as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "invalid",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::NotPermitted => "not_permitted",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

/// A function's refusal or failure, as another function sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct ServiceError {
    /// The function that answered.
    pub function: Function,
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Why, without personal data.
    pub message: String,
}

impl ServiceError {
    /// An error of `kind` from `function`.
    pub fn new(function: Function, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            function,
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::NotFound => {
                write!(f, "{}: {} not found", self.function.as_str(), self.message)
            }
            _ => write!(f, "{}: {}", self.function.as_str(), self.message),
        }
    }
}

/// Result with [`ServiceError`].
pub type ServiceResult<T> = Result<T, ServiceError>;
