//! Applies one profile's element tree to a resource's JSON.
//!
//! The base R4 walk (`crate::validator`) has already checked datatypes and
//! the base cardinalities, so this walk reports only what the profile adds:
//! narrowed cardinality, allowed types of a choice, fixed and pattern
//! values, slices and their counts, required bindings it can enumerate, and
//! the invariants.

use serde_json::{Map, Value};

use super::tree::{Discriminator, Expect, Node};
use super::{Profile, Registry};
use crate::outcome::{IssueType, Outcome, Severity};
use crate::path::Path;

/// Datatype profiles nest (an extension's value is a profiled type); real
/// ones go three deep, hostile ones are cut here.
const MAX_DEPTH: usize = 16;

pub(crate) struct Walk<'a> {
    pub registry: &'a Registry,
    pub profile: &'a Profile,
    pub resource: &'a Value,
    pub out: &'a mut Outcome,
    /// Whether the resource claims this profile. A resource that claims
    /// none is still checked against the JP Core profile of its type, but
    /// what JP Core adds to R4 is then advice, not a refusal: a valid R4
    /// resource is never refused for its type alone.
    pub claimed: bool,
}

/// One value found for an element.
struct Item<'v> {
    value: &'v Value,
    path: Path,
    /// The type a choice element was given by its JSON name.
    choice: Option<&'v str>,
}

