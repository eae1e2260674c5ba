//! Clinical resources: Encounter, Condition, Observation, Procedure,
//! AllergyIntolerance, ImagingStudy, DiagnosticReport, Immunization
//! (FHIR R4 element tables; JP Core 1.1.x profiles
//! `http://jpfhir.jp/fhir/core/StructureDefinition/JP_*`).

use super::{Profile, Variant};
use crate::element::Binding;
use crate::element::dsl::*;

static ENCOUNTER_STATUS: Binding = codes(
    "http://hl7.org/fhir/ValueSet/encounter-status",
    &[
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown",
    ],
);
static CONDITION_CLINICAL: Binding = system(
    "http://hl7.org/fhir/ValueSet/condition-clinical",
    "http://terminology.hl7.org/CodeSystem/condition-clinical",
);
static CONDITION_VER: Binding = system(
    "http://hl7.org/fhir/ValueSet/condition-ver-status",
    "http://terminology.hl7.org/CodeSystem/condition-ver-status",
);
static OBSERVATION_STATUS: Binding = codes(
    "http://hl7.org/fhir/ValueSet/observation-status",
    &[
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    ],
);
static EVENT_STATUS: Binding = codes(
    "http://hl7.org/fhir/ValueSet/event-status",
    &[
        "preparation",
        "in-progress",
        "not-done",
        "on-hold",
        "stopped",
        "completed",
        "entered-in-error",
        "unknown",
    ],
);
static ALLERGY_CLINICAL: Binding = system(
    "http://hl7.org/fhir/ValueSet/allergyintolerance-clinical",
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
);
static ALLERGY_VER: Binding = system(
    "http://hl7.org/fhir/ValueSet/allergyintolerance-verification",
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
);
static ALLERGY_TYPE: Binding = codes(
    "http://hl7.org/fhir/ValueSet/allergy-intolerance-type",
    &["allergy", "intolerance"],
);
static ALLERGY_CATEGORY: Binding = codes(
    "http://hl7.org/fhir/ValueSet/allergy-intolerance-category",
    &["food", "medication", "environment", "biologic"],
);
static ALLERGY_CRITICALITY: Binding = codes(
    "http://hl7.org/fhir/ValueSet/allergy-intolerance-criticality",
    &["low", "high", "unable-to-assess"],
);
static IMAGING_STATUS: Binding = codes(
    "http://hl7.org/fhir/ValueSet/imagingstudy-status",
    &[
        "registered",
        "available",
        "cancelled",
        "entered-in-error",
        "unknown",
    ],
);
static REPORT_STATUS: Binding = codes(
    "http://hl7.org/fhir/ValueSet/diagnostic-report-status",
    &[
        "registered",
        "partial",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "appended",
        "cancelled",
        "entered-in-error",
        "unknown",
    ],
);
static IMMUNIZATION_STATUS: Binding = codes(
    "http://hl7.org/fhir/ValueSet/immunization-status",
    &["completed", "entered-in-error", "not-done"],
);

/// JP_Encounter.
pub static ENCOUNTER: Profile = Profile {
    resource_type: "Encounter",
    url: "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Encounter",
    elements: &[
        el("identifier", 0, Many, &[IDENTIFIER]),
        el("status", 1, One, &[Code]).bind(&ENCOUNTER_STATUS),
        el("statusHistory", 0, Many, &[Backbone]).with(&[
            el("status", 1, One, &[Code]).bind(&ENCOUNTER_STATUS),
            el("period", 1, One, &[PERIOD]),
        ]),
        el("class", 1, One, &[CODING]),
        el("classHistory", 0, Many, &[Backbone]).with(&[
            el("class", 1, One, &[CODING]),
            el("period", 1, One, &[PERIOD]),
        ]),
        el("type", 0, Many, &[CC]),
        el("serviceType", 0, One, &[CC]),
        el("priority", 0, One, &[CC]),
        el("subject", 0, One, &[REF]),
        el("episodeOfCare", 0, Many, &[REF]),
        el("basedOn", 0, Many, &[REF]),
        el("participant", 0, Many, &[ANY]),
        el("appointment", 0, Many, &[REF]),
        el("period", 0, One, &[PERIOD]),
        el("length", 0, One, &[DURATION]),
        el("reasonCode", 0, Many, &[CC]),
        el("reasonReference", 0, Many, &[REF]),
        el("diagnosis", 0, Many, &[Backbone]).with(&[
            el("condition", 1, One, &[REF]),
            el("use", 0, One, &[CC]),
            el("rank", 0, One, &[PositiveInt]),
        ]),
        el("account", 0, Many, &[REF]),
        el("hospitalization", 0, One, &[ANY]),
        el("location", 0, Many, &[Backbone]).with(&[
            el("location", 1, One, &[REF]),
            el("status", 0, One, &[Code]),
            el("physicalType", 0, One, &[CC]),
            el("period", 0, One, &[PERIOD]),
        ]),
        el("serviceProvider", 0, One, &[REF]),
        el("partOf", 0, One, &[REF]),
    ],
    variants: &[],
};

