//! The shape of `Reference.reference` (FHIR R4 §2.3.0 Resource References):
//! a relative `Type/id` (optionally `/_history/vid`), an absolute URL ending
//! in `Type/id`, a `urn:uuid:` or `urn:oid:` (Bundle-local, §2.36.4.1), or a
//! `#id` pointing into `contained`.

use crate::resource_type::is_resource_type;

/// Why a reference string is malformed, or `None` when it is well-formed.
pub fn check(s: &str) -> Option<String> {
    if let Some(id) = s.strip_prefix('#') {
        // "#" alone refers to the containing resource (§2.4.3).
        return (!id.is_empty() && !is_id(id))
            .then(|| format!("{s:?}: contained id is not a valid id"));
    }
    if let Some(u) = s.strip_prefix("urn:uuid:") {
        return (!is_uuid(u))
            .then(|| format!("{s:?}: urn:uuid must be followed by a lowercase-hex RFC 4122 uuid"));
    }
    if let Some(o) = s.strip_prefix("urn:oid:") {
        let ok = !o.is_empty()
            && o.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        return (!ok).then(|| format!("{s:?}: urn:oid must be dotted digits"));
    }
    let rel = match s.split_once("://") {
        // Absolute: the literal reference must still end in Type/id to resolve.
        Some((_, rest)) => rest.split_once('/').map(|(_, p)| p).unwrap_or(""),
        None => s,
    };
    let segs: Vec<&str> = rel.split('/').collect();
    // Trailing Type/id or Type/id/_history/vid.
    let tail = match segs.as_slice() {
        [.., t, id, "_history", v] if is_id(v) => Some((*t, *id)),
        [.., t, id] => Some((*t, *id)),
        _ => None,
    };
    match tail {
        Some((t, id)) if is_resource_type(t) && is_id(id) => None,
        Some((t, _)) if !is_resource_type(t) => Some(format!(
            "{s:?} is not a reference of the form Type/id, urn:uuid: or #id ({t:?} is not an R4 resource type)"
        )),
        _ => Some(format!(
            "{s:?} is not a reference of the form Type/id, urn:uuid: or #id"
        )),
    }
}

fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_the_spec_shapes() {
        for ok in [
            "Patient/123",
            "Patient/123/_history/2",
            "http://example.org/fhir/Patient/a-1",
            "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0",
            "urn:oid:1.2.3",
            "#med1",
        ] {
            assert_eq!(check(ok), None, "{ok}");
        }
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "Patient",
            "patient/1",
            "Patient/",
            "urn:uuid:xyz",
            "Patient/a b",
            "Foo/1",
        ] {
            assert!(check(bad).is_some(), "{bad}");
        }
    }
}
