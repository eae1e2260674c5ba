//! Validation driven by the published profiles.
//!
//! The StructureDefinitions of the bundled packages (JP Core, JP-CLINS:
//! [`crate::package`]) are compiled once into element trees, and a resource
//! is checked against every profile it claims in `meta.profile`, or, when
//! it claims none the platform knows, against the JP Core profile of its
//! type (`JP_<Type>`). A new profile version is a new package file: no code
//! names an element of a profile.
//!
//! This layer runs after the base R4 walk and reports only what a profile
//! adds (see `walk`). What it cannot check it skips knowingly, and
//! [`Registry::coverage`] counts what was skipped: value sets that include
//! a national master by system (the terminology packages are not
//! published where we can fetch them), and slicings told apart by `type`
//! or `exists`.

mod tree;
mod valueset;
mod walk;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::outcome::{IssueType, Outcome};
use crate::package::Packages;
use crate::path::Path;
use tree::Node;
use valueset::Codes;

/// How much of a resource's profiles to check: a Bundle streamed entry by
/// entry is checked in two halves, its shell first and what concerns its
/// entries as a whole (their count, slices and the Bundle's invariants)
/// once all have been read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    All,
    Shell,
    Entries,
}

/// One compiled profile.
#[derive(Debug)]
pub(crate) struct Profile {
    /// The profile's `name` (`JP_MedicationRequest_eCS`), for messages.
    pub name: String,
    /// The type it constrains (`MedicationRequest`, `Extension`).
    pub type_name: String,
    /// A resource profile (as opposed to a datatype or extension).
    pub is_resource: bool,
    pub root: Node,
}

/// Every bundled profile, compiled, and the value sets their required
/// bindings name.
#[derive(Debug, Default)]
pub struct Registry {
    profiles: BTreeMap<String, Profile>,
    /// Expansion per bound value set; `None` when it cannot be enumerated
    /// from the packages.
    codes: BTreeMap<String, Option<Codes>>,
    malformed: Vec<String>,
}

/// What the registry can and cannot check, for tests and operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// Profiles compiled.
    pub profiles: usize,
    /// Profiles whose snapshot could not be folded (named).
    pub malformed: Vec<String>,
    /// Required bindings whose value set the packages enumerate.
    pub value_sets_checked: usize,
    /// Required bindings whose value set they do not (named).
    pub value_sets_unchecked: Vec<String>,
    /// Distinct invariant keys evaluated.
    pub invariants_checked: usize,
    /// Invariant keys that use a function the evaluator lacks (named).
    pub invariants_unsupported: Vec<String>,
}

impl Registry {
    /// Compiles the profiles of `packages`.
    pub fn compile(packages: &Packages) -> Self {
        let mut reg = Registry::default();
        let mut value_sets = BTreeMap::new();
        let mut code_systems = BTreeMap::new();
        // Later packages are searched last, so the first definition of a
        // URL wins, as in `Packages::structure_definition`.
        for p in packages.packages().iter().rev() {
            value_sets.extend(p.value_sets.iter().map(|(k, v)| (k.clone(), v)));
            code_systems.extend(p.code_systems.iter().map(|(k, v)| (k.clone(), v)));
            for (url, sd) in &p.structure_definitions {
                let Some(elements) = sd["snapshot"]["element"].as_array() else {
                    reg.malformed.push(url.clone());
                    continue;
                };
                let Some(root) = tree::build(elements) else {
                    reg.malformed.push(url.clone());
                    continue;
                };
                reg.profiles.insert(
                    url.clone(),
                    Profile {
                        name: sd["name"].as_str().unwrap_or(url).to_owned(),
                        type_name: sd["type"].as_str().unwrap_or_default().to_owned(),
                        is_resource: sd["kind"] == "resource",
                        root,
                    },
                );
            }
        }
        reg.diverge();
        let mut bound = Vec::new();
        for p in reg.profiles.values() {
            required_bindings(&p.root, &mut bound);
        }
        for vs in bound {
            reg.codes
                .entry(vs.clone())
                .or_insert_with(|| valueset::expand(&vs, &value_sets, &code_systems));
        }
        reg
    }

    /// Marks the elements of the bundled divergence list
    /// (`packages/divergences.json`).
    fn diverge(&mut self) {
        let list: Value = serde_json::from_str(include_str!("../../packages/divergences.json"))
            .unwrap_or_default();
        for d in list["divergences"].as_array().into_iter().flatten() {
            let (Some(profile), Some(element)) = (d["profile"].as_str(), d["element"].as_str())
            else {
                continue;
            };
            let node = self
                .profiles
                .get_mut(profile)
                .and_then(|p| p.root.find_mut(element));
            match node {
                Some(n) => n.divergence = d["reason"].as_str().map(str::to_owned),
                None => self
                    .malformed
                    .push(format!("divergence {profile} {element}: no such element")),
            }
        }
    }

