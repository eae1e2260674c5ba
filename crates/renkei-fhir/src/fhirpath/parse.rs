//! Text to syntax tree: precedence climbing over the FHIRPath N1 operator
//! table (§6, lowest first): `implies`; `or xor`; `and`; `in contains`;
//! `= ~ != !~`; `< > <= >=`; `|`; `is as`; `+ - &`; `* / div mod`; unary
//! `+ -`; then `.` invocation and `[]` indexer.

use std::sync::Arc;

use regex::Regex;

use super::ast::{BinaryOp, Env, Function, Literal, Node, TypeName};
use super::error::ParseError;
use super::lex::{self, Kind, Token, syntax};

/// Deeper nesting than this is refused rather than risking the stack; the
/// profiles' invariants nest about ten levels.
const MAX_DEPTH: usize = 128;

pub(crate) fn parse(text: &str) -> Result<Node, ParseError> {
    let tokens = lex::tokens(text)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        depth: 0,
    };
    let node = parser.expression(0)?;
    let end = parser.peek();
    if end.kind != Kind::End {
        return Err(syntax(end.offset, "expected the end of the expression"));
    }
    Ok(node)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

/// Binding power of a binary operator token (higher binds tighter).
fn binary(kind: &Kind) -> Option<(u8, BinaryOp)> {
    use BinaryOp as B;
    Some(match kind {
        Kind::Ident {
            name,
            quoted: false,
        } => match name.as_str() {
            "implies" => (1, B::Implies),
            "or" => (2, B::Or),
            "xor" => (2, B::Xor),
            "and" => (3, B::And),
            "in" => (4, B::In),
            "contains" => (4, B::Contains),
            "div" => (10, B::IntDiv),
            "mod" => (10, B::Mod),
            _ => return None,
        },
        Kind::Sym(s) => match *s {
            "=" => (5, B::Eq),
            "~" => (5, B::Equiv),
            "!=" => (5, B::Ne),
            "!~" => (5, B::NotEquiv),
            "<" => (6, B::Lt),
            ">" => (6, B::Gt),
            "<=" => (6, B::Le),
            ">=" => (6, B::Ge),
            "|" => (7, B::Union),
            "+" => (9, B::Add),
            "-" => (9, B::Sub),
            "&" => (9, B::Concat),
            "*" => (10, B::Mul),
            "/" => (10, B::Div),
            _ => return None,
        },
        _ => return None,
    })
}

