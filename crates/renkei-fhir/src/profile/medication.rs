//! Medication resources: MedicationRequest and MedicationDispense
//! (FHIR R4 §11.4, §11.5; JP Core JP_MedicationRequest,
//! JP_MedicationRequest_Injection, JP_MedicationDispense).

use super::Profile;
use crate::element::Binding;
use crate::element::dsl::*;

static MEDREQ_STATUS: Binding = codes(
    "http://hl7.org/fhir/ValueSet/medicationrequest-status",
    &[
        "active",
        "on-hold",
        "cancelled",
        "completed",
        "entered-in-error",
        "stopped",
        "draft",
        "unknown",
    ],
);
static MEDREQ_INTENT: Binding = codes(
    "http://hl7.org/fhir/ValueSet/medicationrequest-intent",
    &[
        "proposal",
        "plan",
        "order",
        "original-order",
        "reflex-order",
        "filler-order",
        "instance-order",
        "option",
    ],
);
static REQUEST_PRIORITY: Binding = codes(
    "http://hl7.org/fhir/ValueSet/request-priority",
    &["routine", "urgent", "asap", "stat"],
);
static MEDDISP_STATUS: Binding = codes(
    "http://hl7.org/fhir/ValueSet/medicationdispense-status",
    &[
        "preparation",
        "in-progress",
        "cancelled",
        "on-hold",
        "completed",
        "entered-in-error",
        "stopped",
        "declined",
        "unknown",
    ],
);

/// JP_MedicationRequest.
pub static MEDICATION_REQUEST: Profile = Profile {
    resource_type: "MedicationRequest",
    url: "http://jpfhir.jp/fhir/core/StructureDefinition/JP_MedicationRequest",
    elements: &[
        el("identifier", 0, Many, &[IDENTIFIER]),
        el("status", 1, One, &[Code]).bind(&MEDREQ_STATUS),
        el("statusReason", 0, One, &[CC]),
        el("intent", 1, One, &[Code]).bind(&MEDREQ_INTENT),
        el("category", 0, Many, &[CC]),
        el("priority", 0, One, &[Code]).bind(&REQUEST_PRIORITY),
        el("doNotPerform", 0, One, &[Boolean]),
        el("reported[x]", 0, One, &[Boolean, REF]),
        el("medication[x]", 1, One, &[CC, REF]),
        el("subject", 1, One, &[REF]),
        el("encounter", 0, One, &[REF]),
        el("supportingInformation", 0, Many, &[REF]),
        el("authoredOn", 0, One, &[DateTime]),
        el("requester", 0, One, &[REF]),
        el("performer", 0, One, &[REF]),
        el("performerType", 0, One, &[CC]),
        el("recorder", 0, One, &[REF]),
        el("reasonCode", 0, Many, &[CC]),
        el("reasonReference", 0, Many, &[REF]),
        el("instantiatesCanonical", 0, Many, &[Uri]),
        el("instantiatesUri", 0, Many, &[Uri]),
        el("basedOn", 0, Many, &[REF]),
        el("groupIdentifier", 0, One, &[IDENTIFIER]),
        el("courseOfTherapyType", 0, One, &[CC]),
        el("insurance", 0, Many, &[REF]),
        el("note", 0, Many, &[ANNOTATION]),
        el("dosageInstruction", 0, Many, &[DOSAGE]),
        el("dispenseRequest", 0, One, &[Backbone]).with(&[
            el("initialFill", 0, One, &[ANY]),
            el("dispenseInterval", 0, One, &[DURATION]),
            el("validityPeriod", 0, One, &[PERIOD]),
            el("numberOfRepeatsAllowed", 0, One, &[UnsignedInt]),
            el("quantity", 0, One, &[QUANTITY]),
            el("expectedSupplyDuration", 0, One, &[DURATION]),
            el("performer", 0, One, &[REF]),
        ]),
        el("substitution", 0, One, &[Backbone]).with(&[
            el("allowed[x]", 1, One, &[Boolean, CC]),
            el("reason", 0, One, &[CC]),
        ]),
        el("priorPrescription", 0, One, &[REF]),
        el("detectedIssue", 0, Many, &[REF]),
        el("eventHistory", 0, Many, &[REF]),
    ],
    variants: &[],
};

/// JP_MedicationDispense.
pub static MEDICATION_DISPENSE: Profile = Profile {
    resource_type: "MedicationDispense",
    url: "http://jpfhir.jp/fhir/core/StructureDefinition/JP_MedicationDispense",
    elements: &[
        el("identifier", 0, Many, &[IDENTIFIER]),
        el("partOf", 0, Many, &[REF]),
        el("status", 1, One, &[Code]).bind(&MEDDISP_STATUS),
        el("statusReason[x]", 0, One, &[CC, REF]),
        el("category", 0, One, &[CC]),
        el("medication[x]", 1, One, &[CC, REF]),
        el("subject", 0, One, &[REF]),
        el("context", 0, One, &[REF]),
        el("supportingInformation", 0, Many, &[REF]),
        el("performer", 0, Many, &[Backbone])
            .with(&[el("function", 0, One, &[CC]), el("actor", 1, One, &[REF])]),
        el("location", 0, One, &[REF]),
        el("authorizingPrescription", 0, Many, &[REF]),
        el("type", 0, One, &[CC]),
        el("quantity", 0, One, &[QUANTITY]),
        el("daysSupply", 0, One, &[QUANTITY]),
        el("whenPrepared", 0, One, &[DateTime]),
        el("whenHandedOver", 0, One, &[DateTime]),
        el("destination", 0, One, &[REF]),
        el("receiver", 0, Many, &[REF]),
        el("note", 0, Many, &[ANNOTATION]),
        el("dosageInstruction", 0, Many, &[DOSAGE]),
        el("substitution", 0, One, &[Backbone]).with(&[
            el("wasSubstituted", 1, One, &[Boolean]),
            el("type", 0, One, &[CC]),
            el("reason", 0, Many, &[CC]),
            el("responsibleParty", 0, Many, &[REF]),
        ]),
        el("detectedIssue", 0, Many, &[REF]),
        el("eventHistory", 0, Many, &[REF]),
    ],
    variants: &[],
};
