//! What one unit of input becomes, before anything is stored: parsed,
//! validated, Bundles expanded as the specification says, and flattened
//! into identity attributes and lake rows. Pure CPU work, run off the
//! async threads one chunk at a time.
//!
//! A Bundle is never parsed into one tree: its entries are raw slices of
//! the input, counted and measured as they are read, then parsed one at a
//! time (`bundle`).

use std::cell::Cell;
use std::collections::HashMap;

use renkei_core::Timestamp;
use renkei_fhir::flatten::{self, Flattened, Lineage};
use renkei_fhir::{BundleValidator, Issue, IssueType, Outcome, Severity};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::input::{Item, trim};
use crate::limits::{Limit, Limits};
use crate::quality::Sample;
use crate::submission::Location;
use crate::{Error, Result};

/// What became of one resource (or one Bundle entry).
#[derive(Debug)]
pub(crate) struct Processed {
    pub(crate) location: Location,
    pub(crate) resource_type: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    /// Refused, with the FHIR OperationOutcome to send back and a short
    /// reason per error for the quality report.
    Rejected {
        outcome: Value,
        reasons: Vec<String>,
    },
    /// Valid and flattened.
    Accepted(Box<Accepted>),
    /// A Bundle `DELETE` of `resource_type/id`.
    Delete,
    /// Warnings about a Bundle as a whole (its profile's advice, a
    /// divergence it was accepted under), for the receipt: no resource.
    Notices(Vec<String>),
}

#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) flattened: Flattened,
    /// `meta.lastUpdated`, µs since the epoch.
    pub(crate) last_updated: Option<i64>,
    /// Identifies the content: the same bytes sent again are unchanged.
    pub(crate) hash: [u8; 16],
    /// The resource as accepted, kept for the pending area.
    pub(crate) json: Vec<u8>,
    pub(crate) sample: Sample,
    /// Warnings of the validator (an unknown code in a known system, …),
    /// each as `element: what`, returned to the sender in the receipt.
    pub(crate) warnings: Vec<String>,
}

