//! What can go wrong: a parse refusal (the text is not an expression we can
//! run) or an evaluation failure (the expression met data it cannot apply to).

/// Why an expression text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text is not FHIRPath; `offset` is the byte where parsing stopped.
    #[error("fhirpath syntax error at byte {offset}: {message}")]
    Syntax {
        /// Byte offset into the expression text.
        offset: usize,
        /// What was expected or found.
        message: String,
    },
    /// A function FHIRPath (or FHIR) defines but this evaluator knowingly does
    /// not implement, such as `htmlChecks()` or `resolve()`: a caller can skip
    /// the invariant and say so, rather than report it as broken.
    #[error("fhirpath function '{function}' is not supported")]
    Unsupported {
        /// The function's name.
        function: String,
    },
    /// A function name neither FHIRPath nor FHIR defines.
    #[error("unknown fhirpath function '{name}' at byte {offset}")]
    UnknownFunction {
        /// The name as written.
        name: String,
        /// Byte offset of the name.
        offset: usize,
    },
    /// A known function called with a number of arguments it does not take.
    #[error(
        "fhirpath function '{function}' at byte {offset} takes {expected} argument(s), not {found}"
    )]
    Arity {
        /// The function's name.
        function: String,
        /// Byte offset of the name.
        offset: usize,
        /// What it takes, e.g. `1 or 2`.
        expected: &'static str,
        /// How many were given.
        found: usize,
    },
    /// An environment variable (`%name`) we do not provide.
    #[error("unknown fhirpath environment variable '%{name}' at byte {offset}")]
    UnknownVariable {
        /// The name after `%`.
        name: String,
        /// Byte offset of the `%`.
        offset: usize,
    },
}

/// Why evaluating a parsed expression failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// An operator or function needs at most one item and got more
    /// (FHIRPath §4.3 singleton evaluation of collections).
    #[error("{operation} expects a single item, found {count}")]
    NotSingleton {
        /// The operator or function, e.g. `substring()` or `=`.
        operation: String,
        /// How many items it got.
        count: usize,
    },
    /// An operator or function got an item of a type it cannot take.
    #[error("{operation} expects {expected}, found {found}")]
    TypeMismatch {
        /// The operator or function.
        operation: String,
        /// What it takes.
        expected: &'static str,
        /// What it got (a JSON kind or FHIR type name).
        found: String,
    },
    /// A regular expression given to `matches()` or `replaceMatches()` does
    /// not compile.
    #[error("invalid regular expression '{pattern}': {reason}")]
    Regex {
        /// The pattern as given.
        pattern: String,
        /// The regex crate's complaint.
        reason: String,
    },
    /// `repeat()` or `descendants()` gathered more items than we allow, so
    /// a runaway projection ends here instead of in exhausted memory.
    #[error("{operation} gathered more than {limit} items")]
    TooManyItems {
        /// The function.
        operation: &'static str,
        /// The limit.
        limit: usize,
    },
    /// An invariant's result is neither empty nor a single boolean, so it
    /// asserts nothing we can read.
    #[error("an invariant must yield a single boolean or nothing, found {found}")]
    NotAnAssertion {
        /// A short description of the result.
        found: String,
    },
}
