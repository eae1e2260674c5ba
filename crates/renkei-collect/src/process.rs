//! What one unit of input becomes, before anything is stored: parsed,
//! validated, Bundles expanded as the specification says, and flattened
//! into identity attributes and lake rows. Pure CPU work, run off the
//! async threads one chunk at a time.

use std::collections::HashMap;

use renkei_core::Timestamp;
use renkei_fhir::flatten::{self, Flattened, Lineage};
use renkei_fhir::{Issue, IssueType, Outcome, Severity};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::input::Item;
use crate::quality::Sample;
use crate::submission::Location;

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
    /// Warnings of the validator (unknown codes, …).
    pub(crate) warnings: usize,
}

/// Processes a chunk of input.
pub(crate) fn chunk(items: Vec<Item>, lineage: &Lineage) -> Vec<Processed> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Item::Line { line, bytes } => one(bytes, Some(line), lineage, &mut out),
            Item::Document(bytes) => one(bytes, None, lineage, &mut out),
        }
    }
    out
}

/// Re-flattens a resource held pending, under the lineage of the
/// submission it arrived in.
pub(crate) fn reflatten(json: &[u8], lineage: &Lineage) -> Option<Flattened> {
    let value: Value = serde_json::from_slice(json).ok()?;
    flatten::flatten(&value, lineage).ok()
}

fn one(bytes: Vec<u8>, line: Option<u64>, lineage: &Lineage, out: &mut Vec<Processed>) {
    let location = Location { line, entry: None };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            out.push(rejected_plain(
                location,
                None,
                None,
                IssueType::Structure,
                "",
                format!("malformed JSON: {e}"),
            ));
            return;
        }
    };
    let Some(resource_type) = value
        .get("resourceType")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        out.push(rejected_plain(
            location,
            None,
            None,
            IssueType::Structure,
            "",
            "not a FHIR resource: no string resourceType".to_owned(),
        ));
        return;
    };
    if resource_type == "Bundle" {
        bundle(value, line, lineage, out);
        return;
    }
    let outcome = renkei_fhir::validate(&value);
    let hash = hash16(&bytes);
    out.push(checked(
        value,
        resource_type,
        location,
        outcome,
        hash,
        bytes,
        lineage,
    ));
}

/// A validated resource: accepted and flattened, or refused.
fn checked(
    value: Value,
    resource_type: String,
    location: Location,
    outcome: Outcome,
    hash: [u8; 16],
    json: Vec<u8>,
    lineage: &Lineage,
) -> Processed {
    let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
    if !outcome.is_accepted() {
        return rejected(location, Some(resource_type), id, &outcome);
    }
    if id.is_none() {
        return rejected_plain(
            location,
            Some(resource_type.clone()),
            None,
            IssueType::Required,
            &format!("{resource_type}.id"),
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
            warnings: outcome.warnings().count(),
        })),
    }
}

/// Expands a Bundle (FHIR R4 §3.1.0.11, transaction processing): entries
/// are processed as resources; in a transaction one refused entry refuses
/// them all; `urn:uuid:` and conditional references between entries are
/// resolved to the ids the entries get.
fn bundle(mut value: Value, line: Option<u64>, lineage: &Lineage, out: &mut Vec<Processed>) {
    let bundle_type = value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let at = |entry: Option<usize>| Location { line, entry };

    // References are resolved before validation: a conditional reference
    // is valid in a transaction, and becomes an ordinary one here.
    let mut reference_errors: Vec<Option<String>> = Vec::new();
    if let Some(entries) = value.get_mut("entry").and_then(Value::as_array_mut) {
        let ids = entry_ids(entries);
        let index = reference_index(entries, &ids);
        for (entry, id) in entries.iter_mut().zip(&ids) {
            let Some(resource) = entry.get_mut("resource") else {
                reference_errors.push(None);
                continue;
            };
            if let (Some((_, id)), Some(obj)) = (id, resource.as_object_mut()) {
                obj.insert("id".to_owned(), Value::String(id.clone()));
            }
            reference_errors.push(rewrite_references(resource, &index).err());
        }
    }
    let whole = renkei_fhir::validate(&value);
    let entries = value
        .get_mut("entry")
        .and_then(Value::as_array_mut)
        .map(std::mem::take)
        .unwrap_or_default();

    // Issues about the Bundle itself (not within an entry) refuse it whole.
    let mut per_entry: Vec<Outcome> = (0..entries.len()).map(|_| Outcome::default()).collect();
    let mut own = Outcome::default();
    for issue in whole.issues {
        match entry_index(&issue.expression) {
            Some(i) if i < per_entry.len() => per_entry[i].issues.push(issue),
            _ => own.issues.push(issue),
        }
    }
    if !own.is_accepted() {
        out.push(rejected(
            at(None),
            Some("Bundle".to_owned()),
            value.get("id").and_then(Value::as_str).map(str::to_owned),
            &own,
        ));
        return;
    }
    let is_transaction = bundle_type == "transaction";
    let uses_requests = matches!(bundle_type.as_str(), "transaction" | "batch");
    let mut produced = Vec::with_capacity(entries.len());
    for (i, (mut entry, issues)) in entries.into_iter().zip(per_entry).enumerate() {
        let location = at(Some(i));
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
        if let Some(Some(message)) = reference_errors.get(i).cloned() {
            outcome.issues.push(Issue {
                severity: Severity::Error,
                code: IssueType::Processing,
                diagnostics: message,
                expression: format!("Bundle.entry[{i}].resource"),
            });
        }
        let json = serde_json::to_vec(&resource).unwrap_or_default();
        let hash = hash16(&json);
        produced.push(checked(
            resource,
            resource_type,
            location,
            outcome,
            hash,
            json,
            lineage,
        ));
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
}

/// For each entry, the `(type, id)` it will be stored under: its
/// resource's id, else the id in a `PUT` URL, else the UUID of a
/// `urn:uuid:` fullUrl (the server assigns the id of a created resource).
fn entry_ids(entries: &[Value]) -> Vec<Option<(String, String)>> {
    entries
        .iter()
        .map(|e| {
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
        })
        .collect()
}

/// How entries are referred to: by `fullUrl`, and by identifier for
/// conditional references.
#[derive(Debug, Default)]
struct ReferenceIndex {
    by_url: HashMap<String, String>,
    by_identifier: HashMap<(String, String, String), Vec<String>>,
}

fn reference_index(entries: &[Value], ids: &[Option<(String, String)>]) -> ReferenceIndex {
    let mut index = ReferenceIndex::default();
    for (entry, id) in entries.iter().zip(ids) {
        let Some((ty, id)) = id else { continue };
        let target = format!("{ty}/{id}");
        if let Some(full) = entry.get("fullUrl").and_then(Value::as_str) {
            index.by_url.insert(full.to_owned(), target.clone());
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
                index
                    .by_identifier
                    .entry((ty.clone(), system.to_owned(), value.to_owned()))
                    .or_default()
                    .push(target.clone());
            }
        }
    }
    index
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

/// `Bundle.entry[12].resource.code` → `Some(12)`.
fn entry_index(expression: &str) -> Option<usize> {
    let rest = expression.strip_prefix("Bundle.entry[")?;
    rest[..rest.find(']')?].parse().ok()
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
