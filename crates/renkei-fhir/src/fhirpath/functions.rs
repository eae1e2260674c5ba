//! The functions (FHIRPath N1 §5 and FHIR R4 §2.1.9.1's `extension()`).
//!
//! Criteria and projections (`where`, `select`, `all`, `exists`, `repeat`,
//! `iif`) run once per input item with that item as `$this`; other
//! arguments run in the caller's scope, so `$this.substring(0,
//! $this.indexOf('|'))` inside a `where` sees the `where`'s item both times.

use std::sync::Arc;

use regex::Regex;
use serde_json::Value;

use super::Item;
use super::ast::{Function, Node};
use super::compare::Number;
use super::error::EvalError;
use super::eval::{
    Items, Scope, boolean, decimal, eval, holds_item, integer, member, option_bool, singleton,
    singleton_integer, singleton_string, string, to_boolean, union,
};
use super::types::is_type;

/// Upper bound on the items `repeat()` and `descendants()` may gather, so a
/// runaway projection ends in an error, not exhausted memory.
const MAX_ITEMS: usize = 1_000_000;

pub(crate) fn call<'v>(
    function: &Function,
    args: &[Node],
    input: Items<'v>,
    scope: &Scope<'_, 'v>,
) -> Result<Items<'v>, EvalError> {
    use Function as F;
    let arg = |i: usize| eval(&args[i], scope);
    Ok(match function {
        F::Empty => vec![boolean(input.is_empty())],
        F::Exists => match args.first() {
            None => vec![boolean(!input.is_empty())],
            Some(criteria) => vec![boolean(
                !filter(&input, criteria, scope, "exists()")?.is_empty(),
            )],
        },
        F::All => {
            let mut all = true;
            for (i, item) in input.iter().enumerate() {
                let result = eval(&args[0], &scope.on(item, i))?;
                if to_boolean(&result, "all()")? != Some(true) {
                    all = false;
                    break;
                }
            }
            vec![boolean(all)]
        }
        F::AllTrue => vec![boolean(input.iter().all(|i| i.as_bool() == Some(true)))],
        F::AnyTrue => vec![boolean(input.iter().any(|i| i.as_bool() == Some(true)))],
        F::AllFalse => vec![boolean(input.iter().all(|i| i.as_bool() == Some(false)))],
        F::AnyFalse => vec![boolean(input.iter().any(|i| i.as_bool() == Some(false)))],
        F::SubsetOf => {
            let other = arg(0)?;
            vec![boolean(input.iter().all(|i| holds_item(&other, i)))]
        }
        F::SupersetOf => {
            let other = arg(0)?;
            vec![boolean(other.iter().all(|i| holds_item(&input, i)))]
        }
        F::Count => vec![integer(input.len() as i64)],
        F::Distinct => union(input, Vec::new()),
        F::IsDistinct => {
            let count = input.len();
            vec![boolean(union(input, Vec::new()).len() == count)]
        }
        F::Where => filter(&input, &args[0], scope, "where()")?,
        F::Select => {
            let mut out = Vec::new();
            for (i, item) in input.iter().enumerate() {
                out.extend(eval(&args[0], &scope.on(item, i))?);
            }
            out
        }
        F::Repeat => repeat(input, &args[0], scope)?,
        F::OfType(ty) => input.into_iter().filter(|i| is_type(i, &ty.0)).collect(),
        F::Is(ty) => match singleton(&input, "is()")? {
            None => Vec::new(),
            Some(item) => vec![boolean(is_type(item, &ty.0))],
        },
        // FHIR R4's own dom-3 applies as() to many items
        // (`descendants().as(canonical)`), so the function filters like
        // ofType() rather than insisting on one item; the `as` operator
        // keeps the singleton rule.
        F::As(ty) => input.into_iter().filter(|i| is_type(i, &ty.0)).collect(),
        F::Single => {
            singleton(&input, "single()")?;
            input
        }
        F::First => input.into_iter().take(1).collect(),
        F::Last => input.into_iter().last().into_iter().collect(),
        F::Tail => input.into_iter().skip(1).collect(),
        F::Skip => {
            let n = singleton_integer(&arg(0)?, "skip()")?.unwrap_or(0);
            input.into_iter().skip(n.max(0) as usize).collect()
        }
        F::Take => {
            let n = singleton_integer(&arg(0)?, "take()")?.unwrap_or(0);
            input.into_iter().take(n.max(0) as usize).collect()
        }
        F::Intersect => {
            let other = arg(0)?;
            let kept = input
                .into_iter()
                .filter(|i| holds_item(&other, i))
                .collect();
            union(kept, Vec::new())
        }
        F::Exclude => {
            let other = arg(0)?;
            input
                .into_iter()
                .filter(|i| !holds_item(&other, i))
                .collect()
        }
        F::Union => union(input, arg(0)?),
        F::Combine => {
            let mut out = input;
            out.extend(arg(0)?);
            out
        }
        F::Iif => {
            let item = singleton(&input, "iif()")?;
            let inner = item.map(|i| scope.on(i, 0));
            let scope = inner.as_ref().unwrap_or(scope);
            match to_boolean(&eval(&args[0], scope)?, "iif()")? {
                Some(true) => eval(&args[1], scope)?,
                _ => match args.get(2) {
                    Some(otherwise) => eval(otherwise, scope)?,
                    None => Vec::new(),
                },
            }
        }
        F::ToString => match singleton(&input, "toString()")?.map(Item::value) {
            Some(Value::String(s)) => vec![string(s.clone())],
            Some(Value::Bool(b)) => vec![string(b.to_string())],
            Some(Value::Number(n)) => vec![string(n.to_string())],
            _ => Vec::new(),
        },
        F::ToInteger => match singleton(&input, "toInteger()")?.map(Item::value) {
            Some(Value::Number(n)) => n.as_i64().map(integer).into_iter().collect(),
            Some(Value::String(s)) => s.parse::<i64>().ok().map(integer).into_iter().collect(),
            Some(Value::Bool(b)) => vec![integer(i64::from(*b))],
            _ => Vec::new(),
        },
        F::ToDecimal => match singleton(&input, "toDecimal()")?.map(Item::value) {
            Some(Value::Number(n)) => n.as_f64().and_then(decimal).into_iter().collect(),
            Some(Value::String(s)) => s
                .parse::<f64>()
                .ok()
                .and_then(decimal)
                .into_iter()
                .collect(),
            Some(Value::Bool(b)) => decimal(if *b { 1.0 } else { 0.0 }).into_iter().collect(),
            _ => Vec::new(),
        },
        F::ToBoolean => match singleton(&input, "toBoolean()")?.map(Item::value) {
            Some(Value::Bool(b)) => vec![boolean(*b)],
            Some(Value::String(s)) => match s.to_lowercase().as_str() {
                "true" | "t" | "yes" | "y" | "1" | "1.0" => vec![boolean(true)],
                "false" | "f" | "no" | "n" | "0" | "0.0" => vec![boolean(false)],
                _ => Vec::new(),
            },
            Some(v @ Value::Number(_)) => match Number::of(v).map(Number::as_f64) {
                Some(1.0) => vec![boolean(true)],
                Some(0.0) => vec![boolean(false)],
                _ => Vec::new(),
            },
            _ => Vec::new(),
        },
        F::IndexOf => string_fn(&input, "indexOf()", |s| {
            let needle = arg(0)?;
            let Some(needle) = singleton_string(&needle, "indexOf()")? else {
                return Ok(Vec::new());
            };
            // Character positions, not bytes: these are Japanese strings.
            let at = s.find(needle).map_or(-1, |b| s[..b].chars().count() as i64);
            Ok(vec![integer(at)])
        })?,
        F::Substring => string_fn(&input, "substring()", |s| {
            let Some(start) = singleton_integer(&arg(0)?, "substring()")? else {
                return Ok(Vec::new());
            };
            let length = match args.get(1) {
                Some(_) => singleton_integer(&arg(1)?, "substring()")?,
                None => None,
            };
            let chars = s.chars().count() as i64;
            // §5.6.3: a start outside the string gives nothing.
            if start < 0 || start >= chars {
                return Ok(Vec::new());
            }
            let take = length.map_or(usize::MAX, |n| n.max(0) as usize);
            let part: String = s.chars().skip(start as usize).take(take).collect();
            Ok(vec![string(part)])
        })?,
        F::StartsWith => string_test(&input, &arg(0)?, "startsWith()", |s, p| s.starts_with(p))?,
        F::EndsWith => string_test(&input, &arg(0)?, "endsWith()", |s, p| s.ends_with(p))?,
        F::Contains => string_test(&input, &arg(0)?, "contains()", |s, p| s.contains(p))?,
        F::Upper => string_fn(&input, "upper()", |s| Ok(vec![string(s.to_uppercase())]))?,
        F::Lower => string_fn(&input, "lower()", |s| Ok(vec![string(s.to_lowercase())]))?,
        F::Trim => string_fn(&input, "trim()", |s| Ok(vec![string(s.trim().to_owned())]))?,
        F::Length => string_fn(&input, "length()", |s| {
            Ok(vec![integer(s.chars().count() as i64)])
        })?,
        F::Replace => string_fn(&input, "replace()", |s| {
            let (pattern, with) = (arg(0)?, arg(1)?);
            match (
                singleton_string(&pattern, "replace()")?,
                singleton_string(&with, "replace()")?,
            ) {
                (Some(p), Some(w)) => Ok(vec![string(s.replace(p, w))]),
                _ => Ok(Vec::new()),
            }
        })?,
        F::Matches(compiled) => string_fn(&input, "matches()", |s| {
            // Unanchored: the pattern may match any part (FHIRPath N1 §5.6.9
            // as implemented in FHIR R4 tooling); invariants anchor with ^$.
            let Some(regex) = regex(compiled, &arg(0)?)? else {
                return Ok(Vec::new());
            };
            Ok(vec![boolean(regex.is_match(s))])
        })?,
        F::ReplaceMatches(compiled) => string_fn(&input, "replaceMatches()", |s| {
            let Some(regex) = regex(compiled, &arg(0)?)? else {
                return Ok(Vec::new());
            };
            let with = arg(1)?;
            let Some(with) = singleton_string(&with, "replaceMatches()")? else {
                return Ok(Vec::new());
            };
            Ok(vec![string(regex.replace_all(s, with).into_owned())])
        })?,
        F::Children => {
            let mut out = Vec::new();
            for item in &input {
                children(item, &mut out);
            }
            out
        }
        F::Descendants => {
            let mut out = Vec::new();
            let mut next = Vec::new();
            for item in &input {
                children(item, &mut next);
            }
            while !next.is_empty() {
                let mut deeper = Vec::new();
                for item in &next {
                    children(item, &mut deeper);
                }
                out.append(&mut next);
                if out.len() > MAX_ITEMS {
                    return Err(too_many("descendants()"));
                }
                next = deeper;
            }
            out
        }
        F::Not => option_bool(to_boolean(&input, "not()")?.map(|b| !b)),
        F::HasValue => vec![boolean(matches!(
            input.as_slice(),
            [item] if matches!(item.value(), Value::String(_) | Value::Number(_) | Value::Bool(_))
        ))],
        F::Trace => input,
        F::Extension => {
            let url = arg(0)?;
            let Some(url) = singleton_string(&url, "extension()")? else {
                return Ok(Vec::new());
            };
            let mut extensions = Vec::new();
            for item in &input {
                member(item, "extension", &mut extensions);
            }
            extensions
                .into_iter()
                .filter(|e| e.value().get("url").and_then(Value::as_str) == Some(url))
                .collect()
        }
    })
}

