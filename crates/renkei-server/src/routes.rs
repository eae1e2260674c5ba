//! The route table: every route with its handler and its access rule, side by
//! side. The router and the [`Policy`] are both built from this one table, so
//! a route cannot exist without a rule, and the authorization-matrix test
//! walks exactly the routes that are served.

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post, put};
use renkei_core::Role;

use crate::policy::{Access, Policy, Rule, Surface, Timing};
use crate::{AppState, api, pages};

/// One route of the table.
#[derive(Debug)]
pub struct RouteSpec {
    /// The HTTP method.
    pub method: Method,
    /// The route pattern (`/api/v1/tokens/{id}`).
    pub path: &'static str,
    /// Its access rule.
    pub rule: Rule,
    handler: MethodRouter<AppState>,
}

const OPERATORS: &[Role] = &[Role::Operator];
const AUDIT_READERS: &[Role] = &[Role::Auditor, Role::Operator];
const PROVIDERS: &[Role] = &[Role::Provider];
const PROVIDERS_AND_OPERATORS: &[Role] = &[Role::Provider, Role::Operator];
/// Who reads collection's quality reports: providers their own
/// organization's, operators and auditors every provider's. Public so that
/// the pages link to them for exactly these roles.
pub const QUALITY_READERS: &[Role] = &[Role::Provider, Role::Operator, Role::Auditor];
/// Who reads the compliance report (who is behind with what they owe).
pub const COMPLIANCE_READERS: &[Role] = &[Role::Operator, Role::Auditor];
/// Who enters opt-outs on a person's behalf (paper forms, representatives
/// at the counter), reads a person's opt-out history and computes
/// exclusion sets: operators.
pub const OPTOUT_OPERATORS: &[Role] = &[Role::Operator];
/// Who writes and submits applications: applicants.
pub const APPLICANTS: &[Role] = &[Role::Applicant];
/// Who reads applications (an applicant only their own, checked by
/// review): applicants, reviewers, operators.
pub const APPLICATION_READERS: &[Role] = &[Role::Applicant, Role::Reviewer, Role::Operator];
/// Who reads an application's risk signals: reviewers and the
/// secretariat.
pub const RISK_READERS: &[Role] = &[Role::Reviewer, Role::Operator];
/// Who votes and declares conflicts: reviewers.
pub const REVIEWERS: &[Role] = &[Role::Reviewer];
/// The review secretariat (事務局): screening, committees, assignments,
/// decisions, permits.
pub const REVIEW_SECRETARIAT: &[Role] = &[Role::Operator];
/// Who releases or refuses outputs of the analysis environment:
/// reviewers.
pub const OUTPUT_REVIEWERS: &[Role] = &[Role::Reviewer];
/// Who reads an output: its permit's named users (checked by the
/// handler) and reviewers.
pub const OUTPUT_READERS: &[Role] = &[Role::Applicant, Role::Reviewer];
/// Who curates the person index (review queue, merges, splits) and may
/// read a person's attributes for a stated reason: operators only.
pub const IDENTITY_CURATORS: &[Role] = &[Role::Operator];

fn spec(
    method: Method,
    path: &'static str,
    rule: Rule,
    handler: MethodRouter<AppState>,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        rule,
        handler,
    }
}

/// A JSON API route: bearer tokens, audited.
fn api(m: Method, path: &'static str, access: Access, h: MethodRouter<AppState>) -> RouteSpec {
    let rule = Rule {
        access,
        surface: Surface::Api,
        audited: true,
        timing: Timing::Bounded,
    };
    spec(m, path, rule, h)
}

/// A JSON API route whose body streams for as long as data flows (a
/// submission of many gigabytes): bearer tokens, audited.
fn streamed(m: Method, path: &'static str, access: Access, h: MethodRouter<AppState>) -> RouteSpec {
    let rule = Rule {
        access,
        surface: Surface::Api,
        audited: true,
        timing: Timing::WhileDataFlows,
    };
    spec(m, path, rule, h)
}

/// A page: session cookies, audited.
fn page(m: Method, path: &'static str, access: Access, h: MethodRouter<AppState>) -> RouteSpec {
    let rule = Rule {
        access,
        surface: Surface::Page,
        audited: true,
        timing: Timing::Bounded,
    };
    spec(m, path, rule, h)
}

