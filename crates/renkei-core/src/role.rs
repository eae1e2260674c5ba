//! The roles an account can hold. Authorization is decided from these alone,
//! in one place in `renkei-server`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// What an account is allowed to be on the platform. An account has exactly
/// one role; a person with two roles has two accounts, so that every audit
/// entry says in which capacity something was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Staff of a hospital, clinic or pharmacy that submits records (医療機関).
    Provider,
    /// A patient managing their own opt-out (患者).
    Patient,
    /// A researcher, public body or company applying to use data (利用申請者).
    Applicant,
    /// A member of a review committee (審査委員).
    Reviewer,
    /// Staff of the operator running a function (運営者).
    Operator,
    /// An auditor who reads the audit log (監査人).
    Auditor,
}

impl Role {
    /// Every role, in a fixed order (used by the authorization matrix).
    pub const ALL: [Role; 6] = [
        Role::Provider,
        Role::Patient,
        Role::Applicant,
        Role::Reviewer,
        Role::Operator,
        Role::Auditor,
    ];

    /// The role's name as stored and as written in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Provider => "provider",
            Role::Patient => "patient",
            Role::Applicant => "applicant",
            Role::Reviewer => "reviewer",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
        }
    }

    /// The role's Japanese name, as shown on pages.
    pub fn label_ja(self) -> &'static str {
        match self {
            Role::Provider => "医療機関",
            Role::Patient => "患者",
            Role::Applicant => "利用申請者",
            Role::Reviewer => "審査委員",
            Role::Operator => "運営者",
            Role::Auditor => "監査人",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Error::unknown("role", s, &Role::ALL.map(Role::as_str)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_parses_from_its_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().expect("own name"), role);
        }
    }

    #[test]
    fn unknown_role_lists_the_valid_ones() {
        let err = "admin".parse::<Role>().expect_err("no such role");
        assert_eq!(
            err.to_string(),
            "unknown role \"admin\"; expected one of: provider, patient, applicant, reviewer, operator, auditor"
        );
    }
}
