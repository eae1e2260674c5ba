//! The profiles the platform validates against, as tables.
//!
//! One [`Profile`] per resource type: the base R4 elements of that type with
//! their cardinality, datatypes and bindings, the layer every resource
//! passes first. What JP Core and JP-CLINS add is checked from their
//! published packages by [`crate::conformance`], not from tables here.
//! [`Variant`]s remain only for a profile no bundled package carries (the
//! base R4 vital-signs profile, until `hl7.fhir.r4.core` is bundled).

mod admin;
mod clinical;
mod medication;

use crate::element::ElementDef;
use crate::element::dsl::*;

/// Extra rules of a profile that a resource claims in `meta.profile`, for
/// profiles no bundled package carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// Canonical URL of the profile (matched without `|version`).
    pub url: &'static str,
    /// Elements this profile makes required (min 1), by JSON name; a choice
    /// element is named with `[x]`.
    pub required: &'static [&'static str],
    /// Identifier slices this profile requires: (slice name, system).
    pub identifiers: &'static [(&'static str, &'static str)],
}

/// The rules for one resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// The resource type.
    pub resource_type: &'static str,
    /// The JP Core profile this table stands for.
    pub url: &'static str,
    /// Element rows beyond the common [`RESOURCE_BASE`] ones.
    pub elements: &'static [ElementDef],
    /// Profile-claimed extra rules.
    pub variants: &'static [Variant],
}

/// Elements of every Resource and DomainResource (FHIR R4 §2.35, §2.36).
pub const RESOURCE_BASE: &[ElementDef] = &[
    el("id", 0, One, &[Id]),
    el("meta", 0, One, &[META]),
    el("implicitRules", 0, One, &[Uri]),
    el("language", 0, One, &[Code]),
    el("text", 0, One, &[NARRATIVE]),
    el("contained", 0, Many, &[Resource]),
    el("extension", 0, Many, &[EXTENSION]),
    el("modifierExtension", 0, Many, &[EXTENSION]),
];

/// Every profile table.
pub static PROFILES: &[&Profile] = &[
    &admin::PATIENT,
    &admin::COVERAGE,
    &admin::ORGANIZATION,
    &admin::PRACTITIONER,
    &admin::BUNDLE,
    &clinical::ENCOUNTER,
    &clinical::CONDITION,
    &clinical::OBSERVATION,
    &clinical::PROCEDURE,
    &clinical::ALLERGY_INTOLERANCE,
    &clinical::IMAGING_STUDY,
    &clinical::DIAGNOSTIC_REPORT,
    &clinical::IMMUNIZATION,
    &medication::MEDICATION_REQUEST,
    &medication::MEDICATION_DISPENSE,
];

/// The table for `resource_type`, or `None` when only base R4 rules apply.
pub fn for_type(resource_type: &str) -> Option<&'static Profile> {
    PROFILES
        .iter()
        .copied()
        .find(|p| p.resource_type == resource_type)
}

impl Profile {
    /// The variants claimed by these `meta.profile` URLs.
    pub fn claimed<'a>(
        &'static self,
        claims: &'a [&'a str],
    ) -> impl Iterator<Item = &'static Variant> + 'a {
        self.variants.iter().filter(move |v| {
            claims
                .iter()
                .any(|c| c.split('|').next().is_some_and(|u| u == v.url))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_requirements_name_real_elements() {
        for p in PROFILES {
            for v in p.variants {
                for r in v.required {
                    assert!(
                        p.elements.iter().any(|e| e.name == *r),
                        "{}: {r}",
                        p.resource_type
                    );
                }
            }
        }
    }

    #[test]
    fn one_profile_per_type() {
        for (i, p) in PROFILES.iter().enumerate() {
            assert!(
                PROFILES[..i]
                    .iter()
                    .all(|q| q.resource_type != p.resource_type)
            );
            assert!(crate::resource_type::is_resource_type(p.resource_type));
        }
    }
}
