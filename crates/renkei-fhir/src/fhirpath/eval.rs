//! Evaluation of the syntax tree: navigation, operators and the
//! three-valued boolean logic of FHIRPath N1 §6.5.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

use super::ast::{BinaryOp, Env, Literal, Node};
use super::compare::{self, Number};
use super::error::EvalError;
use super::types::{choice_type, is_type};
use super::{Item, functions};

/// What an expression is evaluated against: `$this` (also the input of a
/// path that starts without a base), `$index`, and the environment.
pub(crate) struct Scope<'a, 'v> {
    pub this: &'a Item<'v>,
    pub index: Option<usize>,
    pub resource: &'v Value,
    pub context: &'v Value,
}

impl<'v> Scope<'_, 'v> {
    /// The scope for a criteria or projection evaluated on `item`.
    pub(crate) fn on<'b>(&self, item: &'b Item<'v>, index: usize) -> Scope<'b, 'v> {
        Scope {
            this: item,
            index: Some(index),
            resource: self.resource,
            context: self.context,
        }
    }
}

pub(crate) type Items<'v> = Vec<Item<'v>>;

pub(crate) fn eval<'v>(node: &Node, scope: &Scope<'_, 'v>) -> Result<Items<'v>, EvalError> {
    Ok(match node {
        Node::Literal(literal) => vec![literal_item(literal)],
        Node::Empty => Vec::new(),
        Node::This => vec![scope.this.clone()],
        Node::Index => match scope.index {
            Some(i) => vec![integer(i as i64)],
            None => Vec::new(),
        },
        Node::Env(Env::Resource) => vec![Item::borrowed(scope.resource, None)],
        Node::Env(Env::Context) => vec![Item::borrowed(scope.context, None)],
        Node::Env(Env::Ucum) => vec![string("http://unitsofmeasure.org".to_owned())],
        Node::Member { base, name } => {
            let input = input(base.as_deref(), scope)?;
            let mut out = Vec::new();
            for item in &input {
                member(item, name, &mut out);
            }
            out
        }
        Node::TypeFilter(ty) => {
            if is_type(scope.this, &ty.0) {
                vec![scope.this.clone()]
            } else {
                Vec::new()
            }
        }
        Node::Call {
            base,
            function,
            args,
        } => {
            let input = input(base.as_deref(), scope)?;
            functions::call(function, args, input, scope)?
        }
        Node::Indexer(base, index) => {
            let items = eval(base, scope)?;
            let index = eval(index, scope)?;
            match singleton_integer(&index, "[]")? {
                Some(i) if i >= 0 => items.into_iter().nth(i as usize).into_iter().collect(),
                _ => Vec::new(),
            }
        }
        Node::Negate(operand) => {
            let items = eval(operand, scope)?;
            match singleton(&items, "unary -")? {
                None => Vec::new(),
                Some(item) => match Number::of(item.value()) {
                    Some(Number::Integer(i)) => vec![integer(-i)],
                    Some(Number::Decimal(d)) => decimal(-d).into_iter().collect(),
                    None => {
                        return Err(mismatch("unary -", "a number", item));
                    }
                },
            }
        }
        Node::Is(operand, ty) => {
            let items = eval(operand, scope)?;
            match singleton(&items, "is")? {
                None => Vec::new(),
                Some(item) => vec![boolean(is_type(item, &ty.0))],
            }
        }
        Node::As(operand, ty) => {
            let items = eval(operand, scope)?;
            match singleton(&items, "as")? {
                Some(item) if is_type(item, &ty.0) => vec![item.clone()],
                _ => Vec::new(),
            }
        }
        Node::Binary(op, left, right) => binary(*op, left, right, scope)?,
    })
}

/// The input of a navigation or call: its base, or `$this`.
fn input<'v>(base: Option<&Node>, scope: &Scope<'_, 'v>) -> Result<Items<'v>, EvalError> {
    match base {
        Some(node) => eval(node, scope),
        None => Ok(vec![scope.this.clone()]),
    }
}