/// JP_Condition: code from MEDIS 標準病名 / ICD-10 (extensible in JP Core,
/// so other systems are accepted), clinicalStatus and verificationStatus
/// with the required R4 bindings.
pub static CONDITION: Profile = Profile {
    resource_type: "Condition",
    url: "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Condition",
    elements: &[
        el("identifier", 0, Many, &[IDENTIFIER]),
        el("clinicalStatus", 0, One, &[CC]).bind(&CONDITION_CLINICAL),
        el("verificationStatus", 0, One, &[CC]).bind(&CONDITION_VER),
        el("category", 0, Many, &[CC]),
        el("severity", 0, One, &[CC]),
        el("code", 0, One, &[CC]),
        el("bodySite", 0, Many, &[CC]),
        el("subject", 1, One, &[REF]),
        el("encounter", 0, One, &[REF]),
        el("onset[x]", 0, One, &[DateTime, AGE, PERIOD, RANGE, String]),
        el(
            "abatement[x]",
            0,
            One,
            &[DateTime, AGE, PERIOD, RANGE, String],
        ),
        el("recordedDate", 0, One, &[DateTime]),
        el("recorder", 0, One, &[REF]),
        el("asserter", 0, One, &[REF]),
        el("stage", 0, Many, &[ANY]),
        el("evidence", 0, Many, &[ANY]),
        el("note", 0, Many, &[ANNOTATION]),
    ],
    variants: &[],
};

/// JP_Observation_Common and its lab-result and vital-sign children.
pub static OBSERVATION: Profile = Profile {
    resource_type: "Observation",
    url: "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Observation_Common",
    elements: &[
        el("identifier", 0, Many, &[IDENTIFIER]),
        el("basedOn", 0, Many, &[REF]),
        el("partOf", 0, Many, &[REF]),
        el("status", 1, One, &[Code]).bind(&OBSERVATION_STATUS),
        el("category", 0, Many, &[CC]),
        el("code", 1, One, &[CC]),
        el("subject", 0, One, &[REF]),
        el("focus", 0, Many, &[REF]),
        el("encounter", 0, One, &[REF]),
        el("effective[x]", 0, One, &[DateTime, PERIOD, TIMING, Instant]),
        el("issued", 0, One, &[Instant]),
        el("performer", 0, Many, &[REF]),
        el("value[x]", 0, One, OBS_VALUE),
        el("dataAbsentReason", 0, One, &[CC]),
        el("interpretation", 0, Many, &[CC]),
        el("note", 0, Many, &[ANNOTATION]),
        el("bodySite", 0, One, &[CC]),
        el("method", 0, One, &[CC]),
        el("specimen", 0, One, &[REF]),
        el("device", 0, One, &[REF]),
        el("referenceRange", 0, Many, &[Backbone]).with(&[
            el("low", 0, One, &[QUANTITY]),
            el("high", 0, One, &[QUANTITY]),
            el("type", 0, One, &[CC]),
            el("appliesTo", 0, Many, &[CC]),
            el("age", 0, One, &[RANGE]),
            el("text", 0, One, &[String]),
        ]),
        el("hasMember", 0, Many, &[REF]),
        el("derivedFrom", 0, Many, &[REF]),
        el("component", 0, Many, &[Backbone]).with(&[
            el("code", 1, One, &[CC]),
            el("value[x]", 0, One, OBS_VALUE),
            el("dataAbsentReason", 0, One, &[CC]),
            el("interpretation", 0, Many, &[CC]),
            el("referenceRange", 0, Many, &[ANY]),
        ]),
    ],
    // JP Core lab results and vital signs, like the HL7 vital-signs profile
    // (R4 §vitalsigns), require a category, a subject and an effective time.
    // JP Core's own profiles are checked from their published package
    // (`crate::conformance`); the base R4 vital-signs profile is not
    // bundled yet, so its three requirements stay here.
    variants: &[Variant {
        url: "http://hl7.org/fhir/StructureDefinition/vitalsigns",
        required: &["category", "subject", "effective[x]"],
        identifiers: &[],
    }],
};

const OBS_VALUE: &[crate::datatype::DataType] = &[
    QUANTITY,
    CC,
    String,
    Boolean,
    Integer,
    RANGE,
    RATIO,
    SAMPLED_DATA,
    Time,
    DateTime,
    PERIOD,
];

