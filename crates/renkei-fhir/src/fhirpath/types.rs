//! FHIR type names without a model: the R4 datatypes (for choice elements
//! like `valueQuantity`), the primitive specialisations, and what type an
//! item has.

use serde_json::Value;

use super::Item;

/// The R4 datatypes that may follow a choice element's name (FHIR R4
/// §2.24.0.1 and §2.24.0.2, the open type list of `Extension.value[x]`),
/// plus the few other complex types an element can carry.
const DATATYPES: &[&str] = &[
    // Primitives (lowercase in FHIR, capitalised in a choice key).
    "base64Binary",
    "boolean",
    "canonical",
    "code",
    "date",
    "dateTime",
    "decimal",
    "id",
    "instant",
    "integer",
    "markdown",
    "oid",
    "positiveInt",
    "string",
    "time",
    "unsignedInt",
    "uri",
    "url",
    "uuid",
    // General-purpose and metadata complex types.
    "Address",
    "Age",
    "Annotation",
    "Attachment",
    "CodeableConcept",
    "Coding",
    "ContactDetail",
    "ContactPoint",
    "Contributor",
    "Count",
    "DataRequirement",
    "Distance",
    "Dosage",
    "Duration",
    "Expression",
    "HumanName",
    "Identifier",
    "Meta",
    "Money",
    "ParameterDefinition",
    "Period",
    "Quantity",
    "Range",
    "Ratio",
    "Reference",
    "RelatedArtifact",
    "SampledData",
    "Signature",
    "Timing",
    "TriggerDefinition",
    "UsageContext",
    // Special-purpose types that appear as element types.
    "Narrative",
    "Extension",
    "ElementDefinition",
    "MarketingStatus",
    "Population",
    "ProdCharacteristic",
    "ProductShelfLife",
    "SubstanceAmount",
];

/// The datatype a choice key names after the element's name:
/// `choice_type("valueDateTime", "value")` is `dateTime`. `None` when the
/// key is not that element's choice (`valueset`, `valueFoo`).
pub(crate) fn choice_type(key: &str, name: &str) -> Option<&'static str> {
    let suffix = key.strip_prefix(name)?;
    let mut chars = suffix.chars();
    let first = chars.next()?;
    if !first.is_ascii_uppercase() {
        return None;
    }
    let rest = chars.as_str();
    DATATYPES.iter().copied().find(|t| {
        let mut t_chars = t.chars();
        t_chars
            .next()
            .is_some_and(|c| c.eq_ignore_ascii_case(&first))
            && t_chars.as_str() == rest
    })
}

/// The FHIR type a choice element's JSON suffix names, in the type's own
/// spelling (`DateTime` → `dateTime`, `Quantity` → `Quantity`); an unknown
/// suffix is returned as written.
pub(crate) fn type_of_suffix(suffix: &str) -> &str {
    let mut chars = suffix.chars();
    let Some(first) = chars.next() else {
        return suffix;
    };
    let rest = chars.as_str();
    DATATYPES
        .iter()
        .copied()
        .find(|t| {
            let mut t_chars = t.chars();
            t_chars
                .next()
                .is_some_and(|c| c.eq_ignore_ascii_case(&first))
                && t_chars.as_str() == rest
        })
        .unwrap_or(suffix)
}

/// The type a FHIR type specializes, if any (R4 `baseDefinition` of the
/// primitives and of the Quantity profiles), so `is(string)` holds for a
/// `code` and `is(Quantity)` for an `Age`.
fn base(ty: &str) -> Option<&'static str> {
    Some(match ty {
        "code" | "id" | "markdown" => "string",
        "canonical" | "url" | "uuid" | "oid" => "uri",
        "unsignedInt" | "positiveInt" => "integer",
        "Age" | "Count" | "Distance" | "Duration" | "MoneyQuantity" | "SimpleQuantity" => {
            "Quantity"
        }
        _ => return None,
    })
}

/// Resources that are not DomainResources (R4 §2.36).
const PLAIN_RESOURCES: [&str; 3] = ["Bundle", "Binary", "Parameters"];

/// Whether `item` is of type `wanted` or a specialization of it.
///
/// The type known is the choice suffix or literal type when the item carries
/// one, else the `resourceType` of a resource. A JSON primitive of unknown
/// FHIR type matches by its JSON kind: a string is a `string`, a boolean a
/// `boolean`, an integral number an `integer` (and a `decimal`, since JSON
/// cannot tell `1` from `1.0`'s intent), another number a `decimal`. An
/// object of unknown type matches nothing: without the model we cannot say
/// that `Patient.name` is a `HumanName`.
pub(crate) fn is_type(item: &Item<'_>, wanted: &str) -> bool {
    if let Some(known) = item.tag() {
        let mut ty = Some(known);
        while let Some(t) = ty {
            if t == wanted {
                return true;
            }
            ty = base(t);
        }
        return false;
    }
    match item.value() {
        Value::Object(o) => match o.get("resourceType").and_then(Value::as_str) {
            Some(rt) => {
                rt == wanted
                    || wanted == "Resource"
                    || (wanted == "DomainResource" && !PLAIN_RESOURCES.contains(&rt))
            }
            None => false,
        },
        Value::String(_) => wanted == "string",
        Value::Bool(_) => wanted == "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => wanted == "integer" || wanted == "decimal",
        Value::Number(_) => wanted == "decimal",
        Value::Null | Value::Array(_) => false,
    }
}

/// Temporal FHIR types: strings of these compare as dates and times.
pub(crate) fn is_temporal(ty: &str) -> bool {
    matches!(ty, "date" | "dateTime" | "instant" | "time")
}