/// `is` and `as` sit between `|` (7) and `+` (9).
const TYPE_OP_POWER: u8 = 8;

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        token
    }

    fn is_sym(&self, sym: &str) -> bool {
        matches!(&self.peek().kind, Kind::Sym(s) if *s == sym)
    }

    fn expect(&mut self, sym: &str) -> Result<(), ParseError> {
        if self.is_sym(sym) {
            self.next();
            Ok(())
        } else {
            Err(syntax(self.peek().offset, &format!("expected '{sym}'")))
        }
    }

    fn expression(&mut self, min_power: u8) -> Result<Node, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(syntax(self.peek().offset, "expression nested too deeply"));
        }
        let mut left = self.unary()?;
        loop {
            let token = self.peek().clone();
            if let Kind::Ident {
                name,
                quoted: false,
            } = &token.kind
                && (name == "is" || name == "as")
                && TYPE_OP_POWER > min_power
            {
                self.next();
                let ty = self.type_name()?;
                left = if name == "is" {
                    Node::Is(Box::new(left), ty)
                } else {
                    Node::As(Box::new(left), ty)
                };
                continue;
            }
            let Some((power, op)) = binary(&token.kind) else {
                break;
            };
            if power <= min_power {
                break;
            }
            self.next();
            let right = self.expression(power)?;
            left = Node::Binary(op, Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, ParseError> {
        if self.is_sym("-") || self.is_sym("+") {
            let negate = self.is_sym("-");
            self.next();
            let operand = self.unary()?;
            return Ok(match (negate, operand) {
                (false, node) => node,
                (true, Node::Literal(Literal::Integer(n))) => Node::Literal(Literal::Integer(-n)),
                (true, Node::Literal(Literal::Decimal(n))) => Node::Literal(Literal::Decimal(-n)),
                (true, node) => Node::Negate(Box::new(node)),
            });
        }
        let mut node = self.term()?;
        loop {
            if self.is_sym(".") {
                self.next();
                let token = self.next();
                let Kind::Ident { name, .. } = token.kind else {
                    return Err(syntax(token.offset, "expected a name after '.'"));
                };
                node = if self.is_sym("(") {
                    self.call(Some(node), &name, token.offset)?
                } else {
                    Node::Member {
                        base: Some(Box::new(node)),
                        name,
                    }
                };
            } else if self.is_sym("[") {
                self.next();
                let index = self.expression(0)?;
                self.expect("]")?;
                node = Node::Indexer(Box::new(node), Box::new(index));
            } else {
                return Ok(node);
            }
        }
    }

    fn term(&mut self) -> Result<Node, ParseError> {
        let token = self.next();
        let offset = token.offset;
        Ok(match token.kind {
            Kind::Str(s) => Node::Literal(Literal::String(s)),
            Kind::Number(n) => number(&n, offset)?,
            Kind::DateTime(text) => Node::Literal(temporal(text, offset)?),
            Kind::Special(name) => match name.as_str() {
                "this" => Node::This,
                "index" => Node::Index,
                "total" => {
                    return Err(ParseError::Unsupported {
                        function: "aggregate".to_owned(),
                    });
                }
                _ => return Err(syntax(offset, &format!("unknown '${name}'"))),
            },
            Kind::Env(name) => match name.as_str() {
                "resource" | "rootResource" => Node::Env(Env::Resource),
                "context" => Node::Env(Env::Context),
                "ucum" => Node::Env(Env::Ucum),
                _ => return Err(ParseError::UnknownVariable { name, offset }),
            },
            Kind::Sym("(") => {
                let inner = self.expression(0)?;
                self.expect(")")?;
                inner
            }
            Kind::Sym("{") => {
                self.expect("}")?;
                Node::Empty
            }
            Kind::Ident { name, quoted } => {
                if self.is_sym("(") {
                    self.call(None, &name, offset)?
                } else if !quoted && (name == "true" || name == "false") {
                    Node::Literal(Literal::Boolean(name == "true"))
                } else if name.starts_with(|c: char| c.is_ascii_uppercase()) {
                    // FHIR element names start lowercase, so a leading
                    // capitalised name is a type: `Patient.name`.
                    Node::TypeFilter(TypeName(name))
                } else {
                    Node::Member { base: None, name }
                }
            }
            Kind::Sym(s) => return Err(syntax(offset, &format!("unexpected '{s}'"))),
            Kind::End => return Err(syntax(offset, "unexpected end of the expression")),
        })
    }

    /// A type specifier: `Patient`, `FHIR.string`, `System.String`.
    fn type_name(&mut self) -> Result<TypeName, ParseError> {
        let token = self.next();
        let Kind::Ident { name: first, .. } = token.kind else {
            return Err(syntax(token.offset, "expected a type name"));
        };
        if !self.is_sym(".") {
            return Ok(TypeName(first));
        }
        self.next();
        let token = self.next();
        let Kind::Ident { name, .. } = token.kind else {
            return Err(syntax(token.offset, "expected a type name after '.'"));
        };
        Ok(TypeName(match first.as_str() {
            "FHIR" => name,
            "System" => system_type(&name).to_owned(),
            _ => {
                return Err(syntax(
                    token.offset,
                    "a type is qualified by FHIR or System",
                ));
            }
        }))
    }

    fn call(&mut self, base: Option<Node>, name: &str, offset: usize) -> Result<Node, ParseError> {
        self.expect("(")?;
        if UNSUPPORTED.contains(&name) {
            return Err(ParseError::Unsupported {
                function: name.to_owned(),
            });
        }
        let Some(&(_, min, max)) = ARITY.iter().find(|(n, _, _)| *n == name) else {
            return Err(ParseError::UnknownFunction {
                name: name.to_owned(),
                offset,
            });
        };
        // Type specifiers are not expressions; parse them as names.
        if matches!(name, "ofType" | "is" | "as") {
            let ty = self.type_name()?;
            self.expect(")")?;
            let function = match name {
                "ofType" => Function::OfType(ty),
                "is" => Function::Is(ty),
                _ => Function::As(ty),
            };
            return Ok(Node::Call {
                base: base.map(Box::new),
                function,
                args: Vec::new(),
            });
        }
        let mut args = Vec::new();
        let mut arg_offsets = Vec::new();
        if !self.is_sym(")") {
            loop {
                arg_offsets.push(self.peek().offset);
                args.push(self.expression(0)?);
                if self.is_sym(",") {
                    self.next();
                } else {
                    break;
                }
            }
        }
        self.expect(")")?;
        if args.len() < min || args.len() > max {
            return Err(ParseError::Arity {
                function: name.to_owned(),
                offset,
                expected: arity_text(min, max),
                found: args.len(),
            });
        }
        let literal_regex = |args: &[Node]| -> Result<Option<Arc<Regex>>, ParseError> {
            match args.first() {
                Some(Node::Literal(Literal::String(pattern))) => {
                    Regex::new(pattern).map(|r| Some(Arc::new(r))).map_err(|e| {
                        syntax(arg_offsets[0], &format!("invalid regular expression: {e}"))
                    })
                }
                _ => Ok(None),
            }
        };
        let function = function(name, &args, literal_regex)?;
        Ok(Node::Call {
            base: base.map(Box::new),
            function,
            args,
        })
    }
}

fn function(
    name: &str,
    args: &[Node],
    literal_regex: impl Fn(&[Node]) -> Result<Option<Arc<Regex>>, ParseError>,
) -> Result<Function, ParseError> {
    use Function as F;
    Ok(match name {
        "empty" => F::Empty,
        "exists" => F::Exists,
        "all" => F::All,
        "allTrue" => F::AllTrue,
        "anyTrue" => F::AnyTrue,
        "allFalse" => F::AllFalse,
        "anyFalse" => F::AnyFalse,
        "subsetOf" => F::SubsetOf,
        "supersetOf" => F::SupersetOf,
        "count" => F::Count,
        "distinct" => F::Distinct,
        "isDistinct" => F::IsDistinct,
        "where" => F::Where,
        "select" => F::Select,
        "repeat" => F::Repeat,
        "single" => F::Single,
        "first" => F::First,
        "last" => F::Last,
        "tail" => F::Tail,
        "skip" => F::Skip,
        "take" => F::Take,
        "intersect" => F::Intersect,
        "exclude" => F::Exclude,
        "union" => F::Union,
        "combine" => F::Combine,
        "iif" => F::Iif,
        "toString" => F::ToString,
        "toInteger" => F::ToInteger,
        "toDecimal" => F::ToDecimal,
        "toBoolean" => F::ToBoolean,
        "indexOf" => F::IndexOf,
        "substring" => F::Substring,
        "startsWith" => F::StartsWith,
        "endsWith" => F::EndsWith,
        "contains" => F::Contains,
        "upper" => F::Upper,
        "lower" => F::Lower,
        "replace" => F::Replace,
        "matches" => F::Matches(literal_regex(args)?),
        "replaceMatches" => F::ReplaceMatches(literal_regex(args)?),
        "length" => F::Length,
        "trim" => F::Trim,
        "children" => F::Children,
        "descendants" => F::Descendants,
        "not" => F::Not,
        "hasValue" => F::HasValue,
        "trace" => F::Trace,
        "extension" => F::Extension,
        other => unreachable!("'{other}' is in ARITY but has no Function"),
    })
}

/// Functions and how many arguments they take (min, max). `ofType`, `is`
/// and `as` take a type specifier, parsed apart.
const ARITY: &[(&str, usize, usize)] = &[
    ("empty", 0, 0),
    ("exists", 0, 1),
    ("all", 1, 1),
    ("allTrue", 0, 0),
    ("anyTrue", 0, 0),
    ("allFalse", 0, 0),
    ("anyFalse", 0, 0),
    ("subsetOf", 1, 1),
    ("supersetOf", 1, 1),
    ("count", 0, 0),
    ("distinct", 0, 0),
    ("isDistinct", 0, 0),
    ("where", 1, 1),
    ("select", 1, 1),
    ("repeat", 1, 1),
    ("ofType", 1, 1),
    ("is", 1, 1),
    ("as", 1, 1),
    ("single", 0, 0),
    ("first", 0, 0),
    ("last", 0, 0),
    ("tail", 0, 0),
    ("skip", 1, 1),
    ("take", 1, 1),
    ("intersect", 1, 1),
    ("exclude", 1, 1),
    ("union", 1, 1),
    ("combine", 1, 1),
    ("iif", 2, 3),
    ("toString", 0, 0),
    ("toInteger", 0, 0),
    ("toDecimal", 0, 0),
    ("toBoolean", 0, 0),
    ("indexOf", 1, 1),
    ("substring", 1, 2),
    ("startsWith", 1, 1),
    ("endsWith", 1, 1),
    ("contains", 1, 1),
    ("upper", 0, 0),
    ("lower", 0, 0),
    ("replace", 2, 2),
    ("matches", 1, 1),
    ("replaceMatches", 2, 2),
    ("length", 0, 0),
    ("trim", 0, 0),
    ("children", 0, 0),
    ("descendants", 0, 0),
    ("not", 0, 0),
    ("hasValue", 0, 0),
    // FHIRPath N1 trace(name); FHIR R4's dom-3 also passes a projection,
    // which only shapes the log line, so both are taken and ignored.
    ("trace", 1, 2),
    ("extension", 1, 1),
];

/// Functions FHIRPath N1 or FHIR R4 (§2.1.9.1) define that we knowingly do
/// not implement: they need a terminology server (`memberOf`, `subsumes`),
/// reference resolution (`resolve`), the structure definitions
/// (`conformsTo`, `elementDefinition`, `slice`, `checkModifiers`), an XHTML
/// parser (`htmlChecks`), a clock (`now`, `today`, `timeOfDay`) or
/// arithmetic we have no use for yet.
pub(crate) const UNSUPPORTED: &[&str] = &[
    "htmlChecks",
    "resolve",
    "conformsTo",
    "memberOf",
    "subsumes",
    "subsumedBy",
    "elementDefinition",
    "slice",
    "checkModifiers",
    "getValue",
    "aggregate",
    "now",
    "today",
    "timeOfDay",
    "lowBoundary",
    "highBoundary",
    "precision",
    "comparable",
    "sum",
    "min",
    "max",
    "avg",
    "sort",
    "split",
    "join",
    "toChars",
    "encode",
    "decode",
    "escape",
    "unescape",
    "toDate",
    "toDateTime",
    "toTime",
    "toQuantity",
    "convertsToBoolean",
    "convertsToInteger",
    "convertsToDecimal",
    "convertsToString",
    "convertsToDate",
    "convertsToDateTime",
    "convertsToTime",
    "convertsToQuantity",
    "abs",
    "ceiling",
    "exp",
    "floor",
    "ln",
    "log",
    "power",
    "round",
    "sqrt",
    "truncate",
    "defineVariable",
];

fn arity_text(min: usize, max: usize) -> &'static str {
    match (min, max) {
        (0, 0) => "0",
        (1, 1) => "1",
        (2, 2) => "2",
        (0, 1) => "0 or 1",
        (1, 2) => "1 or 2",
        (2, 3) => "2 or 3",
        _ => "another number of",
    }
}