impl Walk<'_> {
    fn report(&mut self, severity: Severity, code: IssueType, path: &Path, msg: String) {
        let name = self.profile.name.as_str();
        if self.claimed {
            self.out
                .push(severity, code, path, format!("{msg} (profile {name})"));
        } else {
            self.out.push(
                Severity::Warning.max(severity),
                code,
                path,
                format!("{msg} (JP Core profile {name}, which the resource does not claim)"),
            );
        }
    }

    /// Checks `value`, found at `path`, against the rules of `node`.
    pub fn element(&mut self, node: &Node, value: &Value, path: &Path, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        if let Some(fixed) = &node.fixed
            && value != fixed
        {
            match &node.divergence {
                None => self.report(
                    Severity::Error,
                    IssueType::Value,
                    path,
                    format!("must be exactly {fixed}, found {value}"),
                ),
                Some(why) => self.report(
                    Severity::Warning,
                    IssueType::Value,
                    path,
                    format!(
                        "should be {fixed}, found {value}; accepted as a known divergence: {why}"
                    ),
                ),
            }
        }
        if let Some(pattern) = &node.pattern
            && !matches_pattern(pattern, value)
        {
            self.report(
                Severity::Error,
                IssueType::Value,
                path,
                format!("must match the pattern {pattern}"),
            );
        }
        if let Some(b) = &node.binding
            && b.required
            && let Some(Some(codes)) = self.registry.codes.get(&b.value_set)
            && let Some(found) = code_outside(value, codes)
        {
            self.report(
                Severity::Error,
                IssueType::CodeInvalid,
                path,
                format!("{found} is not in the value set {}", b.value_set),
            );
        }
        self.invariants(node, value, path);
        let Some(obj) = value.as_object() else {
            return;
        };
        if !node.children.is_empty() {
            self.children(node, obj, path, depth);
            return;
        }
        // An element whose type is itself profiled (an extension slice, a
        // JP Core datatype) is checked against that profile.
        let registry = self.registry;
        if let Some(p) = node
            .type_profiles
            .iter()
            .find_map(|u| registry.profile(u).filter(|p| !p.is_resource))
        {
            let outer = std::mem::replace(&mut self.profile, p);
            self.invariants(&p.root, value, path);
            self.children(&p.root, obj, path, depth + 1);
            self.profile = outer;
        }
    }

    /// Evaluates the invariants of `node` with `focus` as their input.
    pub fn invariants(&mut self, node: &Node, focus: &Value, path: &Path) {
        for (c, expr) in node.constraints.iter().zip(&node.compiled) {
            let Some(expr) = expr else { continue };
            let severity = if c.error {
                Severity::Error
            } else {
                Severity::Warning
            };
            match expr.holds(focus, self.resource) {
                Ok(true) => {}
                Ok(false) => self.report(
                    severity,
                    IssueType::Invariant,
                    path,
                    format!("{}: {}", c.key, c.human),
                ),
                // An expression the data makes unevaluable (two values
                // where the rule expects one) breaks the rule as written.
                Err(e) => self.report(
                    severity,
                    IssueType::Invariant,
                    path,
                    format!(
                        "{}: {} (the rule could not be evaluated here: {e})",
                        c.key, c.human
                    ),
                ),
            }
        }
    }

    /// Checks the members of `obj` against the child rules of `node`.
    pub fn children(&mut self, node: &Node, obj: &Map<String, Value>, path: &Path, depth: usize) {
        self.children_at(node, obj, path, depth, &|_| true);
    }

    /// [`Self::children`] for the top-level child rules `keep` selects.
    pub fn children_where(
        &mut self,
        node: &Node,
        obj: &Map<String, Value>,
        path: &Path,
        keep: &dyn Fn(&Node) -> bool,
    ) {
        self.children_at(node, obj, path, 0, keep);
    }

    fn children_at(
        &mut self,
        node: &Node,
        obj: &Map<String, Value>,
        path: &Path,
        depth: usize,
        keep: &dyn Fn(&Node) -> bool,
    ) {
        for i in node.relevant(obj) {
            let child = &node.children[i];
            if !keep(child) {
                continue;
            }
            let items = self.items(child, obj, path);
            if let (Some(card), Some(base)) = (child.card, child.base)
                && card.narrows(base)
            {
                let n = items.len() as u32;
                let at = || path.field(child.choice_base().unwrap_or(&child.name));
                if n < card.min {
                    self.report(
                        Severity::Error,
                        IssueType::Required,
                        &at(),
                        format!("needs at least {} {}, found {n}", card.min, child.name),
                    );
                } else if card.max.is_some_and(|m| n > m) {
                    self.report(
                        Severity::Error,
                        IssueType::Structure,
                        &at(),
                        format!(
                            "allows at most {} {}, found {n}",
                            card.max_text(),
                            child.name
                        ),
                    );
                }
            }
            for item in &items {
                // A choice narrowed per type (`value[x]:valueQuantity`) has
                // that type's rules as a slice.
                let node = item
                    .choice
                    .and_then(|t| type_slice(child, t))
                    .unwrap_or(child);
                self.element(node, item.value, &item.path, depth);
            }
            if child.slicing.is_some() && !child.slices.is_empty() && child.choice_base().is_none()
            {
                self.slices(child, &items, path, depth);
            }
        }
    }

    /// The values of `child` in `obj`, refusing choice types the profile
    /// does not allow.
    fn items<'v>(
        &mut self,
        child: &Node,
        obj: &'v Map<String, Value>,
        path: &Path,
    ) -> Vec<Item<'v>> {
        let mut items = Vec::new();
        let mut push = |key: &str, v: &'v Value, choice: Option<&'v str>| {
            let at = path.field(key);
            match v {
                Value::Array(vs) => items.extend(vs.iter().enumerate().map(|(i, value)| Item {
                    value,
                    path: at.index(i),
                    choice,
                })),
                value => items.push(Item {
                    value,
                    path: at,
                    choice,
                }),
            }
        };
        let Some(base) = child.choice_base() else {
            if let Some(v) = obj.get(&child.name) {
                push(&child.name, v, None);
            }
            return items;
        };
        let mut refused = Vec::new();
        for (key, v) in obj {
            let Some(suffix) = key.strip_prefix(base) else {
                continue;
            };
            if !suffix.starts_with(|c: char| c.is_ascii_uppercase()) {
                continue;
            }
            let ty = crate::fhirpath::types::type_of_suffix(suffix);
            if !child.types.is_empty() && !child.types.iter().any(|t| t == ty) {
                refused.push((key.clone(), ty));
                continue;
            }
            push(key, v, Some(ty));
        }
        for (key, ty) in refused {
            self.report(
                Severity::Error,
                IssueType::Structure,
                &path.field(&key),
                format!(
                    "{ty} is not allowed here: the profile allows {}",
                    child.types.join(", ")
                ),
            );
        }
        items
    }

    /// Sorts the items of a sliced element into its slices and checks each
    /// slice's count and rules.
    fn slices(&mut self, child: &Node, items: &[Item<'_>], path: &Path, depth: usize) {
        let Some(slicing) = &child.slicing else {
            return;
        };
        if slicing.discriminators.contains(&Discriminator::Unsupported) {
            return;
        }
        let mut counts = vec![0u32; child.slices.len()];
        for item in items {
            // The values at each discriminator path, found once per item
            // rather than once per slice.
            let at: Vec<Vec<&Value>> = slicing
                .discriminators
                .iter()
                .map(|d| match d {
                    Discriminator::Value(p) | Discriminator::Profile(p) => values_at(item.value, p),
                    Discriminator::Unsupported => Vec::new(),
                })
                .collect();
            let slice = child.slices.iter().position(|s| {
                self.registry
                    .expects(&slicing.discriminators, s)
                    .iter()
                    .zip(&at)
                    .all(|(e, values)| e.admits(values))
            });
            match slice {
                Some(i) => {
                    counts[i] += 1;
                    self.element(&child.slices[i], item.value, &item.path, depth);
                }
                None if slicing.closed => self.report(
                    Severity::Error,
                    IssueType::Structure,
                    &item.path,
                    format!(
                        "matches none of the slices of {}, and the slicing is closed",
                        child.name
                    ),
                ),
                None => {}
            }
        }
        let at = path.field(&child.name);
        for (slice, n) in child.slices.iter().zip(counts) {
            let Some(card) = slice.card else { continue };
            let name = slice.slice_name.as_deref().unwrap_or_default();
            if n < card.min {
                self.report(
                    Severity::Error,
                    IssueType::Required,
                    &at,
                    format!("needs at least {} of slice {name}, found {n}", card.min),
                );
            } else if card.max.is_some_and(|m| n > m) {
                self.report(
                    Severity::Error,
                    IssueType::Structure,
                    &at,
                    format!(
                        "allows at most {} of slice {name}, found {n}",
                        card.max_text()
                    ),
                );
            }
        }
    }
}