/// Items whose criteria is true (§5.2.1); an empty or false result drops
/// the item.
fn filter<'v>(
    input: &[Item<'v>],
    criteria: &Node,
    scope: &Scope<'_, 'v>,
    op: &str,
) -> Result<Items<'v>, EvalError> {
    let mut out = Vec::new();
    for (i, item) in input.iter().enumerate() {
        let result = eval(criteria, &scope.on(item, i))?;
        if to_boolean(&result, op)? == Some(true) {
            out.push(item.clone());
        }
    }
    Ok(out)
}

/// `repeat(projection)` (§5.2.4): the projection applied to the input, then
/// to its results, until nothing new appears.
fn repeat<'v>(
    input: Items<'v>,
    projection: &Node,
    scope: &Scope<'_, 'v>,
) -> Result<Items<'v>, EvalError> {
    let mut out: Items<'v> = Vec::new();
    let mut next = input;
    while !next.is_empty() {
        let mut found = Vec::new();
        for (i, item) in next.iter().enumerate() {
            for result in eval(projection, &scope.on(item, i))? {
                if !holds_item(&out, &result) && !holds_item(&found, &result) {
                    found.push(result);
                }
            }
        }
        out.extend(found.iter().cloned());
        if out.len() > MAX_ITEMS {
            return Err(too_many("repeat()"));
        }
        next = found;
    }
    Ok(out)
}