/// Processes a chunk of input. An error refuses the whole submission: a
/// document that is not FHIR JSON, or a part over a limit.
pub(crate) fn chunk(
    items: Vec<Item>,
    lineage: &Lineage,
    limits: &Limits,
) -> Result<Vec<Processed>> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Item::Line { line, bytes } => {
                one(&bytes, Unit::Line(line), lineage, limits, &mut out)?;
            }
            Item::Document(bytes) => {
                one(trim(&bytes), Unit::Document, lineage, limits, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// Where a unit of input came from.
#[derive(Clone, Copy)]
enum Unit {
    /// An NDJSON line: a bad one is refused on its own.
    Line(u64),
    /// The whole body: if it is not FHIR JSON, the body is refused.
    Document,
}

impl Unit {
    fn line(self) -> Option<u64> {
        match self {
            Unit::Line(l) => Some(l),
            Unit::Document => None,
        }
    }

    /// `what` located in this unit, for errors: `Bundle.entry[3] (line 7)`.
    fn locate(self, what: &str) -> String {
        match self {
            Unit::Line(l) => format!("{what} (line {l})"),
            Unit::Document => format!("{what} (the document)"),
        }
    }
}

/// Re-flattens a resource held pending, under the lineage of the
/// submission it arrived in.
pub(crate) fn reflatten(json: &[u8], lineage: &Lineage) -> Option<Flattened> {
    let value: Value = serde_json::from_slice(json).ok()?;
    flatten::flatten(&value, lineage).ok()
}

/// A resource as its raw row only (see [`flatten::flatten_raw`]).
pub(crate) fn raw_only(json: &[u8], lineage: &Lineage) -> Option<Flattened> {
    let value: Value = serde_json::from_slice(json).ok()?;
    flatten::flatten_raw(&value, lineage).ok()
}

/// Only the `resourceType` of a resource, read without building its tree:
/// a Bundle must not be parsed whole.
#[derive(serde::Deserialize)]
struct Head<'a> {
    #[serde(rename = "resourceType", borrow)]
    resource_type: Option<std::borrow::Cow<'a, str>>,
}

fn one(
    bytes: &[u8],
    unit: Unit,
    lineage: &Lineage,
    limits: &Limits,
    out: &mut Vec<Processed>,
) -> Result<()> {
    let location = Location {
        line: unit.line(),
        entry: None,
    };
    let not_a_resource = || {
        let json = serde_json::from_slice::<serde::de::IgnoredAny>(bytes);
        match (unit, json) {
            (Unit::Document, Err(e)) => Err(Error::NotFhir(format!(
                "malformed JSON at line {}, column {}: {}",
                e.line(),
                e.column(),
                json_reason(&e)
            ))),
            (Unit::Document, Ok(_)) => Err(Error::NotFhir(
                "the JSON is not a FHIR resource: no string resourceType".to_owned(),
            )),
            (Unit::Line(_), Err(e)) => Ok(rejected_plain(
                location,
                None,
                None,
                IssueType::Structure,
                "",
                format!("malformed JSON: {e}"),
            )),
            (Unit::Line(_), Ok(_)) => Ok(rejected_plain(
                location,
                None,
                None,
                IssueType::Structure,
                "",
                "not a FHIR resource: no string resourceType".to_owned(),
            )),
        }
    };
    let resource_type = match serde_json::from_slice::<Head<'_>>(bytes) {
        Ok(Head {
            resource_type: Some(t),
        }) => t.into_owned(),
        Ok(Head {
            resource_type: None,
        })
        | Err(_) => {
            out.push(not_a_resource()?);
            return Ok(());
        }
    };
    if resource_type == "Bundle" {
        return bundle(bytes, unit, lineage, limits, out);
    }
    if bytes.len() > limits.max_resource_bytes {
        return Err(Error::TooLarge {
            at: unit.locate(&resource_type),
            limit: Limit::ResourceBytes,
            max: limits.max_resource_bytes as u64,
        });
    }
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => {
            out.push(not_a_resource()?);
            return Ok(());
        }
    };
    let outcome = renkei_fhir::validate(&value);
    let hash = hash16(bytes);
    let at = resource_type.clone();
    out.push(checked(
        value,
        resource_type,
        Checked {
            location,
            at: &at,
            outcome,
            hash,
            json: bytes.to_vec(),
        },
        lineage,
        limits,
    ));
    Ok(())
}

/// What is known of a resource when it is checked.
struct Checked<'a> {
    location: Location,
    /// Its FHIRPath-style location: `Patient`, `Bundle.entry[3].resource`.
    at: &'a str,
    /// The validator's outcome.
    outcome: Outcome,
    hash: [u8; 16],
    json: Vec<u8>,
}

/// A validated resource: accepted and flattened, or refused.
fn checked(
    value: Value,
    resource_type: String,
    c: Checked<'_>,
    lineage: &Lineage,
    limits: &Limits,
) -> Processed {
    let Checked {
        location,
        at,
        outcome,
        hash,
        json,
    } = c;
    let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
    if let Some(path) = crate::limits::long_string(&value, limits.max_string_bytes, at) {
        return rejected_plain(
            location,
            Some(resource_type),
            id,
            IssueType::TooLong,
            &path,
            format!(
                "a string longer than {} bytes (collect.max_string_bytes)",
                limits.max_string_bytes
            ),
        );
    }
    if !outcome.is_accepted() {
        return rejected(location, Some(resource_type), id, &outcome);
    }
    if id.is_none() {
        return rejected_plain(
            location,
            Some(resource_type.clone()),
            None,
            IssueType::Required,
            &format!("{at}.id"),
            "a resource sent to the platform needs its id: a later version of it supersedes this one by id".to_owned(),
        );
    }
    let flattened = match flatten::flatten(&value, lineage) {
        Ok(f) => f,
        Err(e) => {
            return rejected_plain(
                location,
                Some(resource_type),
                id,
                IssueType::Processing,
                "",
                e.to_string(),
            );
        }
    };
    // Checked here, before anything is sent to identity: a megabyte
    // "name" must never reach the person index.
    if let Some(element) = flattened
        .identity
        .as_ref()
        .and_then(|a| crate::limits::long_attribute(a, &resource_type, limits.max_attribute_chars))
    {
        let at = at.to_owned();
        return rejected_plain(
            location,
            Some(resource_type),
            id,
            IssueType::TooLong,
            &format!("{at}.{element}"),
            format!(
                "an identifying attribute longer than {} characters (collect.max_attribute_chars)",
                limits.max_attribute_chars
            ),
        );
    }
    let last_updated = value
        .pointer("/meta/lastUpdated")
        .and_then(Value::as_str)
        .and_then(|t| Timestamp::parse_rfc3339(t).ok())
        .map(Timestamp::unix_micros);
    let sample = crate::quality::sample(&resource_type, &value, &outcome);
    Processed {
        location,
        resource_type: Some(resource_type),
        id,
        kind: Kind::Accepted(Box::new(Accepted {
            flattened,
            last_updated,
            hash,
            json,
            sample,
            warnings: outcome
                .warnings()
                .map(|w| format!("{}: {}", w.expression, w.diagnostics))
                .collect(),
        })),
    }
}