impl Registry {
    /// What `slice` expects at each of `discriminators`, worked out once.
    fn expects<'n>(&self, discriminators: &[Discriminator], slice: &'n Node) -> &'n [Expect] {
        slice.expects.get_or_init(|| {
            discriminators
                .iter()
                .map(|d| self.expect(d, slice))
                .collect()
        })
    }

    /// What `slice` expects at one discriminator. A slice that fixes
    /// nothing at the discriminator's path takes any value there.
    fn expect(&self, d: &Discriminator, slice: &Node) -> Expect {
        match d {
            Discriminator::Value(path) => {
                // A slice that does not spell out its children (an
                // extension slice) has them in the profile of its type.
                let rule = descend(slice, path).or_else(|| {
                    slice
                        .type_profiles
                        .iter()
                        .find_map(|u| self.profile(u))
                        .and_then(|p| descend(&p.root, path))
                });
                match rule.map(|r| (&r.fixed, &r.pattern)) {
                    Some((Some(f), _)) => Expect::Exact(f.clone()),
                    Some((None, Some(p))) => Expect::Pattern(p.clone()),
                    // Extensions are sliced by url, and a slice names its
                    // extension's definition, whose url is the canonical.
                    _ if path.len() == 1 && path[0] == "url" => slice
                        .type_profiles
                        .first()
                        .map_or(Expect::Any, |u| Expect::Exact(Value::String(u.clone()))),
                    // A slice that fixes nothing at the path itself but
                    // fixes members below it (`category:radiology` with a
                    // fixed `coding.system` and `coding.code`) is told
                    // apart by those, as a pattern.
                    _ => rule
                        .and_then(implied_pattern)
                        .map_or(Expect::Any, Expect::Pattern),
                }
            }
            Discriminator::Profile(path) => match descend(slice, path) {
                Some(rule) if !rule.type_profiles.is_empty() => Expect::Profiles(
                    rule.type_profiles
                        .iter()
                        .map(|u| (u.clone(), self.profile(u).map(|p| p.type_name.clone())))
                        .collect(),
                ),
                _ => Expect::Any,
            },
            Discriminator::Unsupported => Expect::Never,
        }
    }
}

impl Expect {
    /// Whether the values found at the discriminator's path satisfy this.
    fn admits(&self, values: &[&Value]) -> bool {
        match self {
            Expect::Any => true,
            Expect::Never => false,
            Expect::Exact(e) => values.contains(&e),
            Expect::Pattern(p) => values.iter().any(|v| matches_pattern(p, v)),
            Expect::Profiles(profiles) => values.iter().any(|r| {
                let claims: Vec<&str> = r["meta"]["profile"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|c| c.split('|').next().unwrap_or(c))
                    .collect();
                profiles.iter().any(|(url, type_name)| {
                    claims.contains(&url.as_str())
                        || (claims.is_empty()
                            && type_name.as_deref().is_some_and(|t| r["resourceType"] == t))
                })
            }),
        }
    }
}

/// The pattern a node's fixed and pattern descendants spell out together;
/// `None` when they fix nothing.
fn implied_pattern(node: &Node) -> Option<Value> {
    if let Some(v) = node.fixed.as_ref().or(node.pattern.as_ref()) {
        return Some(v.clone());
    }
    let mut obj = Map::new();
    for c in &node.children {
        if let Some(v) = implied_pattern(c) {
            // JSON keeps the base's shape: an element the base repeats
            // is an array even where the profile allows one.
            let repeats = c.base.or(c.card).is_none_or(|card| card.max != Some(1));
            obj.insert(
                c.name.clone(),
                if repeats { Value::Array(vec![v]) } else { v },
            );
        }
    }
    (!obj.is_empty()).then_some(Value::Object(obj))
}