fn too_many(operation: &'static str) -> EvalError {
    EvalError::TooManyItems {
        operation,
        limit: MAX_ITEMS,
    }
}

/// The child elements of an object: every key's values, arrays flattened,
/// except `resourceType` (not an element) and `_name` primitive extensions.
fn children<'v>(item: &Item<'v>, out: &mut Items<'v>) {
    let Value::Object(object) = item.value() else {
        return;
    };
    for key in object.keys() {
        if key == "resourceType" || key.starts_with('_') {
            continue;
        }
        let mut found = Vec::new();
        member(item, key, &mut found);
        out.append(&mut found);
    }
}

/// A string function on a single-string input: empty in, empty out.
fn string_fn<'v>(
    input: &[Item<'v>],
    op: &str,
    f: impl FnOnce(&str) -> Result<Items<'v>, EvalError>,
) -> Result<Items<'v>, EvalError> {
    match singleton_string(input, op)? {
        None => Ok(Vec::new()),
        Some(s) => f(s),
    }
}

/// `startsWith`, `endsWith`, `contains` on strings.
fn string_test<'v>(
    input: &[Item<'v>],
    arg: &[Item<'v>],
    op: &str,
    test: impl FnOnce(&str, &str) -> bool,
) -> Result<Items<'v>, EvalError> {
    string_fn(input, op, |s| {
        Ok(match singleton_string(arg, op)? {
            None => Vec::new(),
            Some(p) => vec![boolean(test(s, p))],
        })
    })
}

/// The regex of `matches()`: compiled at parse time when the pattern is a
/// literal, else from the evaluated argument.
fn regex(
    compiled: &Option<Arc<Regex>>,
    pattern: &[Item<'_>],
) -> Result<Option<Arc<Regex>>, EvalError> {
    if let Some(regex) = compiled {
        return Ok(Some(Arc::clone(regex)));
    }
    let Some(pattern) = singleton_string(pattern, "matches()")? else {
        return Ok(None);
    };
    Regex::new(pattern)
        .map(|r| Some(Arc::new(r)))
        .map_err(|e| EvalError::Regex {
            pattern: pattern.to_owned(),
            reason: e.to_string(),
        })
}
