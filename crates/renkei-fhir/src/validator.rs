//! The walker: applies the element tables of [`crate::profile`] and
//! [`crate::datatype::complex`] to a `serde_json::Value`, collecting issues.
//!
//! Elements a table does not list (in resources validated against base R4
//! only, or inside `ANY` elements) are walked generically: references and
//! Japanese codings found there are still checked.

use serde_json::{Map, Value};

use crate::codesystem;
use crate::conformance::Scope;
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

/// Where the walker is. Built on the stack as it descends and written out
/// as a [`Path`] only when an issue is reported: most elements have none,
/// and building a `String` per element was a fifth of validation's time.
#[derive(Clone, Copy)]
enum Loc<'a> {
    /// A root resource, named by its type.
    Root(&'a str),
    /// A location given from outside.
    At(&'a Path),
    Field(&'a Loc<'a>, &'a str),
    Index(&'a Loc<'a>, usize),
}

impl<'a> Loc<'a> {
    fn field(&'a self, name: &'a str) -> Loc<'a> {
        Loc::Field(self, name)
    }

    fn index(&'a self, i: usize) -> Loc<'a> {
        Loc::Index(self, i)
    }

    fn path(&self) -> Path {
        match self {
            Loc::Root(t) => Path::root(t),
            Loc::At(p) => (*p).clone(),
            Loc::Field(parent, name) => parent.path().field(name),
            Loc::Index(parent, i) => parent.path().index(*i),
        }
    }
}

/// Validate `v` as a resource located at `at` (the type name for a root
/// resource, `Bundle.entry[i].resource` for an entry).
pub(crate) fn resource(v: &Value, at: Option<&Path>, out: &mut Outcome, depth: usize) {
    match at {
        Some(p) => resource_at(v, Some(&Loc::At(p)), out, depth, Scope::All),
        None => resource_at(v, None, out, depth, Scope::All),
    }
}

/// Validate the shell of a Bundle streamed entry by entry: everything but
/// what its profiles say about the entries as a whole.
pub(crate) fn bundle_shell(v: &Value, out: &mut Outcome) {
    resource_at(v, None, out, 0, Scope::Shell);
}

fn resource_at(v: &Value, at: Option<&Loc<'_>>, out: &mut Outcome, depth: usize, scope: Scope) {
    let fallback = Loc::Root("Resource");
    let Some(obj) = v.as_object() else {
        out.error(
            IssueType::Structure,
            &at.unwrap_or(&fallback).path(),
            "a resource must be a JSON object".to_owned(),
        );
        return;
    };
    let Some(rt) = obj.get("resourceType").and_then(Value::as_str) else {
        let p = at.unwrap_or(&fallback);
        out.error(
            IssueType::Required,
            &p.path(),
            "missing resourceType (FHIR R4 §2.6.2)".to_owned(),
        );
        return;
    };
    let root = Loc::Root(rt);
    let path = at.unwrap_or(&root);
    if !is_resource_type(rt) {
        out.push(
            Severity::Error,
            IssueType::NotSupported,
            &path.field("resourceType").path(),
            format!("{rt:?} is not a FHIR R4 resource type"),
        );
        return;
    }
    if depth > MAX_DEPTH {
        out.error(
            IssueType::Structure,
            &path.path(),
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
    let known: &[&[ElementDef]] = match prof {
        Some(p) => &[RESOURCE_BASE, p.elements],
        None => &[RESOURCE_BASE],
    };
    // A table lists every R4 element of its type, so anything else is a
    // typo or foreign content: "unknown elements … are an error" (FHIR R4
    // §2.6.2). Types without a table are walked generically.
    let closed = if prof.is_some() {
        Closed::Yes
    } else {
        Closed::No
    };
    w.elements(obj, known, path, closed, &["resourceType"]);
    if rt == "Bundle" {
        crate::bundle::check(obj, &path.path(), w.out);
    }
    if let Some(p) = prof {
        for variant in p.claimed(&claims) {
            w.variant(obj, p.elements, variant, path);
        }
    }
    crate::conformance::Registry::bundled().check(v, rt, &path.path(), w.out, scope);
}

/// Validate `entry` as the element `Bundle.entry[i]` located at `at`, as
/// the walk over a whole Bundle would (for [`crate::BundleValidator`]).
pub(crate) fn bundle_entry(entry: &Value, at: &Path, out: &mut Outcome) {
    let def = profile::for_type("Bundle")
        .and_then(|p| p.elements.iter().find(|d| d.name == "entry"))
        .expect("the Bundle table lists entry");
    let mut w = Walker { out, depth: 0 };
    w.value(DataType::Backbone, entry, def, &Loc::At(at));
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Closed {
    Yes,
    No,
}

/// The members of the object being checked, in the map's order, each
/// marked once a definition claims it. Looked up by a scan that compares
/// lengths before bytes: objects are small, and `BTreeMap` lookups (one
/// `memcmp` per probe, per definition) were the walk's largest cost.
struct Members<'v> {
    inline: [Member<'v>; 16],
    len: usize,
    spill: Vec<Member<'v>>,
}

#[derive(Clone, Copy)]
struct Member<'v> {
    key: &'v str,
    value: &'v Value,
    claimed: bool,
}

static NULL: Value = Value::Null;

impl<'v> Members<'v> {
    fn of(obj: &'v Map<String, Value>) -> Self {
        let empty = Member {
            key: "",
            value: &NULL,
            claimed: false,
        };
        let mut m = Self {
            inline: [empty; 16],
            len: 0,
            spill: Vec::new(),
        };
        for (key, value) in obj {
            let member = Member {
                key,
                value,
                claimed: false,
            };
            if m.len < m.inline.len() {
                m.inline[m.len] = member;
                m.len += 1;
            } else {
                m.spill.push(member);
            }
        }
        m
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Member<'v>> {
        self.inline[..self.len]
            .iter_mut()
            .chain(self.spill.iter_mut())
    }

    fn iter(&self) -> impl Iterator<Item = &Member<'v>> {
        self.inline[..self.len].iter().chain(self.spill.iter())
    }
}

/// `a == b`, rejecting on length and first byte before comparing bytes.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

/// What [`Walker::find`] found for one definition: how many keys hold it,
/// and the first.
struct Found<'v> {
    count: usize,
    first: Option<(&'v str, &'v Value)>,
}

struct Walker<'o> {
    out: &'o mut Outcome,
    depth: usize,
}

impl Walker<'_> {
    fn push(&mut self, severity: Severity, code: IssueType, at: &Loc<'_>, msg: String) {
        self.out.push(severity, code, &at.path(), msg);
    }

    fn error(&mut self, code: IssueType, at: &Loc<'_>, msg: String) {
        self.push(Severity::Error, code, at, msg);
    }

    /// Check `obj` against the definitions in `defs` (a list of tables,
    /// in order); keys in `skip` are handled by the caller.
    fn elements(
        &mut self,
        obj: &Map<String, Value>,
        defs: &[&[ElementDef]],
        path: &Loc<'_>,
        closed: Closed,
        skip: &[&str],
    ) {
        let mut members = Members::of(obj);
        for def in defs.iter().flat_map(|t| t.iter()) {
            let found = self.find(&mut members, def, path);
            match (found.count, found.first) {
                (0, _) if def.min > 0 => self.error(
                    IssueType::Required,
                    &path.field(def.name.trim_end_matches("[x]")),
                    format!(
                        "missing required element {:?} (cardinality {}..{})",
                        def.name,
                        def.min,
                        max_text(def.max)
                    ),
                ),
                (1, Some((key, value))) => self.element(key, value, def, path),
                _ => {}
            }
        }
        for &Member {
            key,
            value,
            claimed,
        } in members.iter()
        {
            if claimed || skip.contains(&key) {
                continue;
            }
            let p = path.field(key);
            // §2.6.2: `_name` carries id/extensions of primitive `name`.
            if key == "id" || key.starts_with('_') {
                self.generic(value, &p);
            } else if key == "extension" || key == "modifierExtension" {
                self.element(key, value, &EXTENSION_DEF, path);
            } else if closed == Closed::Yes {
                self.error(IssueType::Structure, &p, format!("unknown element {key:?}"));
            } else {
                self.generic(value, &p);
            }
        }
    }

    /// The members that hold `def` (several only when a choice element is
    /// given twice, which is itself reported), each marked claimed.
    fn find<'v>(
        &mut self,
        members: &mut Members<'v>,
        def: &ElementDef,
        path: &Loc<'_>,
    ) -> Found<'v> {
        let mut found = Found {
            count: 0,
            first: None,
        };
        let Some(prefix) = def.choice_prefix() else {
            if let Some(m) = members.iter_mut().find(|m| same(m.key, def.name)) {
                m.claimed = true;
                found.count = 1;
                found.first = Some((m.key, m.value));
            }
            return found;
        };
        let mut second = None;
        for m in members.iter_mut() {
            let k = m.key;
            if !(k.len() > prefix.len()
                && k.as_bytes().first() == prefix.as_bytes().first()
                && k.as_bytes()[prefix.len()].is_ascii_uppercase()
                && k.starts_with(prefix))
            {
                continue;
            }
            m.claimed = true;
            found.count += 1;
            if found.count == 1 {
                found.first = Some((k, m.value));
            } else if found.count == 2 {
                second = Some(k);
            }
        }
        if let Some(k) = second {
            self.error(
                IssueType::Structure,
                &path.field(k),
                format!("choice element {:?} given more than once", def.name),
            );
        }
        found
    }

    fn element(&mut self, key: &str, value: &Value, def: &ElementDef, path: &Loc<'_>) {
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
                    self.error(
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
                    self.error(
                        IssueType::Structure,
                        &p,
                        "arrays must not be empty (FHIR R4 §2.6.2)".to_owned(),
                    );
                }
                if (items.len() as u64) < u64::from(def.min) {
                    self.error(
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
                self.error(
                    IssueType::Structure,
                    &p,
                    format!(
                        "{:?} has cardinality 0..* and must be a JSON array",
                        def.name
                    ),
                );
            }
            (Max::One, Value::Array(_)) => {
                self.error(
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

    fn value(&mut self, ty: DataType, v: &Value, def: &ElementDef, p: &Loc<'_>) {
        match ty {
            DataType::Complex(c) => self.complex(c, v, def.binding, p),
            DataType::Backbone => match v.as_object() {
                Some(obj) => {
                    self.nested(|w| w.elements(obj, &[def.children], p, Closed::No, &[]));
                }
                None => self.error(IssueType::Structure, p, "expected a JSON object".to_owned()),
            },
            DataType::Resource => {
                let depth = self.depth + 1;
                resource_at(v, Some(p), self.out, depth, Scope::All);
            }
            prim => {
                if let Some(problem) = primitive::check(prim, v) {
                    self.error(IssueType::Value, p, problem);
                } else if let (Some(b), Some(code)) = (def.binding, v.as_str()) {
                    self.code_binding(b, code, p);
                }
            }
        }
    }

    fn code_binding(&mut self, b: &Binding, code: &str, p: &Loc<'_>) {
        if !b.codes.is_empty() && !b.codes.contains(&code) {
            let sev = severity(b.strength);
            self.push(
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

    fn complex(&mut self, c: Complex, v: &Value, binding: Option<&Binding>, p: &Loc<'_>) {
        let Some(obj) = v.as_object() else {
            self.error(IssueType::Structure, p, "expected a JSON object".to_owned());
            return;
        };
        let (table, closed) = complex::table(c);
        let closed = if closed { Closed::Yes } else { Closed::No };
        self.nested(|w| w.elements(obj, &[table], p, closed, &[]));
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
    fn system_binding(&mut self, c: Complex, obj: &Map<String, Value>, b: &Binding, p: &Loc<'_>) {
        let Some(system) = b.system else { return };
        // The codings, by their index in `coding` (`None`: `obj` is one).
        let codings: Vec<(Option<usize>, &Map<String, Value>)> = match c {
            Complex::Coding => vec![(None, obj)],
            _ => obj
                .get("coding")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .enumerate()
                        .filter_map(|(i, c)| c.as_object().map(|o| (Some(i), o)))
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
            let msg = format!(
                "binding to {} requires a coding from {system}, found {found:?}",
                b.value_set
            );
            let coding = p.field("coding");
            let at = match first {
                None => *p,
                Some(i) => coding.index(*i),
            };
            self.push(
                severity(b.strength),
                IssueType::CodeInvalid,
                &at.field("system"),
                msg,
            );
        }
    }

    fn coding(&mut self, obj: &Map<String, Value>, p: &Loc<'_>) {
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
                .warning(IssueType::CodeInvalid, &p.field("code").path(), msg);
        }
    }

    fn reference(&mut self, obj: &Map<String, Value>, p: &Loc<'_>) {
        if let Some(r) = obj.get("reference").and_then(Value::as_str)
            && let Some(msg) = reference::check(r)
        {
            self.error(IssueType::Value, &p.field("reference"), msg);
        }
    }

    fn identifier(&mut self, obj: &Map<String, Value>, p: &Loc<'_>) {
        let Some(system) = obj.get("system").and_then(Value::as_str) else {
            return;
        };
        let value = obj.get("value").and_then(Value::as_str);
        if let Some((finding, msg)) = codesystem::identifier::check(system, value) {
            let sev = match finding {
                codesystem::identifier::Finding::Error => Severity::Error,
                codesystem::identifier::Finding::Warning => Severity::Warning,
            };
            self.push(sev, IssueType::Value, p, msg);
        }
    }

    /// Rules of a JP Core profile the resource claims.
    fn variant(
        &mut self,
        obj: &Map<String, Value>,
        defs: &[ElementDef],
        v: &profile::Variant,
        path: &Loc<'_>,
    ) {
        for name in v.required {
            let Some(def) = defs.iter().find(|d| d.name == *name) else {
                continue;
            };
            if self.find(&mut Members::of(obj), def, path).count == 0 {
                self.error(
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
                self.error(
                    IssueType::Required,
                    &path.field("identifier"),
                    format!("profile {} requires an identifier with system {system} (slice {slice}), found systems {ids:?}", v.url),
                );
            }
        }
    }

    /// Walk an element no table describes, checking what can be recognised:
    /// nested resources, references and codings of known systems.
    fn generic(&mut self, v: &Value, p: &Loc<'_>) {
        match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.nested(|w| w.generic(item, &p.index(i)));
                }
            }
            Value::Object(obj) => {
                if obj.contains_key("resourceType") {
                    let depth = self.depth + 1;
                    resource_at(v, Some(p), self.out, depth, Scope::All);
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