/// The rule of `node` at a discriminator path; the node itself for `$this`.
fn descend<'n>(node: &'n Node, path: &[String]) -> Option<&'n Node> {
    path.iter().try_fold(node, |n, seg| n.child(seg))
}

/// The JSON values at a discriminator path, arrays flattened.
fn values_at<'v>(v: &'v Value, path: &[String]) -> Vec<&'v Value> {
    let mut at = vec![v];
    for seg in path {
        at = at
            .into_iter()
            .filter_map(|v| v.get(seg))
            .flat_map(|v| match v {
                Value::Array(vs) => vs.iter().collect(),
                v => vec![v],
            })
            .collect();
    }
    at
}

/// FHIR pattern matching: every member the pattern gives is present with a
/// matching value; a pattern list's items each match some item.
pub(crate) fn matches_pattern(pattern: &Value, value: &Value) -> bool {
    match (pattern, value) {
        (Value::Object(p), Value::Object(v)) => p
            .iter()
            .all(|(k, pv)| v.get(k).is_some_and(|vv| matches_pattern(pv, vv))),
        (Value::Array(p), Value::Array(v)) => p
            .iter()
            .all(|pv| v.iter().any(|vv| matches_pattern(pv, vv))),
        (Value::Array(p), v) => p.len() == 1 && matches_pattern(&p[0], v),
        (p, Value::Array(v)) => v.iter().any(|vv| matches_pattern(p, vv)),
        (p, v) => p == v,
    }
}

/// The code of `value` (a code, Coding or CodeableConcept) that is not in
/// `codes`, as text; `None` when it is in, or carries no code.
fn code_outside(value: &Value, codes: &super::valueset::Codes) -> Option<String> {
    match value {
        Value::String(code) => {
            (!codes.iter().any(|(_, c)| c == code)).then(|| format!("code {code:?}"))
        }
        Value::Object(o) if o.contains_key("coding") => {
            let codings: Vec<&Value> = o["coding"].as_array().into_iter().flatten().collect();
            if codings.is_empty() || codings.iter().any(|c| code_outside(c, codes).is_none()) {
                return None;
            }
            code_outside(codings[0], codes)
        }
        Value::Object(o) => {
            let code = o.get("code")?.as_str()?;
            let system = o.get("system").and_then(Value::as_str).unwrap_or_default();
            (!codes.contains(&(system.to_owned(), code.to_owned())))
                .then(|| format!("{system}#{code}"))
        }
        _ => None,
    }
}

/// The slice of a choice element for one of its types (`value[x]` sliced
/// as `valueQuantity`), found without building its name.
fn type_slice<'n>(child: &'n Node, ty: &str) -> Option<&'n Node> {
    let base = child.choice_base()?;
    child.slices.iter().find(|s| {
        s.slice_name
            .as_deref()
            .and_then(|n| n.strip_prefix(base))
            .is_some_and(|rest| {
                rest.len() == ty.len()
                    && rest
                        .get(..1)
                        .zip(ty.get(..1))
                        .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
                    && rest.get(1..) == ty.get(1..)
            })
    })
}

#[cfg(test)]
fn upper_first(t: &str) -> String {
    let mut cs = t.chars();
    cs.next()
        .map(|c| c.to_ascii_uppercase().to_string() + cs.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns_match_subsets() {
        let p = json!({"coding": [{"system": "urn:s", "code": "a"}]});
        assert!(matches_pattern(
            &p,
            &json!({"coding": [{"system": "urn:t", "code": "b"}, {"system": "urn:s", "code": "a", "display": "A"}], "text": "x"})
        ));
        assert!(!matches_pattern(
            &p,
            &json!({"coding": [{"system": "urn:s", "code": "b"}]})
        ));
        assert!(!matches_pattern(&p, &json!({"text": "a"})));
    }

    #[test]
    fn choice_suffixes_name_types() {
        assert_eq!(
            crate::fhirpath::types::type_of_suffix("DateTime"),
            "dateTime"
        );
        assert_eq!(
            crate::fhirpath::types::type_of_suffix("CodeableConcept"),
            "CodeableConcept"
        );
        assert_eq!(crate::fhirpath::types::type_of_suffix("String"), "string");
        assert_eq!(upper_first("dateTime"), "DateTime");
    }
}
