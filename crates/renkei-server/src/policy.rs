//! Authorization, decided in one place: every route has exactly one
//! [`Access`] rule, kept beside it in the route table, and the access layer
//! looks the rule up by the matched route. A request to a route without a
//! rule is refused (deny by default), and the authorization-matrix test
//! walks every route of the table with every role.

use std::collections::HashMap;

use axum::http::Method;
use renkei_core::Role;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (health checks, the public register, sign-in).
    Public,
    /// Any signed-in account, whatever its role (its own profile, its tokens).
    SignedIn,
    /// Signed-in accounts holding one of these roles.
    Roles(&'static [Role]),
    /// A patient identified to the portal (a patient session). No account
    /// gives this, not even one with the patient role: the portal answers
    /// about one person, the one the patient proved to be.
    Patient,
}

/// The outcome of checking a caller against a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Sign in first (401, or a redirect to the sign-in page).
    SignInFirst,
    /// Signed in, but this role may not (403).
    Refuse,
}

impl Access {
    /// Decides for a caller with `role` (`None`: not signed in).
    pub fn decide(self, role: Option<Role>) -> Decision {
        match (self, role) {
            (Access::Public, _) => Decision::Allow,
            // Decided by the access layer from the patient session; an
            // account's role is no identification.
            (Access::Patient, _) => Decision::SignInFirst,
            (_, None) => Decision::SignInFirst,
            (Access::SignedIn, Some(_)) => Decision::Allow,
            (Access::Roles(allowed), Some(r)) if allowed.contains(&r) => Decision::Allow,
            (Access::Roles(_), Some(_)) => Decision::Refuse,
        }
    }
}

/// What a route serves, which decides how its callers authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// JSON API: bearer tokens only, so a browser's cookies cannot be
    /// ridden by another site (no CSRF on the API).
    Api,
    /// HTML pages: session cookies, with CSRF tokens on every form.
    Page,
}

/// The rules of every route, by method and route pattern.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    rules: HashMap<&'static str, Vec<(Method, Rule)>>,
}

/// One route's rule.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// Who may call it.
    pub access: Access,
    /// How callers authenticate.
    pub surface: Surface,
    /// Whether a signed-in caller's request is appended to the audit log.
    /// Only routes that neither read nor change data (health, metrics,
    /// static assets) are exempt.
    pub audited: bool,
    /// How long the request may take.
    pub timing: Timing,
}

/// How long a request may take (issue 15, finding 10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    /// Answered within `server.request_timeout_secs`, or 408.
    Bounded,
    /// A streamed body (a submission) that may flow for as long as data
    /// keeps coming: cut only when it pauses for `server.body_idle_secs`.
    /// Work after the body runs to its end on its own.
    WhileDataFlows,
}

impl Policy {
    /// Adds the rule of one route.
    pub fn insert(&mut self, method: Method, path: &'static str, rule: Rule) {
        let rules = self.rules.entry(path).or_default();
        rules.retain(|(m, _)| *m != method);
        rules.push((method, rule));
    }

    /// Whether any method of this route pattern has a rule.
    pub fn knows_path(&self, path: &str) -> bool {
        self.rules.contains_key(path)
    }

    /// The rule for a matched route; `HEAD` follows `GET`.
    pub fn rule(&self, method: &Method, path: &str) -> Option<Rule> {
        let method = if method == Method::HEAD {
            Method::GET
        } else {
            method.clone()
        };
        self.rules
            .get(path)?
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, r)| *r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_rule_allows_only_its_roles() {
        let a = Access::Roles(&[Role::Auditor, Role::Operator]);
        assert_eq!(a.decide(Some(Role::Auditor)), Decision::Allow);
        assert_eq!(a.decide(Some(Role::Patient)), Decision::Refuse);
        assert_eq!(a.decide(None), Decision::SignInFirst);
        assert_eq!(Access::Public.decide(None), Decision::Allow);
        assert_eq!(
            Access::SignedIn.decide(Some(Role::Patient)),
            Decision::Allow
        );
    }
}
