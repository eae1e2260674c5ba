//! Id newtypes. Each wraps a UUID so that a user id can never be passed where
//! an organization id is expected; the field is private and `parse` validates.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Error;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// A new, random, time-ordered id (UUIDv7).
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Reads an id from its canonical hyphenated text (surrounding
            /// whitespace, as a form or a copied line brings, is ignored).
            pub fn parse(text: &str) -> Result<Self, Error> {
                Uuid::try_parse(text.trim()).map(Self).map_err(|e| Error::InvalidId {
                    kind: $kind,
                    value: text.to_owned(),
                    reason: e.to_string(),
                })
            }

            /// The id as a UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// The id of a UUID made elsewhere (another id of the same
            /// value, as a submission's id names its identity batch).
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self, Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }
    };
}

uuid_id!(
    /// An account: a person or a machine that signs in.
    UserId,
    "user id"
);
uuid_id!(
    /// A person in the platform's person index: the common key under which
    /// every source's records about one patient are linked. Carries nothing
    /// about the person.
    PersonKey,
    "person key"
);
uuid_id!(
    /// An organization: a provider, an applicant's institution, an operator.
    OrgId,
    "org id"
);
uuid_id!(
    /// A batch of identity writes that become visible together or not at
    /// all: collection resolves a submission's patients under a batch with
    /// the submission's own id, and commits or discards the batch with the
    /// submission.
    IdentityBatch,
    "identity batch id"
);
uuid_id!(
    /// One attribute record in identity: what one provider said about one
    /// patient, once. Lake rows carry the record their person was resolved
    /// from (`identity_record`), so that a split — records found not to
    /// belong to their person — re-keys exactly those records' rows.
    /// Carries nothing about the patient.
    RecordId,
    "identity record id"
);

uuid_id!(
    /// An application (利用申請) to review.
    ApplicationId,
    "application id"
);
uuid_id!(
    /// A permit (利用許可): what review grants and every function that
    /// handles the data checks.
    PermitId,
    "permit id"
);
uuid_id!(
    /// A submission to collection: a UUIDv7, so ids sort by arrival.
    SubmissionId,
    "submission id"
);

impl SubmissionId {
    /// The identity batch this submission's resolutions are staged under:
    /// the same UUID, so recovery finds it from the submission alone.
    pub fn identity_batch(&self) -> IdentityBatch {
        IdentityBatch::from_uuid(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_round_trips_through_text() {
        let id = UserId::generate();
        assert_eq!(
            UserId::parse(&id.to_string()).expect("own output parses"),
            id
        );
    }

    #[test]
    fn malformed_id_names_kind_and_value() {
        let err = OrgId::parse("not-a-uuid").expect_err("not a uuid");
        let msg = err.to_string();
        assert!(msg.starts_with("invalid org id \"not-a-uuid\""), "{msg}");
    }
}
