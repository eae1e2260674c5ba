//! Element tables of the complex datatypes (FHIR R4 §2.24.0.2 and
//! http://hl7.org/fhir/R4/datatypes.html). `id` and `extension` are allowed
//! on every element and checked by the walker, not listed here.

use crate::element::ElementDef;
use crate::element::dsl::*;

/// The complex datatypes with a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Complex {
    /// Identifier.
    Identifier,
    /// Coding.
    Coding,
    /// CodeableConcept.
    CodeableConcept,
    /// Reference.
    Reference,
    /// Quantity.
    Quantity,
    /// Age (a Quantity).
    Age,
    /// Duration (a Quantity).
    Duration,
    /// Period.
    Period,
    /// Range.
    Range,
    /// Ratio.
    Ratio,
    /// HumanName.
    HumanName,
    /// Address.
    Address,
    /// ContactPoint.
    ContactPoint,
    /// Attachment.
    Attachment,
    /// Annotation.
    Annotation,
    /// Meta.
    Meta,
    /// Narrative.
    Narrative,
    /// Extension (value[x] of any type, so open).
    Extension,
    /// Timing.
    Timing,
    /// Dosage.
    Dosage,
    /// SampledData.
    SampledData,
    /// Money.
    Money,
    /// Signature.
    Signature,
    /// Anything else: checked generically.
    Other,
}

/// The table of a datatype and whether it is closed (an element not in the
/// table is an error, FHIR R4 §2.6.2: "unknown elements … are an error").
pub fn table(c: Complex) -> (&'static [ElementDef], bool) {
    match c {
        Complex::Identifier => (IDENTIFIER_T, true),
        Complex::Coding => (CODING_T, true),
        Complex::CodeableConcept => (CC_T, true),
        Complex::Reference => (REFERENCE_T, true),
        Complex::Quantity | Complex::Age | Complex::Duration => (QUANTITY_T, true),
        Complex::Period => (PERIOD_T, true),
        Complex::Range => (RANGE_T, true),
        Complex::Ratio => (RATIO_T, true),
        Complex::HumanName => (HUMAN_NAME_T, true),
        Complex::Address => (ADDRESS_T, true),
        Complex::ContactPoint => (CONTACT_POINT_T, true),
        Complex::Attachment => (ATTACHMENT_T, true),
        Complex::Annotation => (ANNOTATION_T, true),
        Complex::Meta => (META_T, true),
        Complex::Narrative => (NARRATIVE_T, true),
        Complex::Extension => (EXTENSION_T, false),
        Complex::Timing => (TIMING_T, true),
        Complex::Dosage => (DOSAGE_T, true),
        Complex::SampledData | Complex::Money | Complex::Signature | Complex::Other => (&[], false),
    }
}

static IDENTIFIER_USE: crate::element::Binding = codes(
    "http://hl7.org/fhir/ValueSet/identifier-use",
    &["usual", "official", "temp", "secondary", "old"],
);
static QUANTITY_COMPARATOR: crate::element::Binding = codes(
    "http://hl7.org/fhir/ValueSet/quantity-comparator",
    &["<", "<=", ">=", ">"],
);
static NAME_USE: crate::element::Binding = codes(
    "http://hl7.org/fhir/ValueSet/name-use",
    &[
        "usual",
        "official",
        "temp",
        "nickname",
        "anonymous",
        "old",
        "maiden",
    ],
);
static CONTACT_SYSTEM: crate::element::Binding = codes(
    "http://hl7.org/fhir/ValueSet/contact-point-system",
    &["phone", "fax", "email", "pager", "url", "sms", "other"],
);
static CONTACT_USE: crate::element::Binding = codes(
    "http://hl7.org/fhir/ValueSet/contact-point-use",
    &["home", "work", "temp", "old", "mobile"],
);
static NARRATIVE_STATUS: crate::element::Binding = codes(
    "http://hl7.org/fhir/ValueSet/narrative-status",
    &["generated", "extensions", "additional", "empty"],
);

