//! A profile's snapshot as a tree of element rules.
//!
//! A StructureDefinition's snapshot is a flat list of ElementDefinitions in
//! document order, named by `id` (`Observation.code.coding:jlac10.system`).
//! Checking a resource walks its JSON, so the list is folded once into a
//! tree whose children and slices can be looked up by name.

use serde_json::Value;

/// One cardinality bound: `max` is `None` for `*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Card {
    pub min: u32,
    pub max: Option<u32>,
}

impl Card {
    fn of(v: &Value) -> Option<Self> {
        let min = v.get("min").and_then(Value::as_u64)? as u32;
        let max = match v.get("max").and_then(Value::as_str)? {
            "*" => None,
            n => Some(n.parse().ok()?),
        };
        Some(Card { min, max })
    }

    /// Whether `self` says more than `base` (so a violation is the
    /// profile's, not one the base R4 walk already reports).
    pub fn narrows(self, base: Card) -> bool {
        self.min > base.min
            || match (self.max, base.max) {
                (Some(m), Some(b)) => m < b,
                (Some(_), None) => true,
                _ => false,
            }
    }

    pub fn max_text(self) -> String {
        self.max.map_or_else(|| "*".to_owned(), |m| m.to_string())
    }
}

/// How a sliced element tells its slices apart (ElementDefinition.slicing).
#[derive(Clone, Debug)]
pub(crate) struct Slicing {
    pub discriminators: Vec<Discriminator>,
    pub closed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Discriminator {
    /// `value` or `pattern` at a path: the slice's fixed or pattern value
    /// there must match.
    Value(Vec<String>),
    /// `profile` at a path naming a resource: the resource must claim (or
    /// be of the type of) the slice's target profile.
    Profile(Vec<String>),
    /// `type`, `exists`, or a path we cannot follow (`resolve()`): the
    /// slices of this element are not told apart, so not counted.
    Unsupported,
}

/// What a slice expects at one discriminator.
#[derive(Clone, Debug)]
pub(crate) enum Expect {
    /// The slice fixes nothing there: any value.
    Any,
    /// One of the values there equals this.
    Exact(Value),
    /// One of the values there matches this pattern.
    Pattern(Value),
    /// The resource there claims one of these profiles, or claims none and
    /// is of the type of one (the type, when the profile is known).
    Profiles(Vec<(String, Option<String>)>),
    /// Told apart by nothing we can follow: matches nothing.
    Never,
}

/// A binding to a value set.
#[derive(Clone, Debug)]
pub(crate) struct Binding {
    pub required: bool,
    pub value_set: String,
}

/// A FHIRPath invariant.
#[derive(Clone, Debug)]
pub(crate) struct Constraint {
    pub key: String,
    pub error: bool,
    pub human: String,
}

/// The rules of one element (or of one slice of it).
#[derive(Clone, Debug, Default)]
pub(crate) struct Node {
    /// The element id (`Observation.code.coding:jlac10.system`).
    pub id: String,
    /// The last path segment: `coding`, `value[x]`.
    pub name: String,
    pub slice_name: Option<String>,
    pub card: Option<Card>,
    pub base: Option<Card>,
    /// Type codes allowed (`CodeableConcept`, `dateTime`, `Reference`).
    pub types: Vec<String>,
    /// Profiles of the type (`type.profile`): an extension slice names its
    /// definition here; a complex type names its datatype profile.
    pub type_profiles: Vec<String>,
    /// `targetProfile` of a Reference or of a resource slot.
    pub target_profiles: Vec<String>,
    pub fixed: Option<Value>,
    pub pattern: Option<Value>,
    pub binding: Option<Binding>,
    pub constraints: Vec<Constraint>,
    /// `constraints`, parsed; `None` for one that uses a function the
    /// evaluator knowingly lacks (`htmlChecks()`), counted in coverage.
    pub compiled: Vec<Option<crate::fhirpath::Expr>>,
    pub slicing: Option<Slicing>,
    pub slices: Vec<Node>,
    pub children: Vec<Node>,
    /// Why a violation of this element's fixed value is a warning: a known
    /// divergence between the packages and their own examples.
    pub divergence: Option<String>,
    /// `children` by name (choice elements excluded), so that a resource's
    /// members find their rules without trying every child.
    pub lookup: std::collections::HashMap<String, usize>,
    /// The choice children, by the name before `[x]`.
    pub choices: Vec<(String, usize)>,
    /// For a slice: what it expects at each discriminator of its slicing,
    /// worked out on first use (it may need another profile, an
    /// extension's definition), so that sorting an item into slices
    /// compares values instead of rebuilding patterns.
    pub expects: std::sync::OnceLock<Vec<Expect>>,
    /// Children whose cardinality the profile narrows: checked even when
    /// absent.
    pub narrowed: Vec<usize>,
}

impl Node {
    /// Fills the lookups of this node and every node below it.
    fn index(&mut self) {
        for (i, c) in self.children.iter().enumerate() {
            match c.choice_base() {
                Some(base) => self.choices.push((base.to_owned(), i)),
                None => {
                    self.lookup.insert(c.name.clone(), i);
                }
            }
            if let (Some(card), Some(base)) = (c.card, c.base)
                && card.narrows(base)
            {
                self.narrowed.push(i);
            }
        }
        for n in self.children.iter_mut().chain(self.slices.iter_mut()) {
            n.index();
        }
    }