/// A Bundle's top level, read without building its tree: the entries as
/// raw JSON slices of the input, the other members apart.
struct Parts<'a> {
    shell: Vec<(String, &'a RawValue)>,
    entries: Option<Vec<&'a RawValue>>,
}

/// Which limit a Bundle went past while its entries were counted.
#[derive(Clone, Copy)]
enum Over {
    Entries,
    Entry(usize),
}

/// Reads a Bundle's top level, counting entries and measuring each as it
/// goes, so that past a limit it stops at once (the `over` cell says
/// which; the parse error is only the way out).
#[derive(Clone, Copy)]
struct PartsSeed<'l> {
    max_entries: usize,
    max_entry: usize,
    over: &'l Cell<Option<Over>>,
}

impl<'de> DeserializeSeed<'de> for PartsSeed<'_> {
    type Value = Parts<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Parts<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PartsSeed<'_> {
    type Value = Parts<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a Bundle as a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parts<'de>, A::Error> {
        let mut parts = Parts {
            shell: Vec::new(),
            entries: None,
        };
        while let Some(key) = map.next_key::<String>()? {
            if key == "entry" {
                parts.entries = Some(map.next_value_seed(Entries(self))?);
            } else {
                parts.shell.push((key, map.next_value::<&'de RawValue>()?));
            }
        }
        Ok(parts)
    }
}

struct Entries<'l>(PartsSeed<'l>);

impl<'de> DeserializeSeed<'de> for Entries<'_> {
    type Value = Vec<&'de RawValue>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_> {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bundle.entry as a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let limits = self.0;
        let mut out = Vec::new();
        while let Some(entry) = seq.next_element::<&'de RawValue>()? {
            if out.len() == limits.max_entries {
                limits.over.set(Some(Over::Entries));
                return Err(de::Error::custom("too many entries"));
            }
            if entry.get().len() > limits.max_entry {
                limits.over.set(Some(Over::Entry(out.len())));
                return Err(de::Error::custom("an entry too large"));
            }
            out.push(entry);
        }
        Ok(out)
    }
}

