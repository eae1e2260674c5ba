//! How a patient proves who they are to the portal. One embedded way —
//! attributes the platform already holds, checked by identity — and the
//! trait production identification (My Number Card / JPKI, OIDC) plugs in
//! behind.

use std::sync::Arc;

use futures::future::BoxFuture;
use renkei_core::{IdentifyingAttributes, IdentityResolver, PersonKey};

use crate::{Error, Result};

/// What a patient presents.
#[derive(Clone, Debug)]
pub enum Evidence {
    /// Kana name, birth date, sex and insurance number with 枝番, typed
    /// into the portal.
    Attributes(Box<IdentifyingAttributes>),
    /// An assertion from an external identity provider (a JPKI signature
    /// verified upstream, an OIDC ID token), for implementations that take
    /// one.
    Assertion {
        /// Who issued it.
        issuer: String,
        /// The assertion as received.
        token: String,
    },
}

/// A way of identifying patients. `Ok(None)` is "not identified" and must
/// not say which part of the evidence failed.
pub trait PatientIdentification: Send + Sync + 'static {
    /// A short name for audit entries and the sign-in page
    /// (`attributes`, `jpki`, `oidc`).
    fn method(&self) -> &'static str;

    /// The person the evidence proves, if it does.
    fn identify<'a>(&'a self, evidence: &'a Evidence) -> BoxFuture<'a, Result<Option<PersonKey>>>;
}

/// The embedded identification: the presented kana name, birth date, sex
/// and insurance number must all match what identity holds for one person
/// ([`IdentityResolver::identify`]).
#[derive(Clone)]
pub struct ByAttributes {
    identity: Arc<dyn IdentityResolver>,
}

impl std::fmt::Debug for ByAttributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ByAttributes")
    }
}

impl ByAttributes {
    /// Identification through `identity`.
    pub fn new(identity: Arc<dyn IdentityResolver>) -> Self {
        Self { identity }
    }
}

impl PatientIdentification for ByAttributes {
    fn method(&self) -> &'static str {
        "attributes"
    }

    fn identify<'a>(&'a self, evidence: &'a Evidence) -> BoxFuture<'a, Result<Option<PersonKey>>> {
        Box::pin(async move {
            match evidence {
                Evidence::Attributes(a) => self
                    .identity
                    .identify(a)
                    .await
                    .map_err(|e| Error::Identification(e.to_string())),
                Evidence::Assertion { issuer, .. } => Err(Error::Invalid(format!(
                    "this platform identifies patients by their attributes; an assertion from \
                     {issuer:?} is not accepted"
                ))),
            }
        })
    }
}
