//! FHIRPath-style locations (`Bundle.entry[3].resource.birthDate`) for issues.
//!
//! FHIR R4 §3.1.0.9 (OperationOutcome.issue.expression) asks for a FHIRPath
//! expression; a plain dotted path with list indices is the simple subset
//! every validator (HAPI, the HL7 Java validator) emits.

use std::fmt;

/// A location inside a resource, built while walking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    /// The root of a resource, named by its type (`Patient`).
    pub fn root(resource_type: &str) -> Self {
        Path(resource_type.to_owned())
    }

    /// This path extended by an element name.
    pub fn field(&self, name: &str) -> Self {
        let mut s = String::with_capacity(self.0.len() + 1 + name.len());
        s.push_str(&self.0);
        s.push('.');
        s.push_str(name);
        Path(s)
    }

    /// This path extended by a list index.
    pub fn index(&self, i: usize) -> Self {
        Path(format!("{}[{i}]", self.0))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_indexed_paths() {
        let p = Path::root("Bundle")
            .field("entry")
            .index(3)
            .field("resource");
        assert_eq!(p.as_str(), "Bundle.entry[3].resource");
    }
}