/// `System.String` → `string`: a System type compares like the FHIR
/// primitive it holds, since our items carry FHIR type names.
fn system_type(name: &str) -> &str {
    match name {
        "String" => "string",
        "Boolean" => "boolean",
        "Integer" => "integer",
        "Decimal" => "decimal",
        "Date" => "date",
        "DateTime" => "dateTime",
        "Time" => "time",
        other => other,
    }
}

fn number(text: &str, offset: usize) -> Result<Node, ParseError> {
    let literal = if text.contains('.') {
        text.parse().map(Literal::Decimal).ok()
    } else {
        text.parse().map(Literal::Integer).ok()
    };
    literal
        .map(Node::Literal)
        .ok_or_else(|| syntax(offset, "number out of range"))
}

/// `@2020-01-01` is a date, `@2020-01-01T10:00` a dateTime, `@T10:00` a
/// time; the text must be one our comparisons can read.
fn temporal(text: String, offset: usize) -> Result<Literal, ParseError> {
    if let Some(time) = text.strip_prefix('T') {
        if super::compare::Temporal::parse(&format!("1970-01-01T{time}")).is_none() {
            return Err(syntax(offset, "invalid time literal"));
        }
        return Ok(Literal::Temporal(time.to_owned(), "time"));
    }
    // A bare trailing `T` (`@2020-01-01T`) marks a dateTime of day precision.
    let kind = if text.contains('T') {
        "dateTime"
    } else {
        "date"
    };
    let text = text.trim_end_matches('T').to_owned();
    if super::compare::Temporal::parse(&text).is_none() {
        return Err(syntax(offset, "invalid date/time literal"));
    }
    Ok(Literal::Temporal(text, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_function_parses_with_its_arity() {
        for (name, min, max) in ARITY {
            for n in [*min, *max] {
                let args = vec!["x"; n].join(", ");
                let text = format!("a.{name}({args})");
                assert!(parse(&text).is_ok(), "{text}");
            }
        }
        for name in UNSUPPORTED {
            assert_eq!(
                parse(&format!("{name}()")).map(|_| ()),
                Err(ParseError::Unsupported {
                    function: (*name).to_owned()
                })
            );
        }
    }

    #[test]
    fn is_and_as_bind_tighter_than_union() {
        let node = parse("a | b is T").expect("parses");
        assert!(
            matches!(&node, Node::Binary(BinaryOp::Union, _, right) if matches!(**right, Node::Is(..))),
            "{node:?}"
        );
        let node = parse("a = b implies c or d and e").expect("parses");
        assert!(
            matches!(&node, Node::Binary(BinaryOp::Implies, left, right)
                if matches!(**left, Node::Binary(BinaryOp::Eq, ..))
                && matches!(**right, Node::Binary(BinaryOp::Or, ..))),
            "{node:?}"
        );
    }

    #[test]
    fn date_literals_stop_before_an_invocation() {
        assert!(parse("@2021-01-01.exists()").is_ok());
        assert!(parse("@2021-01-01T10:00:00.123+09:00 > @T10:00").is_ok());
        assert!(matches!(
            parse("@2021-13-01"),
            Err(ParseError::Syntax { offset: 0, .. })
        ));
    }
}