/// JP_Procedure.
pub static PROCEDURE: Profile = Profile {
    resource_type: "Procedure",
    url: "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Procedure",
    elements: &[
        el("identifier", 0, Many, &[IDENTIFIER]),
        el("instantiatesCanonical", 0, Many, &[Uri]),
        el("instantiatesUri", 0, Many, &[Uri]),
        el("basedOn", 0, Many, &[REF]),
        el("partOf", 0, Many, &[REF]),
        el("status", 1, One, &[Code]).bind(&EVENT_STATUS),
        el("statusReason", 0, One, &[CC]),
        el("category", 0, One, &[CC]),
        el("code", 0, One, &[CC]),
        el("subject", 1, One, &[REF]),
        el("encounter", 0, One, &[REF]),
        el(
            "performed[x]",
            0,
            One,
            &[DateTime, PERIOD, String, AGE, RANGE],
        ),
        el("recorder", 0, One, &[REF]),
        el("asserter", 0, One, &[REF]),
        el("performer", 0, Many, &[Backbone]).with(&[
            el("function", 0, One, &[CC]),
            el("actor", 1, One, &[REF]),
            el("onBehalfOf", 0, One, &[REF]),
        ]),
        el("location", 0, One, &[REF]),
        el("reasonCode", 0, Many, &[CC]),
        el("reasonReference", 0, Many, &[REF]),
        el("bodySite", 0, Many, &[CC]),
        el("outcome", 0, One, &[CC]),
        el("report", 0, Many, &[REF]),
        el("complication", 0, Many, &[CC]),
        el("complicationDetail", 0, Many, &[REF]),
        el("followUp", 0, Many, &[CC]),
        el("note", 0, Many, &[ANNOTATION]),
        el("focalDevice", 0, Many, &[ANY]),
        el("usedReference", 0, Many, &[REF]),
        el("usedCode", 0, Many, &[CC]),
    ],
    variants: &[],
};

/// JP_AllergyIntolerance.
pub static ALLERGY_INTOLERANCE: Profile = Profile {
    resource_type: "AllergyIntolerance",
    url: "http://jpfhir.jp/fhir/core/StructureDefinition/JP_AllergyIntolerance",
    elements: &[
        el("identifier", 0, Many, &[IDENTIFIER]),
        el("clinicalStatus", 0, One, &[CC]).bind(&ALLERGY_CLINICAL),
        el("verificationStatus", 0, One, &[CC]).bind(&ALLERGY_VER),
        el("type", 0, One, &[Code]).bind(&ALLERGY_TYPE),
        el("category", 0, Many, &[Code]).bind(&ALLERGY_CATEGORY),
        el("criticality", 0, One, &[Code]).bind(&ALLERGY_CRITICALITY),
        el("code", 0, One, &[CC]),
        el("patient", 1, One, &[REF]),
        el("encounter", 0, One, &[REF]),
        el("onset[x]", 0, One, &[DateTime, AGE, PERIOD, RANGE, String]),
        el("recordedDate", 0, One, &[DateTime]),
        el("recorder", 0, One, &[REF]),
        el("asserter", 0, One, &[REF]),
        el("lastOccurrence", 0, One, &[DateTime]),
        el("note", 0, Many, &[ANNOTATION]),
        el("reaction", 0, Many, &[Backbone]).with(&[
            el("substance", 0, One, &[CC]),
            el("manifestation", 1, Many, &[CC]),
            el("description", 0, One, &[String]),
            el("onset", 0, One, &[DateTime]),
            el("severity", 0, One, &[Code]),
            el("exposureRoute", 0, One, &[CC]),
            el("note", 0, Many, &[ANNOTATION]),
        ]),
    ],
    variants: &[],
};