/// `item.name`: the key's value (each element of an array), or the values of
/// the choice keys `name<Type>` tagged with their type. `_name` siblings
/// (primitive extensions) and JSON nulls are not items.
pub(crate) fn member<'v>(item: &Item<'v>, name: &str, out: &mut Items<'v>) {
    match &item.value {
        Cow::Borrowed(value) => member_of(value, name, out),
        // Computed values are primitives, which have no members; an owned
        // object would need its children cloned.
        Cow::Owned(value) => {
            let mut found = Vec::new();
            member_of(value, name, &mut found);
            out.extend(found.into_iter().map(|i| Item {
                value: Cow::Owned(i.value.into_owned()),
                tag: i.tag,
            }));
        }
    }
}

fn member_of<'v>(value: &'v Value, name: &str, out: &mut Items<'v>) {
    let Value::Object(object) = value else {
        return;
    };
    if let Some(found) = object.get(name) {
        push_flat(found, None, out);
        return;
    }
    for (key, found) in object {
        if let Some(ty) = choice_type(key, name) {
            push_flat(found, Some(ty), out);
        }
    }
}

pub(crate) fn push_flat<'v>(value: &'v Value, tag: Option<&'static str>, out: &mut Items<'v>) {
    match value {
        Value::Array(items) => out.extend(
            items
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| Item::borrowed(v, tag)),
        ),
        Value::Null => {}
        other => out.push(Item::borrowed(other, tag)),
    }
}

fn binary<'v>(
    op: BinaryOp,
    left: &Node,
    right: &Node,
    scope: &Scope<'_, 'v>,
) -> Result<Items<'v>, EvalError> {
    use BinaryOp as B;
    // The boolean operators decide from the left alone where they can, so
    // `x.exists() implies x > 0` never evaluates the right side on nothing.
    match op {
        B::And | B::Or | B::Implies => {
            let l = to_boolean(&eval(left, scope)?, op_name(op))?;
            let short = match op {
                B::And => l == Some(false),
                B::Or => l == Some(true),
                _ => l == Some(false),
            };
            if short {
                return Ok(vec![boolean(op != B::And)]);
            }
            let r = to_boolean(&eval(right, scope)?, op_name(op))?;
            return Ok(option_bool(logic(op, l, r)));
        }
        B::Xor => {
            let l = to_boolean(&eval(left, scope)?, "xor")?;
            let r = to_boolean(&eval(right, scope)?, "xor")?;
            return Ok(option_bool(l.zip(r).map(|(a, b)| a != b)));
        }
        _ => {}
    }
    let l = eval(left, scope)?;
    let r = eval(right, scope)?;
    Ok(match op {
        B::Union => union(l, r),
        B::Eq => option_bool(equal(&l, &r)),
        B::Ne => option_bool(equal(&l, &r).map(|b| !b)),
        B::Equiv => vec![boolean(equivalent(&l, &r))],
        B::NotEquiv => vec![boolean(!equivalent(&l, &r))],
        B::Lt | B::Gt | B::Le | B::Ge => {
            let name = op_name(op);
            match (singleton(&l, name)?, singleton(&r, name)?) {
                (Some(a), Some(b)) => option_bool(compare::order(a, b, name)?.map(|o| match op {
                    B::Lt => o == Ordering::Less,
                    B::Gt => o == Ordering::Greater,
                    B::Le => o != Ordering::Greater,
                    _ => o != Ordering::Less,
                })),
                _ => Vec::new(),
            }
        }
        B::In => membership(&l, &r, "in")?,
        B::Contains => membership(&r, &l, "contains")?,
        B::Concat => {
            let text = |items: &Items<'v>| -> Result<String, EvalError> {
                match singleton(items, "&")? {
                    None => Ok(String::new()),
                    Some(item) => item
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| mismatch("&", "a string", item)),
                }
            };
            vec![string(text(&l)? + &text(&r)?)]
        }
        _ => arithmetic(op, &l, &r)?,
    })
}

fn logic(op: BinaryOp, l: Option<bool>, r: Option<bool>) -> Option<bool> {
    // FHIRPath N1 §6.5 truth tables; `None` is the empty collection.
    match (op, l, r) {
        (BinaryOp::And, Some(true), r) => r,
        (BinaryOp::And, None, Some(false)) => Some(false),
        (BinaryOp::And, None, _) => None,
        (BinaryOp::Or, Some(false), r) => r,
        (BinaryOp::Or, None, Some(true)) => Some(true),
        (BinaryOp::Or, None, _) => None,
        (BinaryOp::Implies, Some(true), r) => r,
        (BinaryOp::Implies, None, Some(true)) => Some(true),
        (BinaryOp::Implies, None, _) => None,
        // Short-circuited cases never get here.
        (_, l, _) => l,
    }
}

