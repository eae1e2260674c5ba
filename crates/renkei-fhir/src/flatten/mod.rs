//! Flattening: one FHIR resource into what each function may keep of it —
//! identifying attributes for identity, and canonical lake rows (without
//! `person_key`, which collection sets once identity has answered) carrying
//! no direct identifier (DESIGN.md invariant 1).
//!
//! Runs on resources the validator accepted: a missing optional element
//! becomes a null, never an error; only a resource without an id, or a lake
//! column that cannot be filled, is refused.

mod builder;
mod clinical;
mod patient;
mod raw;
mod values;

#[cfg(test)]
mod tests;

pub use builder::{Cell, Row, TableBuilder};

use renkei_core::{IdentifyingAttributes, LakeTable, ProviderCode, Timestamp};
use serde_json::Value;

/// Where a resource came from: the lineage columns of its rows.
#[derive(Clone, Debug)]
pub struct Lineage {
    /// The submitting provider.
    pub provider: ProviderCode,
    /// The submission the resource arrived in.
    pub submission_id: String,
    /// When collection accepted it.
    pub ingested_at: Timestamp,
}

/// What one resource becomes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Flattened {
    /// `Resource.resourceType`.
    pub resource_type: String,
    /// `Resource.id`.
    pub source_id: String,
    /// The provider-local id of the patient the resource is about: the
    /// Patient's own id, or the id in `subject`/`patient`/`beneficiary`.
    pub subject: Option<String>,
    /// The patient named by identifier instead (JP-CLINS names the patient
    /// by its insurance identifier, with no Patient to refer to): identity
    /// resolves it. Set only when `subject` is not.
    pub subject_identifier: Option<SubjectIdentifier>,
    /// For a Patient: the keys other resources may name it by
    /// ([`SubjectIdentifier::key`]), one per identifier identity cannot
    /// link by.
    pub identifier_keys: Vec<String>,
    /// For Patient and Coverage: what identity needs. Never written to the
    /// lake.
    pub identity: Option<IdentifyingAttributes>,
    /// Lake rows, `person_key` not yet set.
    pub rows: Vec<(LakeTable, Row)>,
}

/// A patient named by an identifier (`subject.identifier`) rather than a
/// reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectIdentifier {
    /// `Identifier.system`.
    pub system: String,
    /// `Identifier.value`.
    pub value: String,
}

impl SubjectIdentifier {
    /// The identifier of `reference` (a Reference with `identifier` and no
    /// `reference`), if it has one with a system and a value.
    pub fn of(reference: &Value) -> Option<Self> {
        if reference.get("reference").is_some() {
            return None;
        }
        let id = reference.get("identifier")?;
        Some(Self {
            system: id["system"].as_str()?.trim().to_owned(),
            value: id["value"].as_str()?.trim().to_owned(),
        })
    }

    /// What identity links by, when it can ([`patient::identifier_attributes`]).
    pub fn attributes(&self) -> Option<IdentifyingAttributes> {
        let mut a = IdentifyingAttributes::default();
        patient::identifier_attributes(&self.system, &self.value, &mut a).then_some(a)
    }

    /// How the intake keys the patient so named, next to Patient ids:
    /// `identifier:` and the SHA-256 of `<system>|<value>` in hex (a
    /// Patient id cannot contain `:`). Hashed so that collection's
    /// long-lived tables do not hold insurance numbers; unkeyed, so it
    /// hides them only from a casual reader.
    pub fn key(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{}|{}", self.system, self.value));
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("identifier:{hex}")
    }
}

/// The patient a resource is about, as named in `subject`, `patient` or
/// (Coverage) `beneficiary`: a Patient id, or an identifier.
pub fn subject_of(resource: &Value) -> (Option<String>, Option<SubjectIdentifier>) {
    let fields: &[&str] = match resource["resourceType"].as_str() {
        Some("Coverage") => &["beneficiary"],
        _ => &["subject", "patient"],
    };
    for k in fields {
        if let Some(id) = values::reference_id(&resource[*k], "Patient") {
            return (Some(id), None);
        }
        if let Some(si) = SubjectIdentifier::of(&resource[*k]) {
            return (None, Some(si));
        }
    }
    (None, None)
}

