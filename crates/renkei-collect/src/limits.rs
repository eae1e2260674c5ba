//! How much one submission may make the platform hold, and the checks
//! that hold it to that.
//!
//! Every input is refused *before* it is held past its limit: lines and
//! documents are read with bounded reads, gzip is counted as it inflates,
//! and a Bundle's entries are taken one at a time from its raw bytes. So a
//! request's memory is bounded by the limits, whatever it sends; the
//! intake's memory budget ([`Limits::memory_budget_bytes`]) bounds how many
//! such requests are read at once.
//!
//! The defaults and why:
//! - a line or a resource: 16 MiB. The largest real resources are
//!   ImagingStudy series lists and DiagnosticReports with inline text, well
//!   under 1 MiB; 16 MiB leaves room and bounds a resource's parsed tree
//!   (several times its bytes) to a few hundred MiB at worst.
//! - a string: 1 MiB. Base64 attachments are the only long strings in
//!   FHIR; the lake is not a document store, and 1 MiB holds a 750 KB
//!   attachment.
//! - an identifying attribute: 256 characters. The longest Japanese
//!   address with building and room is under 100; identity normalizes and
//!   tokenizes these, and a megabyte "name" is an attack, not a patient.
//! - a Bundle: 64 MiB and 10 000 entries (a transaction's every entry is
//!   held, processed, until the transaction is decided); bulk data goes as
//!   NDJSON, which streams.
//! - gzip: 32 GiB inflated, and at most 100 times the compressed bytes
//!   once past 1 MiB. FHIR NDJSON compresses 8–20 times; deflate can reach
//!   1032, which only a bomb does.

/// The limits of one submission, and of all submissions together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest single JSON document (a Bundle or a resource sent
    /// whole, not as NDJSON), read into memory.
    pub max_document_bytes: usize,
    /// The longest NDJSON line.
    pub max_line_bytes: usize,
    /// The largest resource, also as a Bundle entry.
    pub max_resource_bytes: usize,
    /// The longest JSON string in a resource, in bytes.
    pub max_string_bytes: usize,
    /// The longest identifying attribute (a name, an identifier, an
    /// address, a telephone number), in characters.
    pub max_attribute_chars: usize,
    /// The most entries in one Bundle.
    pub max_bundle_entries: usize,
    /// The most bytes a gzip body may inflate to.
    pub max_decompressed_bytes: u64,
    /// How many times its compressed size a gzip body may inflate to
    /// (checked once past 1 MiB inflated).
    pub max_gzip_ratio: u64,
    /// The bytes all submissions being read at once may hold; each
    /// reserves its worst case ([`Limits::reserve_bytes`]) before it reads,
    /// and waits while the budget is spent.
    pub memory_budget_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_document_bytes: 64 << 20,
            max_line_bytes: 16 << 20,
            max_resource_bytes: 16 << 20,
            max_string_bytes: 1 << 20,
            max_attribute_chars: 256,
            max_bundle_entries: 10_000,
            max_decompressed_bytes: 32 << 30,
            max_gzip_ratio: 100,
            memory_budget_bytes: 1 << 30,
        }
    }
}

/// Bytes a chunk of NDJSON lines may reach before it is processed (plus
/// one line).
pub(crate) const CHUNK_BYTES: usize = 32 << 20;

/// Inflated bytes before the gzip ratio is checked: a small body's header
/// and dictionary make its ratio meaningless.
pub(crate) const RATIO_GRACE_BYTES: u64 = 1 << 20;

impl Limits {
    /// The raw bytes one submission may hold at once: a chunk of lines or
    /// a whole document, and the line being read. Its parsed form is a
    /// small multiple of this, which the budget's size allows for.
    pub fn reserve_bytes(&self) -> u64 {
        let held = CHUNK_BYTES.max(self.max_document_bytes) + self.max_line_bytes;
        (held as u64).min(self.memory_budget_bytes)
    }
}

