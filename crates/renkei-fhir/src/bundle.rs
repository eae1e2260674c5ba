//! Bundle invariants that are not element tables (FHIR R4 §2.36.5,
//! Bundle constraints bdl-3 and bdl-7).

use serde_json::{Map, Value};

use crate::outcome::{IssueType, Outcome};
use crate::path::Path;

/// Check the invariants of the Bundle `obj` located at `path`.
pub(crate) fn check(obj: &Map<String, Value>, path: &Path, out: &mut Outcome) {
    let Some(entries) = obj.get("entry").and_then(Value::as_array) else {
        return;
    };
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or("");
    // bdl-3: entry.request mandatory for batch/transaction/history,
    // otherwise prohibited.
    let needs_request = matches!(ty, "batch" | "transaction" | "history");
    let mut seen: Vec<(&str, Option<&str>)> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let Some(e) = entry.as_object() else { continue };
        let p = path.field("entry").index(i);
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
            if seen.contains(&(full, version)) {
                out.error(
                    IssueType::Invalid,
                    &p.field("fullUrl"),
                    format!("fullUrl {full:?} appears more than once (bdl-7)"),
                );
            }
            seen.push((full, version));
        }
    }
}