    /// The child rules the members of `obj` name, and the narrowed ones,
    /// in the profile's order.
    pub fn relevant(&self, obj: &serde_json::Map<String, Value>) -> Vec<usize> {
        let mut hit = vec![false; self.children.len()];
        for i in &self.narrowed {
            hit[*i] = true;
        }
        for key in obj.keys() {
            if let Some(i) = self.lookup.get(key) {
                hit[*i] = true;
            } else if let Some((_, i)) = self.choices.iter().find(|(base, _)| {
                key.strip_prefix(base.as_str())
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
            }) {
                hit[*i] = true;
            }
        }
        hit.iter()
            .enumerate()
            .filter_map(|(i, h)| h.then_some(i))
            .collect()
    }

    /// The node of element `id`, anywhere below this one.
    pub fn find_mut(&mut self, id: &str) -> Option<&mut Node> {
        if self.id == id {
            return Some(self);
        }
        self.children
            .iter_mut()
            .chain(self.slices.iter_mut())
            .find_map(|n| n.find_mut(id))
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    #[cfg(test)]
    pub fn slice(&self, name: &str) -> Option<&Node> {
        self.slices
            .iter()
            .find(|s| s.slice_name.as_deref() == Some(name))
    }

    /// Whether the element is a choice (`value[x]`).
    pub fn choice_base(&self) -> Option<&str> {
        self.name.strip_suffix("[x]")
    }

    /// This node's rules for one element definition.
    fn set(&mut self, ed: &Value) {
        self.id = ed["id"].as_str().unwrap_or_default().to_owned();
        self.card = Card::of(ed);
        self.base = ed.get("base").and_then(Card::of);
        self.slice_name = ed["sliceName"].as_str().map(str::to_owned);
        for t in ed["type"].as_array().into_iter().flatten() {
            if let Some(code) = t["code"].as_str() {
                // Primitive `id`/`value` elements are typed with a FHIRPath
                // system URL; they are checked by the base walk.
                self.types
                    .push(code.rsplit('.').next().unwrap_or(code).to_owned());
            }
            for (key, into) in [
                ("profile", &mut self.type_profiles),
                ("targetProfile", &mut self.target_profiles),
            ] {
                for p in t[key].as_array().into_iter().flatten() {
                    if let Some(p) = p.as_str() {
                        into.push(p.to_owned());
                    }
                }
            }
        }
        if let Some(obj) = ed.as_object() {
            for (k, v) in obj {
                if k.starts_with("fixed") {
                    self.fixed = Some(v.clone());
                } else if k.starts_with("pattern") {
                    self.pattern = Some(v.clone());
                }
            }
        }
        let b = &ed["binding"];
        if let Some(vs) = b["valueSet"].as_str() {
            self.binding = Some(Binding {
                required: b["strength"] == "required",
                value_set: vs.split('|').next().unwrap_or(vs).to_owned(),
            });
        }
        for c in ed["constraint"].as_array().into_iter().flatten() {
            // Best-practice guidance (dom-6 "should have narrative") is
            // advice to authors, not a rule a receiver enforces.
            let best_practice = c["extension"].as_array().into_iter().flatten().any(|e| {
                e["url"]
                    .as_str()
                    .is_some_and(|u| u.ends_with("elementdefinition-bestpractice"))
                    && e["valueBoolean"] == true
            });
            let (Some(key), Some(expression)) = (c["key"].as_str(), c["expression"].as_str())
            else {
                continue;
            };
            // ele-1 ("all elements must have a value or children") is
            // on every element; the base walk refuses empty elements.
            if best_practice || key == "ele-1" {
                continue;
            }
            self.compiled
                .push(crate::fhirpath::Expr::parse(expression).ok());
            self.constraints.push(Constraint {
                key: key.to_owned(),
                error: c["severity"] == "error",
                human: c["human"].as_str().unwrap_or_default().to_owned(),
            });
        }
        if let Some(s) = ed.get("slicing") {
            let discriminators = s["discriminator"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    let path = d["path"].as_str().unwrap_or_default();
                    let segments = || -> Option<Vec<String>> {
                        if path == "$this" {
                            return Some(Vec::new());
                        }
                        let segs: Vec<String> = path.split('.').map(str::to_owned).collect();
                        segs.iter()
                            .all(|s| s.chars().all(|c| c.is_ascii_alphanumeric()))
                            .then_some(segs)
                    };
                    match (d["type"].as_str(), segments()) {
                        (Some("value" | "pattern"), Some(p)) => Discriminator::Value(p),
                        (Some("profile"), Some(p)) => Discriminator::Profile(p),
                        _ => Discriminator::Unsupported,
                    }
                })
                .collect();
            self.slicing = Some(Slicing {
                discriminators,
                closed: s["rules"] == "closed",
            });
        }
    }
}

/// One segment of an element id: `coding:jlac10` → (`coding`, `jlac10`).
fn segment(s: &str) -> (&str, Option<&str>) {
    match s.split_once(':') {
        Some((name, slice)) => (name, Some(slice)),
        None => (s, None),
    }
}

/// Splits an element id at the dots between segments. A slice name may
/// itself hold a dot only in theory; the bundled packages have none, and
/// an id that does not fold is reported by the caller as not loaded.
fn segments(id: &str) -> Vec<&str> {
    id.split('.').collect()
}

/// Folds a snapshot's elements into a tree; `None` when an element names a
/// parent that is not there (a malformed snapshot).
pub(crate) fn build(elements: &[Value]) -> Option<Node> {
    let first = elements.first()?;
    let root_id = first["id"].as_str()?;
    let mut root = Node {
        name: root_id.to_owned(),
        ..Node::default()
    };
    root.set(first);
    for ed in &elements[1..] {
        let id = ed["id"].as_str()?;
        let segs = segments(id);
        if segs.first() != Some(&root_id) || segs.len() < 2 {
            return None;
        }
        let mut at = &mut root;
        let (last, parents) = segs[1..].split_last()?;
        for s in parents {
            let (name, slice) = segment(s);
            at = at.children.iter_mut().find(|c| c.name == name)?;
            if let Some(slice) = slice {
                at = at
                    .slices
                    .iter_mut()
                    .find(|c| c.slice_name.as_deref() == Some(slice))?;
            }
        }
        let (name, slice) = segment(last);
        let node = match slice {
            None => {
                at.children.push(Node {
                    name: name.to_owned(),
                    ..Node::default()
                });
                at.children.last_mut()?
            }
            Some(_) => {
                let parent = at.children.iter_mut().find(|c| c.name == name)?;
                parent.slices.push(Node {
                    name: name.to_owned(),
                    ..Node::default()
                });
                parent.slices.last_mut()?
            }
        };
        node.set(ed);
    }
    root.index();
    Some(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn folds_children_and_slices() {
        let els = vec![
            json!({"id": "Observation", "path": "Observation", "min": 0, "max": "*"}),
            json!({"id": "Observation.code", "path": "Observation.code", "min": 1, "max": "1",
                   "base": {"min": 1, "max": "1"}}),
            json!({"id": "Observation.code.coding", "min": 1, "max": "*",
                   "slicing": {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"}}),
            json!({"id": "Observation.code.coding:local", "sliceName": "local", "min": 1, "max": "1"}),
            json!({"id": "Observation.code.coding:local.system", "min": 1, "max": "1",
                   "fixedUri": "urn:local"}),
        ];
        let root = build(&els).expect("folds");
        let coding = root
            .child("code")
            .expect("code")
            .child("coding")
            .expect("coding");
        assert_eq!(
            coding.slicing.as_ref().expect("sliced").discriminators,
            [Discriminator::Value(vec!["system".to_owned()])]
        );
        let local = coding.slice("local").expect("slice");
        assert_eq!(
            local.card,
            Some(Card {
                min: 1,
                max: Some(1)
            })
        );
        assert_eq!(
            local.child("system").expect("system").fixed,
            Some(json!("urn:local"))
        );
    }

    #[test]
    fn an_orphan_element_is_a_malformed_snapshot() {
        let els = vec![
            json!({"id": "Patient", "min": 0, "max": "*"}),
            json!({"id": "Patient.name.family", "min": 0, "max": "1"}),
        ];
        assert!(build(&els).is_none());
    }
}
