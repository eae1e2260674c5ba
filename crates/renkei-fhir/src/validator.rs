//! The walker: applies the element tables of [`crate::profile`] and
//! [`crate::datatype::complex`] to a `serde_json::Value`, collecting issues.
//!
//! Elements a table does not list (in resources validated against base R4
//! only, or inside `ANY` elements) are walked generically: references and
//! Japanese codings found there are still checked.

use serde_json::{Map, Value};

use crate::codesystem;
use crate::datatype::complex::{self, Complex};
use crate::datatype::{DataType, primitive, reference};
use crate::element::{Binding, ElementDef, Max, Strength};
use crate::outcome::{IssueType, Outcome, Severity};
use crate::path::Path;
use crate::profile::{self, RESOURCE_BASE};
use crate::resource_type::is_resource_type;

/// Nesting deeper than this is refused: no real resource comes close, and
/// it bounds the walk on hostile input.
const MAX_DEPTH: usize = 64;

/// Validate `v` as a resource located at `at` (the type name for a root
/// resource, `Bundle.entry[i].resource` for an entry).
pub(crate) fn resource(v: &Value, at: Option<&Path>, out: &mut Outcome, depth: usize) {
    let fallback = Path::root("Resource");
    let Some(obj) = v.as_object() else {
        out.error(
            IssueType::Structure,
            at.unwrap_or(&fallback),
            "a resource must be a JSON object".to_owned(),
        );
        return;
    };
    let Some(rt) = obj.get("resourceType").and_then(Value::as_str) else {
        let p = at.unwrap_or(&fallback);
        out.error(
            IssueType::Required,
            p,
            "missing resourceType (FHIR R4 §2.6.2)".to_owned(),
        );
        return;
    };
    let path = at.cloned().unwrap_or_else(|| Path::root(rt));
    if !is_resource_type(rt) {
        out.push(
            Severity::Error,
            IssueType::NotSupported,
            &path.field("resourceType"),
            format!("{rt:?} is not a FHIR R4 resource type"),
        );
        return;
    }
    if depth > MAX_DEPTH {
        out.error(
            IssueType::Structure,
            &path,
            "resources nested too deeply".to_owned(),
        );
        return;
    }
    let mut w = Walker { out, depth };
    let prof = profile::for_type(rt);
    let claims: Vec<&str> = obj
        .get("meta")
        .and_then(|m| m.get("profile"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut known: Vec<&ElementDef> = RESOURCE_BASE.iter().collect();
    if let Some(p) = prof {
        known.extend(p.elements.iter());
    }
    // A table lists every R4 element of its type, so anything else is a
    // typo or foreign content: "unknown elements … are an error" (FHIR R4
    // §2.6.2). Types without a table are walked generically.
    let closed = if prof.is_some() {
        Closed::Yes
    } else {
        Closed::No
    };
    w.elements(obj, &known, &path, closed, &["resourceType"]);
    if rt == "Bundle" {
        crate::bundle::check(obj, &path, w.out);
    }
    if let Some(p) = prof {
        for variant in p.claimed(&claims) {
            w.variant(obj, p.elements, variant, &path);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Closed {
    Yes,
    No,
}

struct Walker<'o> {
    out: &'o mut Outcome,
    depth: usize,
}

impl Walker<'_> {
    /// Check `obj` against `defs`; keys in `skip` are handled by the caller.
    fn elements(
        &mut self,
        obj: &Map<String, Value>,
        defs: &[&ElementDef],
        path: &Path,
        closed: Closed,
        skip: &[&str],
    ) {
        let mut claimed: Vec<&str> = Vec::new();
        for def in defs {
            let found = self.find(obj, def, path);
            for (key, _) in &found {
                claimed.push(key);
            }
            match found.as_slice() {
                [] if def.min > 0 => self.out.error(
                    IssueType::Required,
                    &path.field(def.name.trim_end_matches("[x]")),
                    format!(
                        "missing required element {:?} (cardinality {}..{})",
                        def.name,
                        def.min,
                        max_text(def.max)
                    ),
                ),
                [] => {}
                [(key, value)] => self.element(key, value, def, path),
                _ => {}
            }
        }
        for (key, value) in obj {
            if claimed.contains(&key.as_str()) || skip.contains(&key.as_str()) {
                continue;
            }
            let p = path.field(key);
            // §2.6.2: `_name` carries id/extensions of primitive `name`.
            if key == "id" || key.starts_with('_') {
                self.generic(value, &p);
            } else if key == "extension" || key == "modifierExtension" {
                self.element(key, value, &EXTENSION_DEF, path);
            } else if closed == Closed::Yes {
                self.out
                    .error(IssueType::Structure, &p, format!("unknown element {key:?}"));
            } else {
                self.generic(value, &p);
            }
        }
    }

    /// The keys of `obj` that hold `def` (several only when a choice
    /// element is given twice, which is itself reported).
    fn find<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        def: &ElementDef,
        path: &Path,
    ) -> Vec<(&'a str, &'a Value)> {
        let Some(prefix) = def.choice_prefix() else {
            return obj
                .get_key_value(def.name)
                .map(|(k, v)| (k.as_str(), v))
                .into_iter()
                .collect();
        };
        let found: Vec<(&str, &Value)> = obj
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix(prefix)
                    .is_some_and(|s| s.starts_with(|c: char| c.is_ascii_uppercase()))
            })
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        if found.len() > 1 {
            self.out.error(
                IssueType::Structure,
                &path.field(found[1].0),
                format!("choice element {:?} given more than once", def.name),
            );
        }
        found
    }

    fn element(&mut self, key: &str, value: &Value, def: &ElementDef, path: &Path) {
        let p = path.field(key);
        let ty = match def.choice_prefix() {
            None => def.types.first().copied(),
            Some(prefix) => {
                let suffix = &key[prefix.len()..];
                let t = def
                    .types
                    .iter()
                    .copied()
                    .find(|t| t.choice_suffix() == suffix);
                if t.is_none() {
                    let allowed: Vec<String> = def
                        .types
                        .iter()
                        .map(|t| format!("{prefix}{}", t.choice_suffix()))
                        .collect();
                    self.out.error(
                        IssueType::Structure,
                        &p,
                        format!(
                            "{key:?} is not an allowed type for {:?} (allowed: {})",
                            def.name,
                            allowed.join(", ")
                        ),
                    );
                }
                t
            }
        };
        let Some(ty) = ty else { return };
        match (def.max, value) {
            (Max::Many, Value::Array(items)) => {
                if items.is_empty() {
                    self.out.error(
                        IssueType::Structure,
                        &p,
                        "arrays must not be empty (FHIR R4 §2.6.2)".to_owned(),
                    );
                }
                if (items.len() as u64) < u64::from(def.min) {
                    self.out.error(
                        IssueType::Required,
                        &p,
                        format!(
                            "{:?} needs at least {} items, found {}",
                            def.name,
                            def.min,
                            items.len()
                        ),
                    );
                }
                for (i, item) in items.iter().enumerate() {
                    self.value(ty, item, def, &p.index(i));
                }
            }
            (Max::Many, _) => {
                self.out.error(
                    IssueType::Structure,
                    &p,
                    format!(
                        "{:?} has cardinality 0..* and must be a JSON array",
                        def.name
                    ),
                );
            }
            (Max::One, Value::Array(_)) => {
                self.out.error(
                    IssueType::Structure,
                    &p,
                    format!(
                        "{:?} has cardinality {}..1 and must not be an array",
                        def.name, def.min
                    ),
                );
            }
            (Max::One, v) => self.value(ty, v, def, &p),
        }
    }

    fn value(&mut self, ty: DataType, v: &Value, def: &ElementDef, p: &Path) {
        match ty {
            DataType::Complex(c) => self.complex(c, v, def.binding, p),
            DataType::Backbone => match v.as_object() {
                Some(obj) => {
                    let defs: Vec<&ElementDef> = def.children.iter().collect();
                    self.nested(|w| w.elements(obj, &defs, p, Closed::No, &[]));
                }
                None => {
                    self.out
                        .error(IssueType::Structure, p, "expected a JSON object".to_owned())
                }
            },
            DataType::Resource => {
                let depth = self.depth + 1;
                resource(v, Some(p), self.out, depth);
            }
            prim => {
                if let Some(problem) = primitive::check(prim, v) {
                    self.out.error(IssueType::Value, p, problem);
                } else if let (Some(b), Some(code)) = (def.binding, v.as_str()) {
                    self.code_binding(b, code, p);
                }
            }
        }
    }

    fn code_binding(&mut self, b: &Binding, code: &str, p: &Path) {
        if !b.codes.is_empty() && !b.codes.contains(&code) {
            let sev = severity(b.strength);
            self.out.push(
                sev,
                IssueType::CodeInvalid,
                p,
                format!(
                    "code {code:?} is not in value set {} (allowed: {})",
                    b.value_set,
                    b.codes.join(", ")
                ),
            );
        }
    }

    fn complex(&mut self, c: Complex, v: &Value, binding: Option<&Binding>, p: &Path) {
        let Some(obj) = v.as_object() else {
            self.out
                .error(IssueType::Structure, p, "expected a JSON object".to_owned());
            return;
        };
        let (table, closed) = complex::table(c);
        let defs: Vec<&ElementDef> = table.iter().collect();
        let closed = if closed { Closed::Yes } else { Closed::No };
        self.nested(|w| w.elements(obj, &defs, p, closed, &[]));
        match c {
            Complex::Coding => self.coding(obj, p),
            Complex::Reference => self.reference(obj, p),
            Complex::Identifier => self.identifier(obj, p),
            _ => {}
        }
        if let Some(b) = binding.filter(|b| b.system.is_some()) {
            self.system_binding(c, obj, b, p);
        }
    }

    /// A required binding to a code system: at least one coding must be
    /// from it (FHIR R4 §4.1.0.2 on CodeableConcept bindings).
    fn system_binding(&mut self, c: Complex, obj: &Map<String, Value>, b: &Binding, p: &Path) {
        let Some(system) = b.system else { return };
        let codings: Vec<(Path, &Map<String, Value>)> = match c {
            Complex::Coding => vec![(p.clone(), obj)],
            _ => obj
                .get("coding")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .enumerate()
                        .filter_map(|(i, c)| c.as_object().map(|o| (p.field("coding").index(i), o)))
                        .collect()
                })
                .unwrap_or_default(),
        };
        if codings.is_empty() {
            return;
        }
        if !codings
            .iter()
            .any(|(_, o)| o.get("system").and_then(Value::as_str) == Some(system))
        {
            let (first, o) = &codings[0];
            let found = o.get("system").and_then(Value::as_str).unwrap_or("(none)");
            self.out.push(
                severity(b.strength),
                IssueType::CodeInvalid,
                &first.field("system"),
                format!(
                    "binding to {} requires a coding from {system}, found {found:?}",
                    b.value_set
                ),
            );
        }
    }

    fn coding(&mut self, obj: &Map<String, Value>, p: &Path) {
        let (Some(system), Some(code)) = (
            obj.get("system").and_then(Value::as_str),
            obj.get("code").and_then(Value::as_str),
        ) else {
            return;
        };
        if let Some(cs) = codesystem::lookup(system)
            && let Some(msg) = codesystem::check_code(cs, code)
        {
            self.out
                .warning(IssueType::CodeInvalid, &p.field("code"), msg);
        }
    }

    fn reference(&mut self, obj: &Map<String, Value>, p: &Path) {
        if let Some(r) = obj.get("reference").and_then(Value::as_str)
            && let Some(msg) = reference::check(r)
        {
            self.out.error(IssueType::Value, &p.field("reference"), msg);
        }
    }

    fn identifier(&mut self, obj: &Map<String, Value>, p: &Path) {
        let Some(system) = obj.get("system").and_then(Value::as_str) else {
            return;
        };
        let value = obj.get("value").and_then(Value::as_str);
        if let Some((finding, msg)) = codesystem::identifier::check(system, value) {
            let sev = match finding {
                codesystem::identifier::Finding::Error => Severity::Error,
                codesystem::identifier::Finding::Warning => Severity::Warning,
            };
            self.out.push(sev, IssueType::Value, p, msg);
        }
    }

    /// Rules of a JP Core profile the resource claims.
    fn variant(
        &mut self,
        obj: &Map<String, Value>,
        defs: &[ElementDef],
        v: &profile::Variant,
        path: &Path,
    ) {
        for name in v.required {
            let Some(def) = defs.iter().find(|d| d.name == *name) else {
                continue;
            };
            if self.find(obj, def, path).is_empty() {
                self.out.error(
                    IssueType::Required,
                    &path.field(name.trim_end_matches("[x]")),
                    format!("missing element {name:?}, required by profile {}", v.url),
                );
            }
        }
        let ids: Vec<&str> = obj
            .get("identifier")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|i| i.get("system").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        for (slice, system) in v.identifiers {
            if !ids.contains(system) {
                self.out.error(
                    IssueType::Required,
                    &path.field("identifier"),
                    format!("profile {} requires an identifier with system {system} (slice {slice}), found systems {ids:?}", v.url),
                );
            }
        }
    }

    /// Walk an element no table describes, checking what can be recognised:
    /// nested resources, references and codings of known systems.
    fn generic(&mut self, v: &Value, p: &Path) {
        match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.nested(|w| w.generic(item, &p.index(i)));
                }
            }
            Value::Object(obj) => {
                if obj.contains_key("resourceType") {
                    let depth = self.depth + 1;
                    resource(v, Some(p), self.out, depth);
                    return;
                }
                if obj.get("reference").is_some_and(Value::is_string) {
                    self.reference(obj, p);
                }
                if obj.contains_key("code") && obj.get("system").is_some_and(Value::is_string) {
                    self.coding(obj, p);
                }
                for (k, child) in obj {
                    if k == "extension" || k == "modifierExtension" {
                        self.element(k, child, &EXTENSION_DEF, p);
                    } else {
                        self.nested(|w| w.generic(child, &p.field(k)));
                    }
                }
            }
            _ => {}
        }
    }

    fn nested(&mut self, f: impl FnOnce(&mut Walker<'_>)) {
        if self.depth > MAX_DEPTH {
            return;
        }
        self.depth += 1;
        f(self);
        self.depth -= 1;
    }
}

const EXTENSION_DEF: ElementDef =
    ElementDef::new("extension", 0, Max::Many, &[crate::element::dsl::EXTENSION]);

fn severity(s: Strength) -> Severity {
    match s {
        Strength::Required => Severity::Error,
        Strength::Extensible => Severity::Warning,
    }
}

fn max_text(m: Max) -> &'static str {
    match m {
        Max::One => "1",
        Max::Many => "*",
    }
}