/// Expands a Bundle (FHIR R4 §3.1.0.11, transaction processing): entries
/// are processed as resources; in a transaction one refused entry refuses
/// them all; `urn:uuid:` and conditional references between entries are
/// resolved to the ids the entries get.
///
/// The Bundle is never held as one `Value` tree: its top level is read
/// into raw slices (entries counted and measured on the way, refused past
/// `max_bundle_entries` or `max_resource_bytes`), then the entries are
/// parsed one at a time, twice: once for the ids and references they
/// offer, once to be processed.
fn bundle(
    bytes: &[u8],
    unit: Unit,
    lineage: &Lineage,
    limits: &Limits,
    out: &mut Vec<Processed>,
) -> Result<()> {
    let at = |entry: Option<usize>| Location {
        line: unit.line(),
        entry,
    };
    let over = Cell::new(None);
    let seed = PartsSeed {
        max_entries: limits.max_bundle_entries,
        max_entry: limits.max_resource_bytes,
        over: &over,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = seed.deserialize(&mut de).and_then(|p| de.end().map(|()| p));
    let parts = match (parsed, over.get()) {
        (_, Some(Over::Entries)) => {
            return Err(Error::TooLarge {
                at: unit.locate(&format!("Bundle.entry[{}]", limits.max_bundle_entries)),
                limit: Limit::BundleEntries,
                max: limits.max_bundle_entries as u64,
            });
        }
        (_, Some(Over::Entry(i))) => {
            return Err(Error::TooLarge {
                at: unit.locate(&format!("Bundle.entry[{i}]")),
                limit: Limit::ResourceBytes,
                max: limits.max_resource_bytes as u64,
            });
        }
        (Ok(parts), None) => parts,
        (Err(e), None) => {
            out.push(rejected_plain(
                at(None),
                Some("Bundle".to_owned()),
                None,
                IssueType::Structure,
                "Bundle",
                format!("the Bundle cannot be read: {}", json_reason(&e)),
            ));
            return Ok(());
        }
    };
    let shell_bytes: usize = parts
        .shell
        .iter()
        .map(|(k, v)| k.len() + v.get().len())
        .sum();
    if shell_bytes > limits.max_resource_bytes {
        return Err(Error::TooLarge {
            at: unit.locate("Bundle (outside its entries)"),
            limit: Limit::ResourceBytes,
            max: limits.max_resource_bytes as u64,
        });
    }
    let mut shell = Map::new();
    for (key, raw) in &parts.shell {
        shell.insert(key.clone(), parse_or_null(raw));
    }
    let shell = Value::Object(shell);
    let bundle_id = shell.get("id").and_then(Value::as_str).map(str::to_owned);
    let bundle_type = shell
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let (mut validator, mut own) = BundleValidator::start(&shell);
    if let Some(path) = crate::limits::long_string(&shell, limits.max_string_bytes, "Bundle") {
        own.issues.push(Issue {
            severity: Severity::Error,
            code: IssueType::TooLong,
            diagnostics: format!(
                "a string longer than {} bytes (collect.max_string_bytes)",
                limits.max_string_bytes
            ),
            expression: path,
        });
    }
    let raws = match parts.entries {
        Some(raws) if raws.is_empty() => {
            own.issues.push(Issue {
                severity: Severity::Error,
                code: IssueType::Structure,
                diagnostics: "arrays must not be empty (FHIR R4 §2.6.2)".to_owned(),
                expression: "Bundle.entry".to_owned(),
            });
            raws
        }
        raws => raws.unwrap_or_default(),
    };
    // Issues about the Bundle itself (not within an entry) refuse it whole.
    if !own.is_accepted() {
        out.push(rejected(
            at(None),
            Some("Bundle".to_owned()),
            bundle_id,
            &own,
        ));
        return Ok(());
    }

    // First pass: the id each entry will be stored under, and how other
    // entries may refer to it.
    let mut ids = Vec::with_capacity(raws.len());
    let mut index = ReferenceIndex::default();
    for raw in &raws {
        let entry = parse_or_null(raw);
        let id = entry_id(&entry);
        index.add(&entry, id.as_ref());
        ids.push(id);
    }

    // Second pass: each entry with its references resolved (before
    // validation: a conditional reference is valid in a transaction, and
    // becomes an ordinary one here), validated and processed.
    let is_transaction = bundle_type == "transaction";
    let uses_requests = matches!(bundle_type.as_str(), "transaction" | "batch");
    let mut produced = Vec::with_capacity(raws.len());
    for (i, (raw, id)) in raws.iter().zip(&ids).enumerate() {
        let location = at(Some(i));
        let mut entry = parse_or_null(raw);
        let mut reference_error = None;
        if let Some(resource) = entry.get_mut("resource") {
            if let (Some((_, id)), Some(obj)) = (id, resource.as_object_mut()) {
                obj.insert("id".to_owned(), Value::String(id.clone()));
            }
            reference_error = rewrite_references(resource, &index).err();
        }
        let issues = validator.entry(i, &entry);
        let method = entry
            .pointer("/request/method")
            .and_then(Value::as_str)
            .unwrap_or(if uses_requests { "" } else { "PUT" })
            .to_owned();
        let url = entry
            .pointer("/request/url")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        match method.as_str() {
            "DELETE" => {
                produced.push(delete(location, &url, i));
                continue;
            }
            "POST" | "PUT" => {}
            other => {
                produced.push(rejected_plain(
                    location,
                    None,
                    None,
                    IssueType::NotSupported,
                    &format!("Bundle.entry[{i}].request.method"),
                    format!("intake accepts POST, PUT and DELETE entries, not {other:?}: reads and patches are not submissions"),
                ));
                continue;
            }
        }
        let Some(resource) = entry.get_mut("resource").map(Value::take) else {
            produced.push(rejected_plain(
                location,
                None,
                None,
                IssueType::Required,
                &format!("Bundle.entry[{i}].resource"),
                "a POST or PUT entry needs a resource".to_owned(),
            ));
            continue;
        };
        let resource_type = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let mut outcome = issues;
        if let Some(message) = reference_error {
            outcome.issues.push(Issue {
                severity: Severity::Error,
                code: IssueType::Processing,
                diagnostics: message,
                expression: format!("Bundle.entry[{i}].resource"),
            });
        }
        let json = serde_json::to_vec(&resource).unwrap_or_default();
        let hash = hash16(&json);
        let at = format!("Bundle.entry[{i}].resource");
        produced.push(checked(
            resource,
            resource_type,
            Checked {
                location,
                at: &at,
                outcome,
                hash,
                json,
            },
            lineage,
            limits,
        ));
    }

    // The Bundle's profiles on its entries as a whole (how many, which
    // slices, its invariants): a Bundle that breaks them is refused whole.
    // The entries are read again from their bytes, so the Bundle is held
    // twice only for this check.
    let mut whole = shell;
    if let Some(obj) = whole.as_object_mut() {
        obj.insert(
            "entry".to_owned(),
            Value::Array(raws.iter().map(|r| parse_or_null(r)).collect()),
        );
    }
    let entries_outcome = validator.finish(&whole);
    drop(whole);
    if !entries_outcome.is_accepted() {
        out.push(rejected(
            at(None),
            Some("Bundle".to_owned()),
            bundle_id,
            &entries_outcome,
        ));
        return Ok(());
    }
    // What was said of the Bundle itself, not of an entry, reaches the
    // sender too.
    let bundle_warnings: Vec<String> = own
        .warnings()
        .chain(entries_outcome.warnings())
        .map(|w| format!("{}: {}", w.expression, w.diagnostics))
        .collect();
    if !bundle_warnings.is_empty() {
        out.push(Processed {
            location: at(None),
            resource_type: Some("Bundle".to_owned()),
            id: bundle_id.clone(),
            kind: Kind::Notices(bundle_warnings),
        });
    }

    if bundle_type == "document" {
        inherit_composition_subject(&mut produced);
    }
    if is_transaction {
        refuse_conflicting_duplicates(&mut produced);
    }
    if is_transaction
        && let Some(failed) = produced
            .iter()
            .position(|p| matches!(p.kind, Kind::Rejected { .. }))
    {
        // All or nothing (FHIR R4 §3.1.0.11.2): every other entry is refused
        // too, pointing at the one that failed.
        for (i, p) in produced.iter_mut().enumerate() {
            if i != failed && !matches!(p.kind, Kind::Rejected { .. }) {
                *p = rejected_plain(
                    p.location,
                    p.resource_type.take(),
                    p.id.take(),
                    IssueType::Processing,
                    &format!("Bundle.entry[{i}]"),
                    format!("not applied: the transaction failed at Bundle.entry[{failed}]"),
                );
            }
        }
    }
    out.extend(produced);
    Ok(())
}

/// Two entries of one transaction for the same resource with different
/// content: the later is refused here, as the intake would refuse it when
/// placing, so that the transaction fails whole rather than commit the
/// first (issue 16).
fn refuse_conflicting_duplicates(produced: &mut [Processed]) {
    let mut seen: std::collections::HashMap<(String, String), ([u8; 16], usize)> =
        std::collections::HashMap::new();
    for (i, p) in produced.iter_mut().enumerate() {
        let Kind::Accepted(a) = &p.kind else { continue };
        let key = (
            a.flattened.resource_type.clone(),
            p.id.clone().unwrap_or_default(),
        );
        match seen.get(&key) {
            Some((hash, first)) if *hash != a.hash => {
                let message = format!(
                    "{}/{} appears twice in this transaction with different content (also at Bundle.entry[{first}])",
                    key.0, key.1
                );
                *p = rejected_plain(
                    p.location,
                    p.resource_type.take(),
                    p.id.take(),
                    IssueType::Processing,
                    &format!("Bundle.entry[{i}]"),
                    message,
                );
            }
            Some(_) => {}
            None => {
                seen.insert(key, (a.hash, i));
            }
        }
    }
}

/// In a document Bundle, the Composition's subject is the patient of the
/// entries that name none themselves (JP-CLINS leaves it out of an
/// Encounter, for one). Entries that are about nobody (an Organization, a
/// Practitioner: only raw rows) stay so.
fn inherit_composition_subject(produced: &mut [Processed]) {
    let composition = produced.iter().find_map(|p| match &p.kind {
        Kind::Accepted(a) if a.flattened.resource_type == "Composition" => Some((
            a.flattened.subject.clone(),
            a.flattened.subject_identifier.clone(),
        )),
        _ => None,
    });
    let Some((subject, identifier)) = composition else {
        return;
    };
    for p in produced.iter_mut() {
        let Kind::Accepted(a) = &mut p.kind else {
            continue;
        };
        let f = &mut a.flattened;
        let about_a_patient = f
            .rows
            .iter()
            .any(|(t, _)| *t != renkei_core::LakeTable::RawResource);
        if f.subject.is_none() && f.subject_identifier.is_none() && about_a_patient {
            f.subject.clone_from(&subject);
            f.subject_identifier.clone_from(&identifier);
        }
    }
}

/// A raw slice already read as JSON, as a tree. Only serde_json's nesting
/// limit can fail it; the null that stands in is then refused by the
/// validator as not an object.
fn parse_or_null(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

/// serde_json's message without its own "at line … column …", which the
/// caller words.
fn json_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// The `(type, id)` an entry will be stored under: its resource's id, else
/// the id in a `PUT` URL, else the UUID of a `urn:uuid:` fullUrl (the
/// server assigns the id of a created resource).
fn entry_id(e: &Value) -> Option<(String, String)> {
    let ty = e
        .pointer("/resource/resourceType")
        .and_then(Value::as_str)?
        .to_owned();
    if let Some(id) = e.pointer("/resource/id").and_then(Value::as_str) {
        return Some((ty, id.to_owned()));
    }
    if let Some(url) = e.pointer("/request/url").and_then(Value::as_str)
        && let Some((t, id)) = url.split_once('/')
        && t == ty
        && !id.contains(['/', '?'])
    {
        return Some((ty, id.to_owned()));
    }
    let full = e.get("fullUrl").and_then(Value::as_str)?;
    let uuid = full.strip_prefix("urn:uuid:")?;
    Some((ty, uuid.to_owned()))
}

/// How entries are referred to: by `fullUrl`, and by identifier for
/// conditional references.
#[derive(Debug, Default)]
struct ReferenceIndex {
    by_url: HashMap<String, String>,
    by_identifier: HashMap<(String, String, String), Vec<String>>,
}

impl ReferenceIndex {
    fn add(&mut self, entry: &Value, id: Option<&(String, String)>) {
        let Some((ty, id)) = id else { return };
        let target = format!("{ty}/{id}");
        if let Some(full) = entry.get("fullUrl").and_then(Value::as_str) {
            self.by_url.insert(full.to_owned(), target.clone());
        }
        let identifiers = entry
            .pointer("/resource/identifier")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for identifier in identifiers {
            let system = identifier
                .get("system")
                .and_then(Value::as_str)
                .unwrap_or("");
            if let Some(value) = identifier.get("value").and_then(Value::as_str) {
                self.by_identifier
                    .entry((ty.clone(), system.to_owned(), value.to_owned()))
                    .or_default()
                    .push(target.clone());
            }
        }
    }
}

/// Rewrites references to other entries (by `fullUrl`) and conditional
/// references (`Patient?identifier=system|value`) to `Type/id`.
fn rewrite_references(v: &mut Value, index: &ReferenceIndex) -> Result<(), String> {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("reference") {
                if let Some(target) = index.by_url.get(r.as_str()) {
                    *r = target.clone();
                } else if let Some((ty, query)) = r.split_once('?') {
                    *r = conditional(ty, query, index)?;
                }
            }
            for child in map.values_mut() {
                rewrite_references(child, index)?;
            }
        }
        Value::Array(items) => {
            for child in items {
                rewrite_references(child, index)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Resolves `Type?identifier=system|value` within the Bundle: exactly one
/// match, else the entry fails (as a transaction's conditional reference
/// must, FHIR R4 §3.1.0.11.3).
fn conditional(ty: &str, query: &str, index: &ReferenceIndex) -> Result<String, String> {
    let Some(param) = query.strip_prefix("identifier=") else {
        return Err(format!(
            "conditional reference {ty}?{query}: only identifier=system|value is supported"
        ));
    };
    let (system, value) = param.split_once('|').unwrap_or(("", param));
    let matches = index
        .by_identifier
        .get(&(ty.to_owned(), system.to_owned(), value.to_owned()))
        .map_or(&[][..], Vec::as_slice);
    match matches {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "conditional reference {ty}?{query} matches no resource in the Bundle"
        )),
        _ => Err(format!(
            "conditional reference {ty}?{query} matches {} resources in the Bundle",
            matches.len()
        )),
    }
}

fn delete(location: Location, url: &str, i: usize) -> Processed {
    match url.split_once('/') {
        Some((ty, id))
            if !ty.is_empty()
                && !id.is_empty()
                && !id.contains(['/', '?'])
                && !ty.contains('?') =>
        {
            Processed {
                location,
                resource_type: Some(ty.to_owned()),
                id: Some(id.to_owned()),
                kind: Kind::Delete,
            }
        }
        _ => rejected_plain(
            location,
            None,
            None,
            IssueType::NotSupported,
            &format!("Bundle.entry[{i}].request.url"),
            format!("DELETE needs Type/id; conditional deletes ({url:?}) are not supported"),
        ),
    }
}

fn hash16(bytes: &[u8]) -> [u8; 16] {
    let digest = Sha256::digest(bytes);
    let mut out = [0; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

fn rejected(
    location: Location,
    resource_type: Option<String>,
    id: Option<String>,
    outcome: &Outcome,
) -> Processed {
    let reasons = outcome.errors().map(reason).collect();
    Processed {
        location,
        resource_type,
        id,
        kind: Kind::Rejected {
            outcome: serde_json::to_value(outcome.to_operation_outcome())
                .unwrap_or_else(|_| json!({})),
            reasons,
        },
    }
}

fn rejected_plain(
    location: Location,
    resource_type: Option<String>,
    id: Option<String>,
    code: IssueType,
    expression: &str,
    diagnostics: String,
) -> Processed {
    let outcome = Outcome {
        issues: vec![Issue {
            severity: Severity::Error,
            code,
            diagnostics,
            expression: expression.to_owned(),
        }],
    };
    rejected(location, resource_type, id, &outcome)
}

/// A reason as counted in the quality report: the issue code and where,
/// with indices folded (`Patient.identifier[*].system`).
fn reason(issue: &Issue) -> String {
    let code = serde_json::to_value(issue.code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut at = String::with_capacity(issue.expression.len());
    let mut in_index = false;
    for c in issue.expression.chars() {
        match c {
            '[' => {
                in_index = true;
                at.push_str("[*]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => at.push(c),
        }
    }
    if at.is_empty() {
        code
    } else {
        format!("{code} at {at}")
    }
}