/// JP_ImagingStudy_Radiology.
pub static IMAGING_STUDY: Profile = Profile {
    resource_type: "ImagingStudy",
    url: "http://jpfhir.jp/fhir/core/StructureDefinition/JP_ImagingStudy_Radiology",
    elements: &[
        el("identifier", 0, Many, &[IDENTIFIER]),
        el("status", 1, One, &[Code]).bind(&IMAGING_STATUS),
        el("modality", 0, Many, &[CODING]),
        el("subject", 1, One, &[REF]),
        el("encounter", 0, One, &[REF]),
        el("started", 0, One, &[DateTime]),
        el("basedOn", 0, Many, &[REF]),
        el("referrer", 0, One, &[REF]),
        el("interpreter", 0, Many, &[REF]),
        el("endpoint", 0, Many, &[REF]),
        el("numberOfSeries", 0, One, &[UnsignedInt]),
        el("numberOfInstances", 0, One, &[UnsignedInt]),
        el("procedureReference", 0, One, &[REF]),
        el("procedureCode", 0, Many, &[CC]),
        el("location", 0, One, &[REF]),
        el("reasonCode", 0, Many, &[CC]),
        el("reasonReference", 0, Many, &[REF]),
        el("note", 0, Many, &[ANNOTATION]),
        el("description", 0, One, &[String]),
        el("series", 0, Many, &[Backbone]).with(&[
            el("uid", 1, One, &[Id]),
            el("number", 0, One, &[UnsignedInt]),
            el("modality", 1, One, &[CODING]),
            el("description", 0, One, &[String]),
            el("numberOfInstances", 0, One, &[UnsignedInt]),
            el("endpoint", 0, Many, &[REF]),
            el("bodySite", 0, One, &[CODING]),
            el("laterality", 0, One, &[CODING]),
            el("specimen", 0, Many, &[REF]),
            el("started", 0, One, &[DateTime]),
            el("performer", 0, Many, &[ANY]),
            el("instance", 0, Many, &[Backbone]).with(&[
                el("uid", 1, One, &[Id]),
                el("sopClass", 1, One, &[CODING]),
                el("number", 0, One, &[UnsignedInt]),
                el("title", 0, One, &[String]),
            ]),
        ]),
    ],
    variants: &[],
};

/// JP_DiagnosticReport_Common (lab results and radiology).
pub static DIAGNOSTIC_REPORT: Profile = Profile {
    resource_type: "DiagnosticReport",
    url: "http://jpfhir.jp/fhir/core/StructureDefinition/JP_DiagnosticReport_Common",
    elements: &[
        el("identifier", 0, Many, &[IDENTIFIER]),
        el("basedOn", 0, Many, &[REF]),
        el("status", 1, One, &[Code]).bind(&REPORT_STATUS),
        el("category", 0, Many, &[CC]),
        el("code", 1, One, &[CC]),
        el("subject", 0, One, &[REF]),
        el("encounter", 0, One, &[REF]),
        el("effective[x]", 0, One, &[DateTime, PERIOD]),
        el("issued", 0, One, &[Instant]),
        el("performer", 0, Many, &[REF]),
        el("resultsInterpreter", 0, Many, &[REF]),
        el("specimen", 0, Many, &[REF]),
        el("result", 0, Many, &[REF]),
        el("imagingStudy", 0, Many, &[REF]),
        el("media", 0, Many, &[Backbone])
            .with(&[el("comment", 0, One, &[String]), el("link", 1, One, &[REF])]),
        el("conclusion", 0, One, &[String]),
        el("conclusionCode", 0, Many, &[CC]),
        el("presentedForm", 0, Many, &[ATTACHMENT]),
    ],
    variants: &[],
};

/// JP_Immunization.
pub static IMMUNIZATION: Profile = Profile {
    resource_type: "Immunization",
    url: "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Immunization",
    elements: &[
        el("identifier", 0, Many, &[IDENTIFIER]),
        el("status", 1, One, &[Code]).bind(&IMMUNIZATION_STATUS),
        el("statusReason", 0, One, &[CC]),
        el("vaccineCode", 1, One, &[CC]),
        el("patient", 1, One, &[REF]),
        el("encounter", 0, One, &[REF]),
        el("occurrence[x]", 1, One, &[DateTime, String]),
        el("recorded", 0, One, &[DateTime]),
        el("primarySource", 0, One, &[Boolean]),
        el("reportOrigin", 0, One, &[CC]),
        el("location", 0, One, &[REF]),
        el("manufacturer", 0, One, &[REF]),
        el("lotNumber", 0, One, &[String]),
        el("expirationDate", 0, One, &[Date]),
        el("site", 0, One, &[CC]),
        el("route", 0, One, &[CC]),
        el("doseQuantity", 0, One, &[QUANTITY]),
        el("performer", 0, Many, &[Backbone])
            .with(&[el("function", 0, One, &[CC]), el("actor", 1, One, &[REF])]),
        el("note", 0, Many, &[ANNOTATION]),
        el("reasonCode", 0, Many, &[CC]),
        el("reasonReference", 0, Many, &[REF]),
        el("isSubpotent", 0, One, &[Boolean]),
        el("subpotentReason", 0, Many, &[CC]),
        el("education", 0, Many, &[ANY]),
        el("programEligibility", 0, Many, &[CC]),
        el("fundingSource", 0, One, &[CC]),
        el("reaction", 0, Many, &[ANY]),
        el("protocolApplied", 0, Many, &[ANY]),
    ],
    variants: &[],
};
