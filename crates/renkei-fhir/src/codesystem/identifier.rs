//! Japanese identifier systems (JP Core 1.1.x, "識別子の名前空間",
//! https://jpfhir.jp/fhir/core/1.1.2/namingsystems.html) and the form of
//! their values. An identifier in one of these namespaces with a malformed
//! system or value is an error: it would never link to anything.

/// How an identifier system is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemMatch {
    /// The system URI is exactly this.
    Exact(&'static str),
    /// The system URI starts with this and is followed by `1` and a
    /// 10-digit 医療機関コード (a per-institution namespace, e.g. patient ids
    /// `urn:oid:1.2.392.100495.20.3.51.1` + 医療機関コード).
    PerInstitution(&'static str),
}

/// A known identifier system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentifierSystem {
    /// What it identifies.
    pub name: &'static str,
    /// How its system URI is recognised.
    pub system: SystemMatch,
    /// Required number of digits of the value, if fixed.
    pub value_digits: Option<&'static [usize]>,
    /// Whether a value of the wrong form is an error (else a warning: the
    /// rule is real but published examples break it, e.g. the JP Core payer
    /// example's 7-digit 保険者番号).
    pub strict: bool,
}

/// Every known identifier system.
pub static IDENTIFIER_SYSTEMS: &[IdentifierSystem] = &[
    IdentifierSystem {
        name: "医療機関コード (medical institution code, 10 digits)",
        system: SystemMatch::Exact(
            "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no",
        ),
        value_digits: Some(&[10]),
        strict: true,
    },
    IdentifierSystem {
        name: "医療機関コード 7桁 (institution code within prefecture)",
        system: SystemMatch::Exact("urn:oid:1.2.392.100495.20.3.23"),
        value_digits: Some(&[7]),
        strict: true,
    },
    IdentifierSystem {
        name: "保険者番号 (insurer number)",
        system: SystemMatch::Exact("urn:oid:1.2.392.100495.20.3.61"),
        value_digits: Some(&[6, 8]),
        strict: false,
    },
    IdentifierSystem {
        name: "患者ID (patient id of an institution)",
        system: SystemMatch::PerInstitution("urn:oid:1.2.392.100495.20.3.51."),
        value_digits: None,
        strict: true,
    },
    IdentifierSystem {
        name: "オーダID (order id of an institution)",
        system: SystemMatch::PerInstitution("urn:oid:1.2.392.100495.20.3.41."),
        value_digits: None,
        strict: true,
    },
    IdentifierSystem {
        name: "医籍登録番号 (medical registration number)",
        system: SystemMatch::Exact("urn:oid:1.2.392.100495.20.3.31"),
        value_digits: None,
        strict: true,
    },
    IdentifierSystem {
        name: "RP番号 (prescription RP number)",
        system: SystemMatch::Exact("urn:oid:1.2.392.100495.20.3.81"),
        value_digits: None,
        strict: true,
    },
    IdentifierSystem {
        name: "RP内連番 (order within RP)",
        system: SystemMatch::Exact("urn:oid:1.2.392.100495.20.3.82"),
        value_digits: None,
        strict: true,
    },
];

/// The system this URI belongs to, if known, and whether its per-institution
/// suffix is well-formed.
pub fn lookup(system: &str) -> Option<(&'static IdentifierSystem, bool)> {
    IDENTIFIER_SYSTEMS.iter().find_map(|s| match s.system {
        SystemMatch::Exact(u) => (u == system).then_some((s, true)),
        SystemMatch::PerInstitution(p) => system.strip_prefix(p).map(|rest| {
            let ok = rest.len() == 11
                && rest.starts_with('1')
                && rest.bytes().all(|b| b.is_ascii_digit());
            (s, ok)
        }),
    })
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// Refuse the resource.
    Error,
    /// Accept with a warning.
    Warning,
}

/// What is wrong with an identifier (`system`, `value`), or `None`.
pub fn check(system: &str, value: Option<&str>) -> Option<(Finding, String)> {
    let (known, system_ok) = lookup(system)?;
    if !system_ok {
        return Some((
            Finding::Error,
            format!(
                "identifier system {system:?} is not a valid {}: expected the namespace followed by 1 and a 10-digit 医療機関コード",
                known.name
            ),
        ));
    }
    let finding = if known.strict {
        Finding::Error
    } else {
        Finding::Warning
    };
    match (known.value_digits, value) {
        (Some(lens), Some(v))
            if !(lens.contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit())) =>
        {
            Some((
                finding,
                format!(
                    "identifier value {v:?} is not a valid {}: expected {} digits",
                    known.name,
                    lens.iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn per_institution_namespaces_need_the_institution_code() {
        assert_eq!(
            check(
                "urn:oid:1.2.392.100495.20.3.51.11311234567",
                Some("00000010")
            ),
            None
        );
        assert!(check("urn:oid:1.2.392.100495.20.3.51.1131", Some("1")).is_some());
    }

    #[test]
    fn institution_code_is_ten_digits() {
        let s = "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";
        assert_eq!(check(s, Some("1311234567")), None);
        assert!(check(s, Some("131123456")).is_some());
        assert_eq!(check("http://example.org/ids", Some("x")), None);
    }
}
