//! Element definitions: the rows of the tables that drive validation.
//!
//! A row is the part of a StructureDefinition element (FHIR R4 §2.12
//! ElementDefinition) that this validator checks: name, cardinality
//! (`min`..`max`), allowed datatypes, a terminology binding and, for a
//! BackboneElement, its own rows.

use crate::datatype::DataType;

/// Upper cardinality: `1` or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Max {
    /// At most one; JSON holds a single value.
    One,
    /// Any number; JSON holds a non-empty array (§2.6.2).
    Many,
}

/// Binding strength (FHIR R4 §4.1.0.2, value set `binding-strength`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strength {
    /// A value outside the binding is an error.
    Required,
    /// A value outside the binding is a warning (we cannot prove it invalid).
    Extensible,
}

/// A terminology binding: either a closed list of codes for a `code`
/// element, or the code system a Coding/CodeableConcept must use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// Canonical URL of the bound value set, for diagnostics.
    pub value_set: &'static str,
    /// How strict.
    pub strength: Strength,
    /// The code system a coding must come from (`None` for `code` elements).
    pub system: Option<&'static str>,
    /// The allowed codes (empty: any code of `system`).
    pub codes: &'static [&'static str],
}

/// One row: an element of a resource, datatype or backbone element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElementDef {
    /// JSON name; a choice element ends in `[x]` (`value[x]`).
    pub name: &'static str,
    /// Minimum count.
    pub min: u32,
    /// Maximum count.
    pub max: Max,
    /// Allowed datatypes (several only for choice elements).
    pub types: &'static [DataType],
    /// Terminology binding, if checked.
    pub binding: Option<&'static Binding>,
    /// Rows of a BackboneElement.
    pub children: &'static [ElementDef],
}

impl ElementDef {
    /// A row with no binding and no children.
    pub const fn new(name: &'static str, min: u32, max: Max, types: &'static [DataType]) -> Self {
        ElementDef {
            name,
            min,
            max,
            types,
            binding: None,
            children: &[],
        }
    }

    /// This row bound to `b`.
    pub const fn bind(self, b: &'static Binding) -> Self {
        ElementDef {
            binding: Some(b),
            ..self
        }
    }

    /// This row as a BackboneElement with `children`.
    pub const fn with(self, children: &'static [ElementDef]) -> Self {
        ElementDef { children, ..self }
    }

    /// Whether this is a choice element (`value[x]`).
    pub fn choice_prefix(&self) -> Option<&'static str> {
        self.name.strip_suffix("[x]")
    }
}

/// Shorthands that keep the tables one row per line.
pub mod dsl {
    pub use super::Max::{Many, One};
    use super::{Binding, ElementDef, Max, Strength};
    use crate::datatype::DataType;
    pub use crate::datatype::DataType::{
        Backbone, Base64Binary, Boolean, Code, Date, DateTime, Decimal, Id, Instant, Integer,
        PositiveInt, Resource, String, Time, UnsignedInt, Uri,
    };
    use crate::datatype::complex::Complex as C;

    /// Identifier.
    pub const IDENTIFIER: DataType = DataType::Complex(C::Identifier);
    /// Coding.
    pub const CODING: DataType = DataType::Complex(C::Coding);
    /// CodeableConcept.
    pub const CC: DataType = DataType::Complex(C::CodeableConcept);
    /// Reference.
    pub const REF: DataType = DataType::Complex(C::Reference);
    /// Quantity (and SimpleQuantity).
    pub const QUANTITY: DataType = DataType::Complex(C::Quantity);
    /// Age.
    pub const AGE: DataType = DataType::Complex(C::Age);
    /// Duration.
    pub const DURATION: DataType = DataType::Complex(C::Duration);
    /// Period.
    pub const PERIOD: DataType = DataType::Complex(C::Period);
    /// Range.
    pub const RANGE: DataType = DataType::Complex(C::Range);
    /// Ratio.
    pub const RATIO: DataType = DataType::Complex(C::Ratio);
    /// HumanName.
    pub const HUMAN_NAME: DataType = DataType::Complex(C::HumanName);
    /// Address.
    pub const ADDRESS: DataType = DataType::Complex(C::Address);
    /// ContactPoint.
    pub const CONTACT_POINT: DataType = DataType::Complex(C::ContactPoint);
    /// Attachment.
    pub const ATTACHMENT: DataType = DataType::Complex(C::Attachment);
    /// Annotation.
    pub const ANNOTATION: DataType = DataType::Complex(C::Annotation);
    /// Meta.
    pub const META: DataType = DataType::Complex(C::Meta);
    /// Narrative.
    pub const NARRATIVE: DataType = DataType::Complex(C::Narrative);
    /// Extension.
    pub const EXTENSION: DataType = DataType::Complex(C::Extension);
    /// Timing.
    pub const TIMING: DataType = DataType::Complex(C::Timing);
    /// Dosage.
    pub const DOSAGE: DataType = DataType::Complex(C::Dosage);
    /// SampledData.
    pub const SAMPLED_DATA: DataType = DataType::Complex(C::SampledData);
    /// Any element whose inside is only checked generically.
    pub const ANY: DataType = DataType::Complex(C::Other);

    /// A row.
    pub const fn el(
        name: &'static str,
        min: u32,
        max: Max,
        types: &'static [DataType],
    ) -> ElementDef {
        ElementDef::new(name, min, max, types)
    }

    /// A required binding of a `code` element to a closed list.
    pub const fn codes(value_set: &'static str, codes: &'static [&'static str]) -> Binding {
        Binding {
            value_set,
            strength: Strength::Required,
            system: None,
            codes,
        }
    }

    /// A required binding of a CodeableConcept/Coding to one code system.
    pub const fn system(value_set: &'static str, system: &'static str) -> Binding {
        Binding {
            value_set,
            strength: Strength::Required,
            system: Some(system),
            codes: &[],
        }
    }
}
