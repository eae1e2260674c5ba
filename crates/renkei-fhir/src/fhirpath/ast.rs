//! The syntax tree a parsed expression keeps.

use std::sync::Arc;

use regex::Regex;

/// An expression node.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A literal value: string, number, boolean, date/time; `{}` is `Empty`.
    Literal(Literal),
    Empty,
    /// `$this` / `$index`.
    This,
    Index,
    /// `%resource`, `%rootResource`, `%context`, `%ucum`.
    Env(Env),
    /// `name` navigated from `base` (or from `$this` when `base` is `None`).
    Member {
        base: Option<Box<Node>>,
        name: String,
    },
    /// A leading type name (`Patient.name`): the focus when it is of that
    /// type, else nothing.
    TypeFilter(TypeName),
    /// `base.f(args)` or `f(args)` on `$this`.
    Call {
        base: Option<Box<Node>>,
        function: Function,
        args: Vec<Node>,
    },
    /// `base[index]`.
    Indexer(Box<Node>, Box<Node>),
    /// Unary minus (unary plus is dropped at parse time).
    Negate(Box<Node>),
    Binary(BinaryOp, Box<Node>, Box<Node>),
    /// `expr is T` / `expr as T`.
    Is(Box<Node>, TypeName),
    As(Box<Node>, TypeName),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    String(String),
    Integer(i64),
    Decimal(f64),
    Boolean(bool),
    /// `@2020-01-01` → ("2020-01-01", "date"); `@T10:00` → ("10:00", "time").
    Temporal(String, &'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Env {
    Resource,
    Context,
    Ucum,
}

/// A type specifier with any `FHIR.` / `System.` qualifier removed and
/// `System.String`-style names mapped to the FHIR primitive (`string`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeName(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Mul,
    Div,
    IntDiv,
    Mod,
    Add,
    Sub,
    Concat,
    Union,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Equiv,
    Ne,
    NotEquiv,
    In,
    Contains,
    And,
    Or,
    Xor,
    Implies,
}

/// The functions this evaluator implements. Arguments that are type
/// specifiers (`ofType`, `is`, `as`) and regexes given as literals are kept
/// parsed in the variant.
#[derive(Debug, Clone)]
pub(crate) enum Function {
    Empty,
    Exists,
    All,
    AllTrue,
    AnyTrue,
    AllFalse,
    AnyFalse,
    SubsetOf,
    SupersetOf,
    Count,
    Distinct,
    IsDistinct,
    Where,
    Select,
    Repeat,
    OfType(TypeName),
    Is(TypeName),
    As(TypeName),
    Single,
    First,
    Last,
    Tail,
    Skip,
    Take,
    Intersect,
    Exclude,
    Union,
    Combine,
    Iif,
    ToString,
    ToInteger,
    ToDecimal,
    ToBoolean,
    IndexOf,
    Substring,
    StartsWith,
    EndsWith,
    Contains,
    Upper,
    Lower,
    Replace,
    /// The regex when the pattern is a string literal, compiled once.
    Matches(Option<Arc<Regex>>),
    ReplaceMatches(Option<Arc<Regex>>),
    Length,
    Trim,
    Children,
    Descendants,
    Not,
    HasValue,
    Trace,
    /// FHIR's `extension(url)`: `extension.where(url = …)`.
    Extension,
}
