//! FHIR R4 datatypes (§2.24 Data Types): which JSON shape each has, how its
//! primitive value is checked, and the element tables of the complex types.

pub mod complex;
pub mod primitive;
pub mod reference;

/// A datatype an element may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// `boolean`: JSON true/false.
    Boolean,
    /// `integer`: JSON number, 32-bit signed.
    Integer,
    /// `positiveInt`: JSON number ≥ 1.
    PositiveInt,
    /// `unsignedInt`: JSON number ≥ 0.
    UnsignedInt,
    /// `decimal`: JSON number.
    Decimal,
    /// `string` (and `markdown`): non-empty JSON string.
    String,
    /// `code`: no leading/trailing whitespace, no double spaces.
    Code,
    /// `id`: `[A-Za-z0-9\-\.]{1,64}`.
    Id,
    /// `uri`, `url`, `canonical`, `oid`, `uuid`: no whitespace.
    Uri,
    /// `date`: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    Date,
    /// `dateTime`: a date, or a full time with a zone.
    DateTime,
    /// `instant`: a full dateTime to the second with a zone.
    Instant,
    /// `time`: `hh:mm:ss(.s)`.
    Time,
    /// `base64Binary`.
    Base64Binary,
    /// `xhtml` (Narrative.div): a string.
    Xhtml,
    /// A complex datatype with an element table in [`complex`].
    Complex(complex::Complex),
    /// A BackboneElement with its own element table in a profile.
    Backbone,
    /// A nested resource (`contained`, `Bundle.entry.resource`).
    Resource,
}

impl DataType {
    /// The suffix of a choice element (`value[x]` → `valueQuantity`).
    pub fn choice_suffix(self) -> &'static str {
        use complex::Complex as C;
        match self {
            DataType::Boolean => "Boolean",
            DataType::Integer => "Integer",
            DataType::PositiveInt => "PositiveInt",
            DataType::UnsignedInt => "UnsignedInt",
            DataType::Decimal => "Decimal",
            DataType::String => "String",
            DataType::Code => "Code",
            DataType::Id => "Id",
            DataType::Uri => "Uri",
            DataType::Date => "Date",
            DataType::DateTime => "DateTime",
            DataType::Instant => "Instant",
            DataType::Time => "Time",
            DataType::Base64Binary => "Base64Binary",
            DataType::Xhtml => "Xhtml",
            DataType::Complex(c) => match c {
                C::Identifier => "Identifier",
                C::Coding => "Coding",
                C::CodeableConcept => "CodeableConcept",
                C::Reference => "Reference",
                C::Quantity => "Quantity",
                C::Age => "Age",
                C::Duration => "Duration",
                C::Period => "Period",
                C::Range => "Range",
                C::Ratio => "Ratio",
                C::HumanName => "HumanName",
                C::Address => "Address",
                C::ContactPoint => "ContactPoint",
                C::Attachment => "Attachment",
                C::Annotation => "Annotation",
                C::Meta => "Meta",
                C::Narrative => "Narrative",
                C::Extension => "Extension",
                C::Timing => "Timing",
                C::Dosage => "Dosage",
                C::SampledData => "SampledData",
                C::Money => "Money",
                C::Signature => "Signature",
                C::Other => "Element",
            },
            DataType::Backbone => "BackboneElement",
            DataType::Resource => "Resource",
        }
    }
}
