//! FHIR R4 and JP Core: parsing and validation of the resources that
//! providers send.
//!
//! Resources are read with `serde_json` into a [`serde_json::Value`] and
//! checked against compact, data-driven tables: per resource type the
//! elements with cardinality, datatypes and bindings ([`profile`]), per
//! complex datatype its elements ([`datatype::complex`]), and the Japanese
//! code and identifier systems ([`codesystem`]). Every problem becomes an
//! [`Issue`] of a FHIR OperationOutcome with a FHIRPath-style `expression`.
//!
//! *Why tables over a FHIR model crate:* `fhirbolt` 0.4 (MIT/Apache-2.0, R4
//! model) builds in about 77 s from cold on this 2-core machine and its
//! deserializer stops at the first problem with a message that names no path
//! (`missing field `status``); it knows nothing of JP Core, so the profile
//! tables would be needed anyway. A walk over `Value` reports every issue
//! with its location and accepts any R4 resource type.
//!
//! On top of that base R4 walk, every resource is checked against the
//! published profiles it claims (JP Core, JP-CLINS, loaded from their
//! packages by [`conformance`]): narrowed cardinality, allowed types,
//! fixed and pattern values, slices, enumerable required bindings, and the
//! profiles' FHIRPath invariants ([`fhirpath`]). A resource that claims no
//! profile is checked against JP Core's profile of its type, as advice.
//!
//! **Owns:** the validator ([`validate`], [`parse`]), the issue types
//! ([`Issue`], [`Severity`], [`Outcome`], [`OperationOutcome`]), the profile
//! tables of the accepted JP Core resources (Patient, Coverage,
//! Organization, Practitioner, Encounter, Condition, Observation,
//! MedicationRequest, MedicationDispense, Procedure, AllergyIntolerance,
//! ImagingStudy, DiagnosticReport, Immunization, Bundle), and the metadata of
//! the Japanese code systems (ICD-10 MHLW edition, MEDIS 標準病名, JLAC10/11,
//! YJ, HOT, 診療行為, 医療機関コード), and the flattening of accepted
//! resources into identifying attributes for identity and canonical lake
//! rows for collection ([`flatten`]).
//!
//! **Never:** stores anything, talks to the network, decides who a patient
//! is (that is `renkei-identity`), puts a direct identifier in a lake row,
//! or refuses a valid R4 resource for its
//! type alone (types without a table get base R4 checks).
//!
//! **Start at:** [`validate`], then [`profile`] for the tables and
//! `validator` for the walk.
//!
//! ```
//! use renkei_fhir::{validate, Severity};
//!
//! let patient = serde_json::json!({
//!     "resourceType": "Patient",
//!     "identifier": [
//!         {"system": "urn:oid:1.2.392.100495.20.3.51.11311234567", "value": "00000010"},
//!         {"system": "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no", "value": "123"}
//!     ],
//!     "birthDate": "1970-02-30"
//! });
//! let outcome = validate(&patient);
//! assert!(!outcome.is_accepted());
//! let exprs: Vec<&str> = outcome.errors().map(|i| i.expression.as_str()).collect();
//! assert_eq!(exprs, ["Patient.identifier[1]", "Patient.birthDate"]);
//! assert_eq!(outcome.issues[1].severity, Severity::Error);
//! ```
#![warn(missing_docs)]

mod bundle;
pub mod codesystem;
pub mod conformance;
pub mod datatype;
pub mod element;
pub mod error;
pub mod fhirpath;
pub mod flatten;
pub mod outcome;
pub mod package;
pub mod path;
pub mod profile;
pub mod resource_type;
mod validator;

pub use bundle::BundleValidator;
pub use error::{Error, Result};
pub use outcome::{Issue, IssueType, OperationOutcome, Outcome, Severity};

use serde_json::Value;

/// Validate a FHIR R4 resource (or a Bundle, entry by entry) given as JSON.
pub fn validate(resource: &Value) -> Outcome {
    let mut out = Outcome::default();
    validator::resource(resource, None, &mut out, 0);
    out
}

/// A parsed resource: its type, id and JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    resource_type: String,
    id: Option<String>,
    json: Value,
}

impl Resource {
    /// The `resourceType`.
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// The logical `id`, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The JSON of the resource.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Take the JSON out.
    pub fn into_json(self) -> Value {
        self.json
    }
}

/// Parse bytes as one FHIR JSON resource and validate it.
///
/// An [`Error`] means there was nothing to validate (malformed JSON, not an
/// object, no `resourceType`); everything else is an issue in the
/// [`Outcome`].
pub fn parse(bytes: &[u8]) -> Result<(Resource, Outcome)> {
    let json: Value = serde_json::from_slice(bytes)?;
    let obj = json
        .as_object()
        .ok_or(Error::NotAResource("the JSON is not an object"))?;
    let resource_type = obj
        .get("resourceType")
        .and_then(Value::as_str)
        .ok_or(Error::NotAResource("no string resourceType"))?
        .to_owned();
    let id = obj.get("id").and_then(Value::as_str).map(str::to_owned);
    let outcome = validate(&json);
    Ok((
        Resource {
            resource_type,
            id,
            json,
        },
        outcome,
    ))
}