/// A route that neither reads nor changes data, so is not audited.
fn ops(
    m: Method,
    path: &'static str,
    access: Access,
    surface: Surface,
    h: MethodRouter<AppState>,
) -> RouteSpec {
    let rule = Rule {
        access,
        surface,
        audited: false,
        timing: Timing::Bounded,
    };
    spec(m, path, rule, h)
}

/// Every route the server answers.
pub fn table() -> Vec<RouteSpec> {
    use Access::*;
    use Method as M;
    vec![
        // Operations.
        ops(
            M::GET,
            "/healthz",
            Public,
            Surface::Api,
            get(api::health::healthz),
        ),
        ops(
            M::GET,
            "/readyz",
            Public,
            Surface::Api,
            get(api::health::readyz),
        ),
        ops(
            M::GET,
            "/metrics",
            Roles(&[Role::Operator, Role::Auditor]),
            Surface::Api,
            get(api::health::metrics),
        ),
        ops(
            M::GET,
            "/api/openapi.json",
            Public,
            Surface::Api,
            get(api::openapi::document),
        ),
        ops(
            M::GET,
            "/api/docs",
            Public,
            Surface::Page,
            get(api::openapi::docs_page),
        ),
        ops(
            M::GET,
            "/assets/style.css",
            Public,
            Surface::Page,
            get(pages::layout::stylesheet),
        ),
        // Jobs: long work started by other requests.
        api(M::GET, "/api/v1/jobs/{id}", SignedIn, get(api::jobs::show)),
        // Accounts.
        api(M::GET, "/api/v1/me", SignedIn, get(api::tokens::me)),
        api(M::GET, "/api/v1/tokens", SignedIn, get(api::tokens::list)),
        api(
            M::POST,
            "/api/v1/tokens",
            SignedIn,
            post(api::tokens::create),
        ),
        api(
            M::DELETE,
            "/api/v1/tokens/{id}",
            SignedIn,
            delete(api::tokens::revoke),
        ),
        api(
            M::GET,
            "/api/v1/users",
            Roles(OPERATORS),
            get(api::users::list),
        ),
        api(
            M::POST,
            "/api/v1/users",
            Roles(OPERATORS),
            post(api::users::create),
        ),
        api(
            M::POST,
            "/api/v1/users/{id}/disable",
            Roles(OPERATORS),
            post(api::users::disable),
        ),
        api(
            M::POST,
            "/api/v1/users/{id}/password",
            Roles(OPERATORS),
            post(api::users::reset_password),
        ),
        api(
            M::POST,
            "/api/v1/me/password",
            SignedIn,
            post(api::users::change_password),
        ),
        // Audit log: heads, keys and proofs are hashes only, so anyone may
        // check the log; the entries themselves are for auditors.
        api(M::GET, "/api/v1/audit/head", Public, get(api::audit::head)),
        api(M::GET, "/api/v1/audit/key", Public, get(api::audit::key)),
        api(
            M::GET,
            "/api/v1/audit/proof/inclusion",
            Public,
            get(api::audit::inclusion),
        ),
        api(
            M::GET,
            "/api/v1/audit/proof/consistency",
            Public,
            get(api::audit::consistency),
        ),
        api(
            M::GET,
            "/api/v1/audit/entries",
            Roles(AUDIT_READERS),
            get(api::audit::entries),
        ),
        // Collection.
        streamed(M::POST, "/fhir", Roles(PROVIDERS), post(api::collect::fhir)),
        streamed(
            M::POST,
            "/api/v1/submissions",
            Roles(PROVIDERS),
            post(api::collect::create_submission),
        ),
        api(
            M::GET,
            "/api/v1/submissions",
            Roles(PROVIDERS_AND_OPERATORS),
            get(api::collect::list_submissions),
        ),
        api(
            M::GET,
            "/api/v1/submissions/{id}",
            Roles(PROVIDERS_AND_OPERATORS),
            get(api::collect::show_submission),
        ),
        api(
            M::GET,
            "/api/v1/providers",
            Roles(OPERATORS),
            get(api::collect::list_providers),
        ),
        api(
            M::POST,
            "/api/v1/providers",
            Roles(OPERATORS),
            post(api::collect::register_provider),
        ),
        api(
            M::GET,
            "/api/v1/providers/{code}/quality",
            Roles(QUALITY_READERS),
            get(api::reports::quality),
        ),
        api(
            M::GET,
            "/api/v1/compliance",
            Roles(COMPLIANCE_READERS),
            get(api::reports::compliance),
        ),
        // Identity: curation of the person index.
        api(
            M::GET,
            "/api/v1/identity/review",
            Roles(IDENTITY_CURATORS),
            get(api::identity::review_queue),
        ),
        api(
            M::POST,
            "/api/v1/identity/review/{id}",
            Roles(IDENTITY_CURATORS),
            post(api::identity::decide_item),
        ),
        api(
            M::POST,
            "/api/v1/identity/merges",
            Roles(IDENTITY_CURATORS),
            post(api::identity::merge),
        ),
        api(
            M::POST,
            "/api/v1/identity/splits",
            Roles(IDENTITY_CURATORS),
            post(api::identity::split),
        ),
        api(
            M::GET,
            "/api/v1/identity/events",
            Roles(IDENTITY_CURATORS),
            get(api::identity::events),
        ),
        api(
            M::POST,
            "/api/v1/identity/relink",
            Roles(IDENTITY_CURATORS),
            post(api::identity::relink),
        ),
        api(
            M::GET,
            "/api/v1/identity/persons/{key}/attributes",
            Roles(IDENTITY_CURATORS),
            get(api::identity::attributes),
        ),
        // Opt-out: patients (their own session), operators, the register.
        api(
            M::POST,
            "/api/v1/patient/session",
            Public,
            post(api::optout::create_session),
        ),
        api(
            M::DELETE,
            "/api/v1/patient/session",
            Patient,
            delete(api::optout::end_session),
        ),
        api(
            M::GET,
            "/api/v1/patient/optouts",
            Patient,
            get(api::optout::patient_optouts),
        ),
        api(
            M::POST,
            "/api/v1/patient/optouts",
            Patient,
            post(api::optout::patient_opt_out),
        ),
        api(
            M::POST,
            "/api/v1/patient/optouts/{receipt}/withdraw",
            Patient,
            post(api::optout::patient_withdraw),
        ),
        api(
            M::POST,
            "/api/v1/optouts",
            Roles(OPTOUT_OPERATORS),
            post(api::optout::operator_opt_out),
        ),
        api(
            M::POST,
            "/api/v1/optouts/{receipt}/withdraw",
            Roles(OPTOUT_OPERATORS),
            post(api::optout::operator_withdraw),
        ),
        api(
            M::GET,
            "/api/v1/optouts/persons/{key}",
            Roles(OPTOUT_OPERATORS),
            get(api::optout::person_history),
        ),
        api(
            M::GET,
            "/api/v1/optouts/exclusion",
            Roles(OPTOUT_OPERATORS),
            get(api::optout::exclusion),
        ),
        api(
            M::GET,
            "/api/v1/register/optouts",
            Public,
            get(api::optout::register),
        ),
        // Review: applications, the workflow, votes, permits.
        api(
            M::POST,
            "/api/v1/applications",
            Roles(APPLICANTS),
            post(api::review::create),
        ),
        api(
            M::GET,
            "/api/v1/applications",
            Roles(APPLICATION_READERS),
            get(api::review::list),
        ),
        api(
            M::GET,
            "/api/v1/applications/{id}",
            Roles(APPLICATION_READERS),
            get(api::review::show),
        ),
        api(
            M::PUT,
            "/api/v1/applications/{id}",
            Roles(APPLICANTS),
            put(api::review::update),
        ),
        api(
            M::GET,
            "/api/v1/applications/{id}/risk",
            Roles(RISK_READERS),
            get(api::review::risk),
        ),
        api(
            M::POST,
            "/api/v1/applications/{id}/submit",
            Roles(APPLICANTS),
            post(api::review::submit),
        ),
        api(
            M::POST,
            "/api/v1/applications/{id}/steps",
            Roles(REVIEW_SECRETARIAT),
            post(api::review::step),
        ),
        api(
            M::POST,
            "/api/v1/applications/{id}/assignments",
            Roles(REVIEW_SECRETARIAT),
            post(api::review::assign),
        ),
        api(
            M::POST,
            "/api/v1/applications/{id}/votes",
            Roles(REVIEWERS),
            post(api::review::vote),
        ),
        api(
            M::POST,
            "/api/v1/applications/{id}/permit",
            Roles(REVIEW_SECRETARIAT),
            post(api::review::issue_permit),
        ),
        api(
            M::POST,
            "/api/v1/reviewers/conflicts",
            Roles(REVIEWERS),
            post(api::review::declare_conflict),
        ),
        api(
            M::GET,
            "/api/v1/review/queue",
            Roles(REVIEWERS),
            get(api::review::queue),
        ),
        api(
            M::GET,
            "/api/v1/permits/{id}",
            Roles(APPLICATION_READERS),
            get(api::review::permit),
        ),
        // Processing (加工): extracts of permits in force.
        api(
            M::POST,
            "/api/v1/permits/{id}/extracts",
            Roles(&[Role::Operator]),
            post(api::processing::build),
        ),
        api(
            M::GET,
            "/api/v1/permits/{id}/extracts",
            Roles(&[Role::Operator, Role::Auditor]),
            get(api::processing::list),
        ),
        // The analysis environment (解析環境): named users of a permit.
        api(
            M::POST,
            "/api/v1/workspaces/{permit}/queries",
            Roles(APPLICANTS),
            post(api::analysis::query),
        ),
        api(
            M::GET,
            "/api/v1/workspaces/{permit}/queries",
            Roles(APPLICANTS),
            get(api::analysis::history),
        ),
        api(
            M::POST,
            "/api/v1/workspaces/{permit}/saved",
            Roles(APPLICANTS),
            post(api::analysis::save),
        ),
        api(
            M::GET,
            "/api/v1/workspaces/{permit}/saved",
            Roles(APPLICANTS),
            get(api::analysis::saved),
        ),
        api(
            M::POST,
            "/api/v1/workspaces/{permit}/outputs",
            Roles(APPLICANTS),
            post(api::analysis::propose),
        ),
        api(
            M::GET,
            "/api/v1/workspaces/{permit}/outputs",
            Roles(APPLICANTS),
            get(api::analysis::outputs),
        ),
        api(
            M::GET,
            "/api/v1/outputs",
            Roles(OUTPUT_REVIEWERS),
            get(api::analysis::pending),
        ),
        api(
            M::GET,
            "/api/v1/outputs/{id}",
            Roles(OUTPUT_READERS),
            get(api::analysis::output),
        ),
        api(
            M::POST,
            "/api/v1/outputs/{id}/decision",
            Roles(OUTPUT_REVIEWERS),
            post(api::analysis::decide),
        ),
        api(
            M::GET,
            "/api/v1/register/outputs",
            Public,
            get(api::analysis::released),
        ),
        api(
            M::GET,
            "/api/v1/extracts/{id}",
            Roles(&[Role::Operator, Role::Auditor]),
            get(api::processing::manifest),
        ),
        // The public register (公開登録簿).
        api(
            M::GET,
            "/api/v1/register",
            Public,
            get(api::review::register),
        ),
        api(
            M::GET,
            "/api/v1/register/catalogue",
            Public,
            get(api::register::catalogue),
        ),
        // Pages.
        page(M::GET, "/", Public, get(pages::home::home)),
        page(M::GET, "/register", Public, get(pages::register::decisions)),
        // Review: applicants and reviewers (審査).
        page(
            M::GET,
            "/applications",
            Roles(APPLICATION_READERS),
            get(pages::review::list),
        ),
        page(
            M::GET,
            "/applications/new",
            Roles(APPLICANTS),
            get(pages::review::new),
        ),
        page(
            M::POST,
            "/applications",
            Roles(APPLICANTS),
            post(pages::review::create),
        ),
        page(
            M::GET,
            "/applications/{id}",
            Roles(APPLICATION_READERS),
            get(pages::review::show),
        ),
        page(
            M::POST,
            "/applications/{id}/votes",
            Roles(REVIEWERS),
            post(pages::review::vote),
        ),
        // The analysis environment (解析環境) and output review.
        page(
            M::GET,
            "/workspaces",
            Roles(APPLICANTS),
            get(pages::workspace::list),
        ),
        page(
            M::GET,
            "/workspaces/{permit}",
            Roles(APPLICANTS),
            get(pages::workspace::show),
        ),
        page(
            M::POST,
            "/workspaces/{permit}",
            Roles(APPLICANTS),
            post(pages::workspace::run),
        ),
        page(
            M::POST,
            "/workspaces/{permit}/saved",
            Roles(APPLICANTS),
            post(pages::workspace::save),
        ),
        page(
            M::POST,
            "/workspaces/{permit}/outputs",
            Roles(APPLICANTS),
            post(pages::workspace::propose),
        ),
        page(
            M::GET,
            "/outputs",
            Roles(OUTPUT_REVIEWERS),
            get(pages::workspace::queue),
        ),
        page(
            M::GET,
            "/outputs/{id}",
            Roles(OUTPUT_READERS),
            get(pages::workspace::show_output),
        ),
        page(
            M::POST,
            "/outputs/{id}/decision",
            Roles(OUTPUT_REVIEWERS),
            post(pages::workspace::decide),
        ),
        page(
            M::GET,
            "/register/outputs/{id}/table.csv",
            Public,
            get(api::analysis::download),
        ),
        page(
            M::GET,
            "/register/feed.atom",
            Public,
            get(api::register::feed),
        ),
        // The patient portal (患者ポータル) and the public side of opt-out.
        page(
            M::GET,
            "/patient",
            Public,
            get(pages::patient::identify_form),
        ),
        page(M::POST, "/patient", Public, post(pages::patient::identify)),
        page(
            M::GET,
            "/patient/optouts",
            Patient,
            get(pages::patient::status),
        ),
        page(
            M::POST,
            "/patient/optouts",
            Patient,
            post(pages::patient::opt_out),
        ),
        page(
            M::POST,
            "/patient/optouts/{receipt}/withdraw",
            Patient,
            post(pages::patient::withdraw),
        ),
        page(
            M::POST,
            "/patient/signout",
            Patient,
            post(pages::patient::sign_out),
        ),
        page(
            M::GET,
            "/register/optouts",
            Public,
            get(pages::register::optouts),
        ),
        page(
            M::GET,
            "/notice/{code}",
            Public,
            get(pages::register::notice),
        ),
        page(M::GET, "/login", Public, get(pages::login::form)),
        page(M::POST, "/login", Public, post(pages::login::submit)),
        page(M::POST, "/logout", SignedIn, post(pages::login::logout)),
        page(M::GET, "/account", SignedIn, get(pages::account::show)),
        page(
            M::POST,
            "/account/tokens",
            SignedIn,
            post(pages::account::create_token),
        ),
        page(
            M::POST,
            "/account/password",
            SignedIn,
            post(pages::account::change_password),
        ),
        page(
            M::GET,
            "/collect/quality",
            Roles(QUALITY_READERS),
            get(pages::collect::quality),
        ),
        page(
            M::GET,
            "/collect/compliance",
            Roles(COMPLIANCE_READERS),
            get(pages::collect::compliance),
        ),
        page(
            M::GET,
            "/identity/review",
            Roles(IDENTITY_CURATORS),
            get(pages::identity::queue),
        ),
        page(
            M::GET,
            "/identity/review/{id}",
            Roles(IDENTITY_CURATORS),
            get(pages::identity::item),
        ),
        page(
            M::POST,
            "/identity/review/{id}",
            Roles(IDENTITY_CURATORS),
            post(pages::identity::decide),
        ),
        page(
            M::POST,
            "/identity/review/{id}/attributes",
            Roles(IDENTITY_CURATORS),
            post(pages::identity::compare),
        ),
        page(
            M::GET,
            "/identity/review/{id}/attributes",
            Roles(IDENTITY_CURATORS),
            get(pages::identity::compare_again),
        ),
    ]
}

/// The access rules of every route in [`table`].
pub fn policy() -> Policy {
    let mut policy = Policy::default();
    for r in table() {
        policy.insert(r.method, r.path, r.rule);
    }
    policy
}

/// The router of every route in [`table`], without layers.
pub fn router() -> Router<AppState> {
    table()
        .into_iter()
        .fold(Router::new(), |router, r| router.route(r.path, r.handler))
}