    /// The bundled packages, compiled once per process.
    pub fn bundled() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| match Packages::bundled() {
            Ok(p) => Registry::compile(&p),
            // The packages are compiled into the binary and read by a
            // test; failing here would be a broken build, not input.
            Err(e) => panic!("the bundled FHIR packages do not load: {e}"),
        })
    }

    pub(crate) fn profile(&self, canonical: &str) -> Option<&Profile> {
        self.profiles
            .get(canonical.split('|').next().unwrap_or(canonical))
    }

    /// What this registry checks and what it knowingly skips.
    pub fn coverage(&self) -> Coverage {
        let mut checked = std::collections::BTreeSet::new();
        let mut unsupported = std::collections::BTreeSet::new();
        for p in self.profiles.values() {
            invariant_keys(&p.root, &mut checked, &mut unsupported);
        }
        Coverage {
            invariants_checked: checked.len(),
            invariants_unsupported: unsupported.into_iter().collect(),
            profiles: self.profiles.len(),
            malformed: self.malformed.clone(),
            value_sets_checked: self.codes.values().filter(|c| c.is_some()).count(),
            value_sets_unchecked: self
                .codes
                .iter()
                .filter(|(_, c)| c.is_none())
                .map(|(k, _)| k.clone())
                .collect(),
        }
    }

    /// Checks `resource` (of type `rt`, located at `path`) against the
    /// profiles it claims, or the JP Core profile of its type.
    pub(crate) fn check(
        &self,
        resource: &Value,
        rt: &str,
        path: &Path,
        out: &mut Outcome,
        scope: Scope,
    ) {
        let mut applied = 0;
        let claims = resource["meta"]["profile"].as_array();
        for claim in claims.into_iter().flatten().filter_map(Value::as_str) {
            match self.profile(claim) {
                Some(p) if p.is_resource && p.type_name == rt => {
                    self.apply(p, resource, path, out, true, scope);
                    applied += 1;
                }
                // Said once, with the shell.
                _ if scope == Scope::Entries => {}
                Some(p) => out.error(
                    IssueType::Invalid,
                    &path.field("meta").field("profile"),
                    format!("claims {claim}, a profile of {}, not of {rt}", p.type_name),
                ),
                None => out.warning(
                    IssueType::NotSupported,
                    &path.field("meta").field("profile"),
                    format!("profile {claim} is not known here; checked against JP Core instead"),
                ),
            }
        }
        if applied == 0
            && let Some(p) = self.profile(&format!(
                "http://jpfhir.jp/fhir/core/StructureDefinition/JP_{rt}"
            ))
        {
            self.apply(p, resource, path, out, false, scope);
        }
    }

    fn apply(
        &self,
        profile: &Profile,
        resource: &Value,
        path: &Path,
        out: &mut Outcome,
        claimed: bool,
        scope: Scope,
    ) {
        let Some(obj) = resource.as_object() else {
            return;
        };
        let mut walk = walk::Walk {
            registry: self,
            profile,
            resource,
            out,
            claimed,
        };
        if scope != Scope::Shell {
            walk.invariants(&profile.root, resource, path);
        }
        match scope {
            Scope::All => walk.children(&profile.root, obj, path, 0),
            // Only the half in scope: the `entry` rules, or the others.
            Scope::Shell => walk.children_where(&profile.root, obj, path, &|c| c.name != "entry"),
            Scope::Entries => walk.children_where(&profile.root, obj, path, &|c| c.name == "entry"),
        }
    }
}

fn invariant_keys(
    node: &Node,
    checked: &mut std::collections::BTreeSet<String>,
    unsupported: &mut std::collections::BTreeSet<String>,
) {
    for (c, e) in node.constraints.iter().zip(&node.compiled) {
        let into = if e.is_some() {
            &mut *checked
        } else {
            &mut *unsupported
        };
        into.insert(c.key.clone());
    }
    for n in node.children.iter().chain(&node.slices) {
        invariant_keys(n, checked, unsupported);
    }
}

fn required_bindings(node: &Node, into: &mut Vec<String>) {
    if let Some(b) = &node.binding
        && b.required
    {
        into.push(b.value_set.clone());
    }
    for n in node.children.iter().chain(&node.slices) {
        required_bindings(n, into);
    }
}
