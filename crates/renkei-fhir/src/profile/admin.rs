//! Administrative resources: Patient, Coverage, Organization, Practitioner,
//! and Bundle (FHIR R4 §8.1, §15.1, §8.2, §8.4, §2.36).

use super::Profile;
use crate::element::dsl::*;
use crate::element::{Binding, ElementDef};

static GENDER: Binding = codes(
    "http://hl7.org/fhir/ValueSet/administrative-gender",
    &["male", "female", "other", "unknown"],
);
static FM_STATUS: Binding = codes(
    "http://hl7.org/fhir/ValueSet/fm-status",
    &["active", "cancelled", "draft", "entered-in-error"],
);
static BUNDLE_TYPE: Binding = codes(
    "http://hl7.org/fhir/ValueSet/bundle-type",
    &[
        "document",
        "message",
        "transaction",
        "transaction-response",
        "batch",
        "batch-response",
        "history",
        "searchset",
        "collection",
    ],
);
static HTTP_VERB: Binding = codes(
    "http://hl7.org/fhir/ValueSet/http-verb",
    &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"],
);

/// JP_Patient.
pub static PATIENT: Profile = Profile {
    resource_type: "Patient",
    url: "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient",
    elements: &[
        el("identifier", 0, Many, &[IDENTIFIER]),
        el("active", 0, One, &[Boolean]),
        el("name", 0, Many, &[HUMAN_NAME]),
        el("telecom", 0, Many, &[CONTACT_POINT]),
        el("gender", 0, One, &[Code]).bind(&GENDER),
        el("birthDate", 0, One, &[Date]),
        el("deceased[x]", 0, One, &[Boolean, DateTime]),
        el("address", 0, Many, &[ADDRESS]),
        el("maritalStatus", 0, One, &[CC]),
        el("multipleBirth[x]", 0, One, &[Boolean, Integer]),
        el("photo", 0, Many, &[ATTACHMENT]),
        el("contact", 0, Many, &[Backbone]).with(&[
            el("relationship", 0, Many, &[CC]),
            el("name", 0, One, &[HUMAN_NAME]),
            el("telecom", 0, Many, &[CONTACT_POINT]),
            el("address", 0, One, &[ADDRESS]),
            el("gender", 0, One, &[Code]).bind(&GENDER),
            el("organization", 0, One, &[REF]),
            el("period", 0, One, &[PERIOD]),
        ]),
        el("communication", 0, Many, &[Backbone]).with(&[
            el("language", 1, One, &[CC]),
            el("preferred", 0, One, &[Boolean]),
        ]),
        el("generalPractitioner", 0, Many, &[REF]),
        el("managingOrganization", 0, One, &[REF]),
        el("link", 0, Many, &[Backbone])
            .with(&[el("other", 1, One, &[REF]), el("type", 1, One, &[Code])]),
    ],
    variants: &[],
};

/// JP_Coverage.
pub static COVERAGE: Profile = Profile {
    resource_type: "Coverage",
    url: "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Coverage",
    elements: &[
        el("identifier", 0, Many, &[IDENTIFIER]),
        el("status", 1, One, &[Code]).bind(&FM_STATUS),
        el("type", 0, One, &[CC]),
        el("policyHolder", 0, One, &[REF]),
        el("subscriber", 0, One, &[REF]),
        el("subscriberId", 0, One, &[String]),
        el("beneficiary", 1, One, &[REF]),
        el("dependent", 0, One, &[String]),
        el("relationship", 0, One, &[CC]),
        el("period", 0, One, &[PERIOD]),
        el("payor", 1, Many, &[REF]),
        el("class", 0, Many, &[Backbone]).with(&[
            el("type", 1, One, &[CC]),
            el("value", 1, One, &[String]),
            el("name", 0, One, &[String]),
        ]),
        el("order", 0, One, &[PositiveInt]),
        el("network", 0, One, &[String]),
        el("costToBeneficiary", 0, Many, &[ANY]),
        el("subrogation", 0, One, &[Boolean]),
        el("contract", 0, Many, &[REF]),
    ],
    variants: &[],
};

/// JP_Organization.
pub static ORGANIZATION: Profile = Profile {
    resource_type: "Organization",
    url: "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Organization",
    elements: &[
        el("identifier", 0, Many, &[IDENTIFIER]),
        el("active", 0, One, &[Boolean]),
        el("type", 0, Many, &[CC]),
        el("name", 0, One, &[String]),
        el("alias", 0, Many, &[String]),
        el("telecom", 0, Many, &[CONTACT_POINT]),
        el("address", 0, Many, &[ADDRESS]),
        el("partOf", 0, One, &[REF]),
        el("contact", 0, Many, &[ANY]),
        el("endpoint", 0, Many, &[REF]),
    ],
    variants: &[],
};

/// JP_Practitioner.
pub static PRACTITIONER: Profile = Profile {
    resource_type: "Practitioner",
    url: "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Practitioner",
    elements: &[
        el("identifier", 0, Many, &[IDENTIFIER]),
        el("active", 0, One, &[Boolean]),
        el("name", 0, Many, &[HUMAN_NAME]),
        el("telecom", 0, Many, &[CONTACT_POINT]),
        el("address", 0, Many, &[ADDRESS]),
        el("gender", 0, One, &[Code]).bind(&GENDER),
        el("birthDate", 0, One, &[Date]),
        el("photo", 0, Many, &[ATTACHMENT]),
        el("qualification", 0, Many, &[Backbone]).with(QUALIFICATION),
        el("communication", 0, Many, &[CC]),
    ],
    variants: &[],
};

const QUALIFICATION: &[ElementDef] = &[
    el("identifier", 0, Many, &[IDENTIFIER]),
    el("code", 1, One, &[CC]),
    el("period", 0, One, &[PERIOD]),
    el("issuer", 0, One, &[REF]),
];

/// Bundle: entries are validated as resources of their own type, located
/// `Bundle.entry[i].resource` (FHIR R4 §2.36).
pub static BUNDLE: Profile = Profile {
    resource_type: "Bundle",
    url: "http://hl7.org/fhir/StructureDefinition/Bundle",
    elements: &[
        el("identifier", 0, One, &[IDENTIFIER]),
        el("type", 1, One, &[Code]).bind(&BUNDLE_TYPE),
        el("timestamp", 0, One, &[Instant]),
        el("total", 0, One, &[UnsignedInt]),
        el("link", 0, Many, &[ANY]),
        el("entry", 0, Many, &[Backbone]).with(&[
            el("link", 0, Many, &[ANY]),
            el("fullUrl", 0, One, &[Uri]),
            el("resource", 0, One, &[Resource]),
            el("search", 0, One, &[ANY]),
            el("request", 0, One, &[Backbone]).with(&[
                el("method", 1, One, &[Code]).bind(&HTTP_VERB),
                el("url", 1, One, &[Uri]),
                el("ifNoneMatch", 0, One, &[String]),
                el("ifModifiedSince", 0, One, &[Instant]),
                el("ifMatch", 0, One, &[String]),
                el("ifNoneExist", 0, One, &[String]),
            ]),
            el("response", 0, One, &[ANY]),
        ]),
        el("signature", 0, One, &[ANY]),
    ],
    variants: &[],
};