fn op_name(op: BinaryOp) -> &'static str {
    use BinaryOp as B;
    match op {
        B::Mul => "*",
        B::Div => "/",
        B::IntDiv => "div",
        B::Mod => "mod",
        B::Add => "+",
        B::Sub => "-",
        B::Concat => "&",
        B::Union => "|",
        B::Lt => "<",
        B::Gt => ">",
        B::Le => "<=",
        B::Ge => ">=",
        B::Eq => "=",
        B::Equiv => "~",
        B::Ne => "!=",
        B::NotEquiv => "!~",
        B::In => "in",
        B::Contains => "contains",
        B::And => "and",
        B::Or => "or",
        B::Xor => "xor",
        B::Implies => "implies",
    }
}

/// `=` on collections (§6.1.1): empty if either is; false if the counts
/// differ; else item by item, unknown if any pair is.
pub(crate) fn equal(l: &[Item<'_>], r: &[Item<'_>]) -> Option<bool> {
    if l.is_empty() || r.is_empty() {
        return None;
    }
    if l.len() != r.len() {
        return Some(false);
    }
    let mut all = Some(true);
    for (a, b) in l.iter().zip(r) {
        match compare::equal(a, b) {
            Some(false) => return Some(false),
            Some(true) => {}
            None => all = None,
        }
    }
    all
}

/// `~` on collections (§6.1.3): two empties are equivalent; order matters
/// only through pairing, as for `=`.
fn equivalent(l: &[Item<'_>], r: &[Item<'_>]) -> bool {
    l.len() == r.len() && l.iter().zip(r).all(|(a, b)| compare::equivalent(a, b))
}

