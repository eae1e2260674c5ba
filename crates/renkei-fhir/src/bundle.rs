//! Bundles: the invariants that are not element tables (FHIR R4 §2.36.5,
//! Bundle constraints bdl-3 and bdl-7), and [`BundleValidator`], which
//! checks a Bundle one entry at a time.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::outcome::{IssueType, Outcome};
use crate::path::Path;

/// Check the invariants of the Bundle `obj` located at `path`.
pub(crate) fn check(obj: &Map<String, Value>, path: &Path, out: &mut Outcome) {
    let Some(entries) = obj.get("entry").and_then(Value::as_array) else {
        return;
    };
    let mut rules = EntryRules::new(obj.get("type").and_then(Value::as_str).unwrap_or(""));
    for (i, entry) in entries.iter().enumerate() {
        if let Some(e) = entry.as_object() {
            rules.check(e, &path.field("entry").index(i), out);
        }
    }
}

/// bdl-3 and bdl-7, applied entry by entry. The fullUrls seen are a set:
/// a list scanned per entry made a Bundle of n entries cost n² compares.
struct EntryRules {
    ty: String,
    /// `(fullUrl, meta.versionId)` of the entries seen so far.
    seen: HashSet<(String, Option<String>)>,
}

impl EntryRules {
    fn new(ty: &str) -> Self {
        Self {
            ty: ty.to_owned(),
            seen: HashSet::new(),
        }
    }

    fn check(&mut self, e: &Map<String, Value>, p: &Path, out: &mut Outcome) {
        let ty = self.ty.as_str();
        // bdl-3: entry.request mandatory for batch/transaction/history,
        // otherwise prohibited.
        let needs_request = matches!(ty, "batch" | "transaction" | "history");
        match (needs_request, e.contains_key("request")) {
            (true, false) => out.error(
                IssueType::Required,
                &p.field("request"),
                format!("entries of a {ty} Bundle need a request (bdl-3)"),
            ),
            (false, true) if !ty.is_empty() => out.error(
                IssueType::Invalid,
                &p.field("request"),
                format!("entries of a {ty} Bundle must not have a request (bdl-3)"),
            ),
            _ => {}
        }
        // bdl-7: fullUrl unique within a Bundle unless the versions differ.
        if let Some(full) = e.get("fullUrl").and_then(Value::as_str) {
            let version = e
                .get("resource")
                .and_then(|r| r.get("meta"))
                .and_then(|m| m.get("versionId"))
                .and_then(Value::as_str);
            if !self
                .seen
                .insert((full.to_owned(), version.map(str::to_owned)))
            {
                out.error(
                    IssueType::Invalid,
                    &p.field("fullUrl"),
                    format!("fullUrl {full:?} appears more than once (bdl-7)"),
                );
            }
        }
    }
}

/// Validates a Bundle one entry at a time, so that a caller streaming a
/// large Bundle never holds it whole as a [`Value`] tree: [`Self::start`]
/// checks the Bundle without its entries, [`Self::entry`] each entry as
/// `Bundle.entry[i]`. Together they report the issues [`crate::validate`]
/// reports for the whole Bundle.
///
/// ```
/// use renkei_fhir::BundleValidator;
///
/// let shell = serde_json::json!({"resourceType": "Bundle", "type": "transaction"});
/// let (mut bundle, own) = BundleValidator::start(&shell);
/// assert!(own.is_accepted());
/// let entry = serde_json::json!({
///     "fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
///     "resource": {"resourceType": "Patient", "birthDate": "1970-02-30"},
///     "request": {"method": "POST", "url": "Patient"}
/// });
/// let out = bundle.entry(7, &entry);
/// let at: Vec<&str> = out.errors().map(|i| i.expression.as_str()).collect();
/// assert_eq!(at, ["Bundle.entry[7].resource.birthDate"]);
/// // The same fullUrl again breaks bdl-7.
/// assert!(!bundle.entry(8, &entry).is_accepted());
/// ```
pub struct BundleValidator {
    rules: EntryRules,
}

impl std::fmt::Debug for BundleValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleValidator")
            .field("type", &self.rules.ty)
            .field("entries_with_full_url", &self.rules.seen.len())
            .finish()
    }
}

impl BundleValidator {
    /// Validates `shell`, the Bundle without its `entry` element, and
    /// returns the validator for its entries with the Bundle's own issues.
    pub fn start(shell: &Value) -> (Self, Outcome) {
        let mut own = Outcome::default();
        crate::validator::bundle_shell(shell, &mut own);
        let ty = shell.get("type").and_then(Value::as_str).unwrap_or("");
        (
            Self {
                rules: EntryRules::new(ty),
            },
            own,
        )
    }

    /// What the Bundle's profiles say about its entries as a whole (their
    /// number, slices, and the Bundle's invariants), once all were read:
    /// `whole` is the Bundle with its entries. Entry by entry, the
    /// profiles of each resource were already checked by [`Self::entry`].
    pub fn finish(&self, whole: &Value) -> Outcome {
        let mut out = Outcome::default();
        crate::conformance::Registry::bundled().check(
            whole,
            "Bundle",
            &Path::root("Bundle"),
            &mut out,
            crate::conformance::Scope::Entries,
        );
        out
    }

    /// Validates one entry, located `Bundle.entry[index]`: its elements,
    /// its resource, and the Bundle's rules about entries (a request as
    /// the Bundle's type needs, a fullUrl not seen before).
    pub fn entry(&mut self, index: usize, entry: &Value) -> Outcome {
        let mut out = Outcome::default();
        let path = Path::root("Bundle").field("entry").index(index);
        crate::validator::bundle_entry(entry, &path, &mut out);
        if let Some(obj) = entry.as_object() {
            self.rules.check(obj, &path, &mut out);
        }
        out
    }
}