/// Why a resource could not be flattened.
#[derive(Debug, thiserror::Error)]
pub enum FlattenError {
    /// The resource has no `resourceType` or `id`.
    #[error("{0} is missing")]
    NoId(&'static str),
    /// A required lake column has no value.
    #[error("lake table {table} needs {column}")]
    Missing {
        /// The table.
        table: &'static str,
        /// The column left empty.
        column: String,
    },
    /// A bug: a row that does not fit its table.
    #[error("internal flattening error: {0}")]
    Internal(String),
}

/// Flattens one resource, identified by its `id`.
pub fn flatten(resource: &Value, lineage: &Lineage) -> Result<Flattened, FlattenError> {
    let source_id = resource["id"].as_str().ok_or(FlattenError::NoId("id"))?;
    flatten_as(resource, source_id, lineage)
}

/// Flattens one resource under a given source id: for a Bundle entry that
/// creates a resource, which has no `id` yet and is named by its `fullUrl`
/// (`urn:uuid:…`) — the same name its references use.
pub fn flatten_as(
    resource: &Value,
    source_id: &str,
    lineage: &Lineage,
) -> Result<Flattened, FlattenError> {
    flatten_with(resource, source_id, lineage, false)
}

/// Flattens a resource into the raw-resource table only: for one about a
/// patient that names none (a JP-CLINS Encounter sent on its own), kept
/// whole rather than lost.
pub fn flatten_raw(resource: &Value, lineage: &Lineage) -> Result<Flattened, FlattenError> {
    let source_id = resource["id"].as_str().ok_or(FlattenError::NoId("id"))?;
    flatten_with(resource, source_id, lineage, true)
}

fn flatten_with(
    resource: &Value,
    source_id: &str,
    lineage: &Lineage,
    raw_only: bool,
) -> Result<Flattened, FlattenError> {
    let resource_type = resource["resourceType"]
        .as_str()
        .ok_or(FlattenError::NoId("resourceType"))?;
    let mut out = Flattened {
        resource_type: resource_type.to_owned(),
        source_id: source_id.to_owned(),
        ..Flattened::default()
    };
    let own: Vec<(LakeTable, Row)> = match resource_type {
        other if raw_only => vec![(LakeTable::RawResource, raw::raw(other, resource))],
        "Patient" => {
            let (attributes, rows) = patient::patient(resource);
            out.subject = Some(source_id.to_owned());
            out.identity = Some(attributes);
            out.identifier_keys = patient::identifier_keys(resource);
            rows
        }
        "Coverage" => {
            (out.subject, out.subject_identifier) = subject_of(resource);
            out.identity = Some(patient::coverage(resource));
            Vec::new()
        }
        other => {
            (out.subject, out.subject_identifier) = subject_of(resource);
            match clinical::clinical(other, resource) {
                Some(rows) => rows,
                None => vec![(LakeTable::RawResource, raw::raw(other, resource))],
            }
        }
    };
    let updated = values::instant(&resource["meta"]["lastUpdated"]);
    for (table, mut row) in own {
        row.set("provider_code", Cell::Text(lineage.provider.to_string()))
            .set("source_type", Cell::Text(resource_type.to_owned()))
            .set("source_id", Cell::Text(source_id.to_owned()))
            .set("submission_id", Cell::Text(lineage.submission_id.clone()))
            .set(
                "ingested_at",
                Cell::Timestamp(lineage.ingested_at.unix_micros()),
            );
        if let Some(t) = updated {
            row.set("source_updated_at", Cell::Timestamp(t));
        }
        out.rows.push((table, row));
    }
    Ok(out)
}