/// Which limit a submission went past.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The body as sent, which the HTTP layer bounds
    /// (`max_submission_bytes`, or `max_document_bytes` on `/fhir`).
    SubmissionBytes,
    /// [`Limits::max_document_bytes`].
    DocumentBytes,
    /// [`Limits::max_line_bytes`].
    LineBytes,
    /// [`Limits::max_resource_bytes`].
    ResourceBytes,
    /// [`Limits::max_bundle_entries`].
    BundleEntries,
    /// [`Limits::max_decompressed_bytes`].
    DecompressedBytes,
    /// [`Limits::max_gzip_ratio`].
    GzipRatio,
}

impl std::fmt::Display for Limit {
    /// The configuration key (under `[collect]`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Limit::SubmissionBytes => "max_submission_bytes",
            Limit::DocumentBytes => "max_document_bytes",
            Limit::LineBytes => "max_line_bytes",
            Limit::ResourceBytes => "max_resource_bytes",
            Limit::BundleEntries => "max_bundle_entries",
            Limit::DecompressedBytes => "max_decompressed_bytes",
            Limit::GzipRatio => "max_gzip_ratio",
        })
    }
}

impl Limit {
    /// What the limit counts, for messages.
    pub fn unit(&self) -> &'static str {
        match self {
            Limit::BundleEntries => "entries",
            Limit::GzipRatio => "times the compressed size",
            _ => "bytes",
        }
    }
}

/// The location (FHIRPath-style, under `at`) of the first string or key in
/// `v` longer than `max` bytes.
pub(crate) fn long_string(v: &serde_json::Value, max: usize, at: &str) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) if s.len() > max => Some(at.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| long_string(item, max, &format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            if k.len() > max {
                return Some(at.to_owned());
            }
            long_string(item, max, &format!("{at}.{k}"))
        }),
        _ => None,
    }
}

/// The element of `resource_type` holding an identifying attribute longer
/// than `max` characters (`name`, `identifier`, …), if any. Only the
/// element is named: the value is identifying and never in an error.
pub(crate) fn long_attribute(
    a: &renkei_core::IdentifyingAttributes,
    resource_type: &str,
    max: usize,
) -> Option<&'static str> {
    let coverage = resource_type == "Coverage";
    let fields: [(&Option<String>, &'static str); 11] = [
        (&a.local_patient_id, "identifier"),
        (
            &a.insurer_number,
            if coverage { "payor" } else { "identifier" },
        ),
        (
            &a.insured_symbol,
            if coverage { "extension" } else { "identifier" },
        ),
        (
            &a.insured_number,
            if coverage { "extension" } else { "identifier" },
        ),
        (
            &a.insured_branch,
            if coverage { "dependent" } else { "identifier" },
        ),
        (&a.kanji_name, "name"),
        (&a.kana_name, "name"),
        (&a.birth_date, "birthDate"),
        (&a.postal_code, "address"),
        (&a.address, "address"),
        (&a.phone, "telecom"),
    ];
    fields.into_iter().find_map(|(value, element)| {
        value
            .as_deref()
            .is_some_and(|v| v.chars().count() > max)
            .then_some(element)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_string_is_located_and_a_long_name_named_by_its_element() {
        let v =
            serde_json::json!({"resourceType": "Patient", "name": [{"given": ["a", "bbbbbb"]}]});
        assert_eq!(
            long_string(&v, 5, "Patient").as_deref(),
            Some("Patient.name[0].given[1]")
        );
        assert_eq!(long_string(&v, 16, "Patient"), None);
        let a = renkei_core::IdentifyingAttributes {
            kana_name: Some("ア".repeat(257)),
            ..Default::default()
        };
        // Characters, not bytes: 256 kana (768 bytes) are allowed.
        assert_eq!(long_attribute(&a, "Patient", 256), Some("name"));
        assert_eq!(long_attribute(&a, "Patient", 257), None);
    }
}