const IDENTIFIER_T: &[ElementDef] = &[
    el("use", 0, One, &[Code]).bind(&IDENTIFIER_USE),
    el("type", 0, One, &[CC]),
    el("system", 0, One, &[Uri]),
    el("value", 0, One, &[String]),
    el("period", 0, One, &[PERIOD]),
    el("assigner", 0, One, &[REF]),
];
const CODING_T: &[ElementDef] = &[
    el("system", 0, One, &[Uri]),
    el("version", 0, One, &[String]),
    el("code", 0, One, &[Code]),
    el("display", 0, One, &[String]),
    el("userSelected", 0, One, &[Boolean]),
];
const CC_T: &[ElementDef] = &[
    el("coding", 0, Many, &[CODING]),
    el("text", 0, One, &[String]),
];
const REFERENCE_T: &[ElementDef] = &[
    el("reference", 0, One, &[String]),
    el("type", 0, One, &[Uri]),
    el("identifier", 0, One, &[IDENTIFIER]),
    el("display", 0, One, &[String]),
];
const QUANTITY_T: &[ElementDef] = &[
    el("value", 0, One, &[Decimal]),
    el("comparator", 0, One, &[Code]).bind(&QUANTITY_COMPARATOR),
    el("unit", 0, One, &[String]),
    el("system", 0, One, &[Uri]),
    el("code", 0, One, &[Code]),
];
const PERIOD_T: &[ElementDef] = &[
    el("start", 0, One, &[DateTime]),
    el("end", 0, One, &[DateTime]),
];
const RANGE_T: &[ElementDef] = &[
    el("low", 0, One, &[QUANTITY]),
    el("high", 0, One, &[QUANTITY]),
];
const RATIO_T: &[ElementDef] = &[
    el("numerator", 0, One, &[QUANTITY]),
    el("denominator", 0, One, &[QUANTITY]),
];
const HUMAN_NAME_T: &[ElementDef] = &[
    el("use", 0, One, &[Code]).bind(&NAME_USE),
    el("text", 0, One, &[String]),
    el("family", 0, One, &[String]),
    el("given", 0, Many, &[String]),
    el("prefix", 0, Many, &[String]),
    el("suffix", 0, Many, &[String]),
    el("period", 0, One, &[PERIOD]),
];
const ADDRESS_T: &[ElementDef] = &[
    el("use", 0, One, &[Code]),
    el("type", 0, One, &[Code]),
    el("text", 0, One, &[String]),
    el("line", 0, Many, &[String]),
    el("city", 0, One, &[String]),
    el("district", 0, One, &[String]),
    el("state", 0, One, &[String]),
    el("postalCode", 0, One, &[String]),
    el("country", 0, One, &[String]),
    el("period", 0, One, &[PERIOD]),
];
const CONTACT_POINT_T: &[ElementDef] = &[
    el("system", 0, One, &[Code]).bind(&CONTACT_SYSTEM),
    el("value", 0, One, &[String]),
    el("use", 0, One, &[Code]).bind(&CONTACT_USE),
    el("rank", 0, One, &[PositiveInt]),
    el("period", 0, One, &[PERIOD]),
];
const ATTACHMENT_T: &[ElementDef] = &[
    el("contentType", 0, One, &[Code]),
    el("language", 0, One, &[Code]),
    el("data", 0, One, &[Base64Binary]),
    el("url", 0, One, &[Uri]),
    el("size", 0, One, &[UnsignedInt]),
    el("hash", 0, One, &[Base64Binary]),
    el("title", 0, One, &[String]),
    el("creation", 0, One, &[DateTime]),
];
const ANNOTATION_T: &[ElementDef] = &[
    el("author[x]", 0, One, &[REF, String]),
    el("time", 0, One, &[DateTime]),
    el("text", 1, One, &[String]),
];
const META_T: &[ElementDef] = &[
    el("versionId", 0, One, &[Id]),
    el("lastUpdated", 0, One, &[Instant]),
    el("source", 0, One, &[Uri]),
    el("profile", 0, Many, &[Uri]),
    el("security", 0, Many, &[CODING]),
    el("tag", 0, Many, &[CODING]),
];
const NARRATIVE_T: &[ElementDef] = &[
    el("status", 1, One, &[Code]).bind(&NARRATIVE_STATUS),
    el("div", 1, One, &[DataType::Xhtml]),
];
const EXTENSION_T: &[ElementDef] = &[el("url", 1, One, &[Uri])];
const TIMING_T: &[ElementDef] = &[
    el("event", 0, Many, &[DateTime]),
    el("repeat", 0, One, &[ANY]),
    el("code", 0, One, &[CC]),
];
const DOSAGE_T: &[ElementDef] = &[
    el("modifierExtension", 0, Many, &[EXTENSION]),
    el("sequence", 0, One, &[Integer]),
    el("text", 0, One, &[String]),
    el("additionalInstruction", 0, Many, &[CC]),
    el("patientInstruction", 0, One, &[String]),
    el("timing", 0, One, &[TIMING]),
    el("asNeeded[x]", 0, One, &[Boolean, CC]),
    el("site", 0, One, &[CC]),
    el("route", 0, One, &[CC]),
    el("method", 0, One, &[CC]),
    el("doseAndRate", 0, Many, &[ANY]),
    el("maxDosePerPeriod", 0, One, &[RATIO]),
    el("maxDosePerAdministration", 0, One, &[QUANTITY]),
    el("maxDosePerLifetime", 0, One, &[QUANTITY]),
];

use crate::datatype::DataType;