/// Whether `collection` holds an item equal to `item`.
pub(crate) fn holds_item(collection: &[Item<'_>], item: &Item<'_>) -> bool {
    collection
        .iter()
        .any(|c| compare::equal(c, item) == Some(true))
}

/// `|`: both sides, without duplicates (§6.4.2).
///
/// Plain strings, numbers and booleans (no type tag, so no date rules) are
/// told apart by a hash: comparing each item with all before it made
/// `isDistinct()` over a large Bundle's entries (bdl-7) quadratic, which a
/// sender could use to stall the intake. Other items keep the spec's
/// equality, compared with every item kept so far.
pub(crate) fn union<'v>(l: Items<'v>, r: Items<'v>) -> Items<'v> {
    let mut out: Items<'v> = Vec::new();
    let mut plain = std::collections::HashSet::new();
    let mut others: Items<'v> = Vec::new();
    for item in l.into_iter().chain(r) {
        let key = plain_key(&item);
        let seen = match &key {
            Some(k) => plain.contains(k) || holds_item(&others, &item),
            None => holds_item(&out, &item),
        };
        if seen {
            continue;
        }
        match key {
            Some(k) => {
                plain.insert(k);
            }
            None => others.push(item.clone()),
        }
        out.push(item);
    }
    out
}

/// A hashable identity for an untagged JSON primitive, equal exactly when
/// FHIRPath equality says so for two such items.
fn plain_key(item: &Item<'_>) -> Option<String> {
    if item.tag.is_some() {
        return None;
    }
    match &*item.value {
        Value::String(s) => Some(format!("s{s}")),
        Value::Bool(b) => Some(format!("b{b}")),
        Value::Number(n) => n.as_f64().map(|f| format!("n{f}")),
        _ => None,
    }
}

/// `x in c` (§6.4.3): empty when `x` is; `x` must be one item.
fn membership<'v>(
    item: &[Item<'v>],
    collection: &[Item<'v>],
    op: &str,
) -> Result<Items<'v>, EvalError> {
    Ok(match singleton(item, op)? {
        None => Vec::new(),
        Some(x) => vec![boolean(holds_item(collection, x))],
    })
}

fn arithmetic<'v>(op: BinaryOp, l: &Items<'v>, r: &Items<'v>) -> Result<Items<'v>, EvalError> {
    use BinaryOp as B;
    let name = op_name(op);
    let (Some(a), Some(b)) = (singleton(l, name)?, singleton(r, name)?) else {
        return Ok(Vec::new());
    };
    if op == B::Add
        && let (Some(x), Some(y)) = (a.as_str(), b.as_str())
    {
        return Ok(vec![string(format!("{x}{y}"))]);
    }
    let number =
        |item: &Item<'_>| Number::of(item.value()).ok_or_else(|| mismatch(name, "a number", item));
    let (x, y) = (number(a)?, number(b)?);
    let result = match (x, y) {
        (Number::Integer(i), Number::Integer(j)) => match op {
            B::Add => i.checked_add(j).map(integer),
            B::Sub => i.checked_sub(j).map(integer),
            B::Mul => i.checked_mul(j).map(integer),
            B::Div => decimal(i as f64 / j as f64).filter(|_| j != 0),
            B::IntDiv => i.checked_div(j).map(integer),
            _ => i.checked_rem(j).map(integer),
        },
        _ => {
            let (i, j) = (x.as_f64(), y.as_f64());
            match op {
                B::Add => decimal(i + j),
                B::Sub => decimal(i - j),
                B::Mul => decimal(i * j),
                // Division by zero is empty (§6.6.4), not infinity.
                _ if j == 0.0 => None,
                B::Div => decimal(i / j),
                B::IntDiv => Some(integer((i / j).trunc() as i64)),
                _ => decimal(i % j),
            }
        }
    };
    Ok(result.into_iter().collect())
}

/// A collection read as one boolean (§4.5 singleton evaluation): empty is
/// unknown, one boolean is itself, any other single item is `true`, more
/// than one item is an error.
pub(crate) fn to_boolean(items: &[Item<'_>], op: &str) -> Result<Option<bool>, EvalError> {
    Ok(singleton(items, op)?.map(|item| item.as_bool().unwrap_or(true)))
}

/// At most one item, or an error naming the operation.
pub(crate) fn singleton<'a, 'v>(
    items: &'a [Item<'v>],
    op: &str,
) -> Result<Option<&'a Item<'v>>, EvalError> {
    match items {
        [] => Ok(None),
        [item] => Ok(Some(item)),
        _ => Err(EvalError::NotSingleton {
            operation: op.to_owned(),
            count: items.len(),
        }),
    }
}

pub(crate) fn singleton_integer(items: &[Item<'_>], op: &str) -> Result<Option<i64>, EvalError> {
    match singleton(items, op)? {
        None => Ok(None),
        Some(item) => match Number::of(item.value()) {
            Some(Number::Integer(i)) => Ok(Some(i)),
            _ => Err(mismatch(op, "an integer", item)),
        },
    }
}

pub(crate) fn singleton_string<'a>(
    items: &'a [Item<'_>],
    op: &str,
) -> Result<Option<&'a str>, EvalError> {
    match singleton(items, op)? {
        None => Ok(None),
        Some(item) => item
            .as_str()
            .map(Some)
            .ok_or_else(|| mismatch(op, "a string", item)),
    }
}

pub(crate) fn mismatch(op: &str, expected: &'static str, item: &Item<'_>) -> EvalError {
    EvalError::TypeMismatch {
        operation: op.to_owned(),
        expected,
        found: compare::kind(item),
    }
}

fn literal_item<'v>(literal: &Literal) -> Item<'v> {
    match literal {
        Literal::String(s) => string(s.clone()),
        Literal::Integer(i) => integer(*i),
        Literal::Decimal(d) => Item::owned(
            serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number),
            "decimal",
        ),
        Literal::Boolean(b) => boolean(*b),
        Literal::Temporal(text, ty) => Item::owned(Value::String(text.clone()), ty),
    }
}

pub(crate) fn boolean<'v>(b: bool) -> Item<'v> {
    Item::owned(Value::Bool(b), "boolean")
}

pub(crate) fn option_bool<'v>(b: Option<bool>) -> Items<'v> {
    b.map(boolean).into_iter().collect()
}

pub(crate) fn integer<'v>(i: i64) -> Item<'v> {
    Item::owned(Value::from(i), "integer")
}

/// A decimal result; `None` for NaN and infinities, which FHIRPath lacks.
pub(crate) fn decimal<'v>(d: f64) -> Option<Item<'v>> {
    serde_json::Number::from_f64(d).map(|n| Item::owned(Value::Number(n), "decimal"))
}

pub(crate) fn string<'v>(s: String) -> Item<'v> {
    Item::owned(Value::String(s), "string")
}
