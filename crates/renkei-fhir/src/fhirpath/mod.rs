//! FHIRPath (N1, as FHIR R4 uses it) over FHIR JSON: enough to run the
//! invariants (`ElementDefinition.constraint.expression`) of the JP Core and
//! JP-CLINS profiles.
//!
//! An [`Expr`] is parsed once and evaluated against `serde_json::Value`s;
//! the result is a collection of [`Item`]s that borrow from the input.
//! [`Expr::holds`] reads a result the way FHIR reads an invariant.
//!
//! *Without a model:* we know no element types, so choice elements are
//! found by their key (`value` finds `valueQuantity` and tags the item
//! `Quantity`), resources are typed by `resourceType`, and other JSON is
//! typed by its kind where a type is asked for (see [`Item::type_name`]).
//! Strings that read as dates compare chronologically.
//!
//! *Knowingly left out:* functions that need a terminology server, reference
//! resolution, the structure definitions or an XHTML parser (`memberOf`,
//! `resolve`, `conformsTo`, `htmlChecks`, …) are refused at parse time as
//! [`ParseError::Unsupported`], so a validator can skip such an invariant
//! and say so. Primitive extensions (`_birthDate`) are not navigated.
//!
//! Precedence follows the operator table of FHIRPath N1 §6 (`is`/`as`
//! bind tighter than `|`).
//!
//! ```
//! use renkei_fhir::fhirpath::Expr;
//!
//! let obs = serde_json::json!({
//!     "resourceType": "Observation",
//!     "valueQuantity": {"value": 4.2, "code": "mmol/L"}
//! });
//! let expr = Expr::parse("value.ofType(Quantity).value > 4 and Observation.value.exists()").unwrap();
//! assert_eq!(expr.holds(&obs, &obs), Ok(true));
//! ```

mod ast;
mod compare;
mod error;
mod eval;
mod functions;
mod lex;
mod parse;
pub(crate) mod types;

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

pub use error::{EvalError, ParseError};

/// A parsed FHIRPath expression.
#[derive(Clone, Debug)]
pub struct Expr {
    text: String,
    root: ast::Node,
}

impl Expr {
    /// Parses FHIRPath text. Functions we knowingly do not implement are
    /// refused as [`ParseError::Unsupported`].
    pub fn parse(text: &str) -> Result<Expr, ParseError> {
        Ok(Expr {
            text: text.to_owned(),
            root: parse::parse(text)?,
        })
    }

    /// The text the expression was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Evaluates with `focus` as the input collection (one item) and
    /// `resource` as `%resource` / `%rootResource`; `%context` is the focus.
    pub fn evaluate<'v>(
        &self,
        focus: &'v Value,
        resource: &'v Value,
    ) -> Result<Vec<Item<'v>>, EvalError> {
        let this = Item::borrowed(focus, None);
        let scope = eval::Scope {
            this: &this,
            index: None,
            resource,
            context: focus,
        };
        eval::eval(&self.root, &scope)
    }

    /// Reads the result as a FHIR invariant: `Ok(true)` when it is the
    /// single boolean `true` or empty (nothing to assert), `Ok(false)` when
    /// it is the single boolean `false`, an error for any other result.
    pub fn holds(&self, focus: &Value, resource: &Value) -> Result<bool, EvalError> {
        let result = self.evaluate(focus, resource)?;
        match result.as_slice() {
            [] => Ok(true),
            [item] => item.as_bool().ok_or_else(|| EvalError::NotAnAssertion {
                found: compare::kind(item),
            }),
            items => Err(EvalError::NotAnAssertion {
                found: format!("{} items", items.len()),
            }),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One node of a result: a JSON value, borrowed from the input or computed,
/// and its FHIR type when known.
#[derive(Clone, Debug)]
pub struct Item<'v> {
    value: Cow<'v, Value>,
    /// A type known apart from the JSON: a choice suffix or a literal's.
    tag: Option<&'static str>,
}

impl<'v> Item<'v> {
    pub(crate) fn borrowed(value: &'v Value, tag: Option<&'static str>) -> Item<'v> {
        Item {
            value: Cow::Borrowed(value),
            tag,
        }
    }

    pub(crate) fn owned(value: Value, tag: &'static str) -> Item<'v> {
        Item {
            value: Cow::Owned(value),
            tag: Some(tag),
        }
    }

    /// The JSON value.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The FHIR type when known: the type a choice key names
    /// (`valueDateTime` → `dateTime`), a literal's or computed value's type
    /// (`string`, `integer`, `decimal`, `boolean`, `date`, …), or a
    /// resource's `resourceType`. `None` for other elements, whose type
    /// only the model knows.
    pub fn type_name(&self) -> Option<&str> {
        self.tag
            .or_else(|| self.value.get("resourceType").and_then(Value::as_str))
    }

    /// The boolean, when the value is one.
    pub fn as_bool(&self) -> Option<bool> {
        self.value.as_bool()
    }

    /// The string, when the value is one.
    pub fn as_str(&self) -> Option<&str> {
        self.value.as_str()
    }

    pub(crate) fn tag(&self) -> Option<&'static str> {
        self.tag
    }
}
