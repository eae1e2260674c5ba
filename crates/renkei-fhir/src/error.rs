//! Parse failures: input that is not a FHIR resource at all.
//!
//! Validation findings are *data* ([`crate::Issue`]), never these errors; an
//! [`Error`] means there was nothing to validate.

/// Why bytes could not be read as a FHIR JSON resource.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is not well-formed JSON (RFC 8259); line and column are 1-based.
    #[error("malformed json at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the fault.
        line: usize,
        /// 1-based column of the fault.
        column: usize,
        /// What serde_json found wrong.
        message: String,
        /// The underlying parser error.
        #[source]
        source: serde_json::Error,
    },
    /// The JSON is not an object carrying a string `resourceType`
    /// (FHIR R4 §2.6.2 JSON representation of resources).
    #[error("not a fhir resource: {0}")]
    NotAResource(&'static str),
}

impl From<serde_json::Error> for Error {
    fn from(source: serde_json::Error) -> Self {
        Error::Json {
            line: source.line(),
            column: source.column(),
            message: source.to_string(),
            source,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
