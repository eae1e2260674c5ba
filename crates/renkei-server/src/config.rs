//! The platform's configuration: one typed value, read by the binary from
//! defaults < `renkei.toml` < `RENKEI_*` variables < flags. Unknown keys are
//! refused so that a typo names itself.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use renkei_collect::ComplianceRules;
use renkei_core::{Function, OperatingModel, OperatorKind};
use renkei_store::StoreConfig;
use serde::Deserialize;

use crate::accounts::Tier;

use crate::Error;

/// Everything one platform instance is configured with.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The data directory: SQLite files, the local lake, key files.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The HTTP server.
    #[serde(default)]
    pub server: ServerConfig,
    /// Databases and the lake.
    #[serde(default)]
    pub store: StoreConfig,
    /// Accounts, sessions and sign-in.
    #[serde(default)]
    pub accounts: AccountsConfig,
    /// Which operator runs which function.
    #[serde(default)]
    pub deployment: DeploymentConfig,
    /// Collection: limits of submissions, and what providers must send.
    #[serde(default)]
    pub collect: CollectConfig,
    /// Opt-out: who may act, what may be opted out of, the portal and the
    /// register.
    #[serde(default)]
    pub optout: OptOutConfig,
    /// Review: what calls for more scrutiny.
    #[serde(default)]
    pub review: ReviewConfig,
    /// Analysis: where workspace queries run, and the disclosure control
    /// of outputs.
    #[serde(default)]
    pub analysis: AnalysisConfig,
    /// The audit log: what it is checked against outside the data
    /// directory.
    #[serde(default)]
    pub audit: AuditConfig,
}

/// The audit log's anchors outside the data directory. Whoever holds a
/// copy of the data directory holds the signing key too, so only these
/// catch a log cut back or rewritten and re-signed there.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The log's Ed25519 public key (hex or base64, as `renkei audit head`
    /// and `/api/v1/audit/head` name it): the platform refuses to start
    /// with another key file, and `renkei audit verify` checks every head
    /// against it.
    #[serde(default)]
    pub public_key: Option<String>,
    /// A file outside the data directory to which signed tree heads are
    /// appended (JSON Lines); at start the log must be consistent with the
    /// last one, and `renkei audit verify` checks against it.
    #[serde(default)]
    pub witness: Option<PathBuf>,
    /// At most how often a new head is appended to the witness, in
    /// seconds (also at start and at a clean stop).
    #[serde(default = "default_witness_interval_secs")]
    pub witness_interval_secs: u64,
}

fn default_witness_interval_secs() -> u64 {
    60
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            public_key: None,
            witness: None,
            witness_interval_secs: default_witness_interval_secs(),
        }
    }
}

impl AuditConfig {
    /// The pinned public key, if one is configured.
    pub fn pinned_key(&self) -> Result<Option<renkei_audit::PublicKey>, Error> {
        self.public_key
            .as_deref()
            .map(|text| {
                text.parse()
                    .map_err(|e| Error::Config(format!("audit.public_key: {e}")))
            })
            .transpose()
    }

    /// The witness, refused if it lies inside `data_dir`: a head kept
    /// beside the log proves nothing about it.
    pub fn witness(
        &self,
        data_dir: &std::path::Path,
    ) -> Result<Option<renkei_audit::Witness>, Error> {
        let Some(path) = &self.witness else {
            return Ok(None);
        };
        let inside = match (std::path::absolute(path), std::path::absolute(data_dir)) {
            (Ok(path), Ok(data)) => {
                let resolve = |p: &std::path::Path| {
                    // Resolve symbolic links where the path exists, so a
                    // link into the data directory is seen through.
                    p.parent()
                        .and_then(|d| d.canonicalize().ok())
                        .zip(p.file_name())
                        .map(|(d, f)| d.join(f))
                        .unwrap_or_else(|| p.to_owned())
                };
                let data = data.canonicalize().unwrap_or(data);
                resolve(&path).starts_with(&data)
            }
            _ => false,
        };
        if inside {
            return Err(Error::Config(format!(
                "audit.witness {} lies inside the data directory {}; a head kept beside the log proves nothing about it",
                path.display(),
                data_dir.display()
            )));
        }
        Ok(Some(renkei_audit::Witness::new(path)))
    }

    /// What the log is checked against when it opens: the pinned key and
    /// the last witnessed head.
    pub fn trust(&self, data_dir: &std::path::Path) -> Result<renkei_audit::Trust, Error> {
        let witnessed = match self.witness(data_dir)? {
            Some(witness) => witness.latest()?,
            None => None,
        };
        Ok(renkei_audit::Trust {
            key: self.pinned_key()?,
            witnessed,
        })
    }
}

/// The analysis environment (解析環境).
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisConfig {
    /// The rules every output proposed for release is checked under:
    /// minimum count (default 10, as for NDB publications), the genomic
    /// minimum (20), the dominance rule for sums, zeros.
    #[serde(default)]
    pub disclosure: renkei_analysis::disclosure::Rules,
    /// Where workspace queries run: `local`, in the platform's process, or
    /// `ballista`, on the Apache DataFusion Ballista cluster behind
    /// `scheduler` (started with `renkei cluster`).
    #[serde(default)]
    pub engine: AnalysisEngine,
    /// The Ballista scheduler (`df://host:port`), for `engine = "ballista"`.
    #[serde(default)]
    pub scheduler: Option<String>,
}

/// The engines of [`AnalysisConfig`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnalysisEngine {
    /// In the platform's process.
    #[default]
    Local,
    /// On a Ballista cluster.
    Ballista,
}

impl AnalysisConfig {
    /// The engine workspaces open on; refused when `ballista` has no
    /// usable scheduler address.
    pub fn engine(&self) -> Result<renkei_analysis::Engine, Error> {
        match (self.engine, &self.scheduler) {
            (AnalysisEngine::Local, _) => Ok(renkei_analysis::Engine::Local),
            (AnalysisEngine::Ballista, None) => Err(Error::Config(
                "analysis.engine = \"ballista\" needs analysis.scheduler (df://host:port)"
                    .to_owned(),
            )),
            (AnalysisEngine::Ballista, Some(address)) => {
                let scheduler = url::Url::parse(address).map_err(|e| {
                    Error::Config(format!("analysis.scheduler {address:?} is not a URL: {e}"))
                })?;
                renkei_analysis::cluster::scheduler_endpoint(&scheduler)
                    .map_err(|e| Error::Config(format!("analysis.scheduler: {e}")))?;
                Ok(renkei_analysis::Engine::Ballista { scheduler })
            }
        }
    }
}

/// Review (審査).
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewConfig {
    /// What flags an application for more scrutiny (foreign organizations
    /// and processing abroad, genomic or image data, commercial use,
    /// special data categories).
    #[serde(default)]
    pub scrutiny: renkei_review::ScrutinyRules,
    /// The smallest group of persons thought safe in the risk signals
    /// (values shared by fewer are "rare").
    #[serde(default = "default_risk_k")]
    pub risk_k: u64,
    /// How often, in seconds, permits past their expiry are ended: their
    /// keys destroyed and extracts deleted (also at start).
    #[serde(default = "default_permit_sweep_secs")]
    pub permit_sweep_secs: u64,
}

fn default_permit_sweep_secs() -> u64 {
    60
}

fn default_risk_k() -> u64 {
    10
}

impl Default for ReviewConfig {
    fn default() -> Self {
        Self {
            scrutiny: renkei_review::ScrutinyRules::default(),
            risk_k: default_risk_k(),
            permit_sweep_secs: default_permit_sweep_secs(),
        }
    }
}

/// Opt-out management (オプトアウト管理) and the patient portal.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OptOutConfig {
    /// Whether bereaved family may record or withdraw an opt-out for a
    /// deceased person (遺族による申出).
    #[serde(default = "default_true")]
    pub bereaved_family_may_act: bool,
    /// The data categories a patient may opt out of, as slugs
    /// (`mental_health`); shown on the form, the notice and the register.
    #[serde(default = "default_categories")]
    pub categories: Vec<String>,
    /// Counts below this are suppressed on the public register (`<10`).
    #[serde(default = "default_suppress_below")]
    pub suppress_below: u64,
    /// How long a patient's portal session lasts.
    #[serde(default = "default_patient_session_minutes")]
    pub patient_session_minutes: u32,
    /// Where patients ask questions, as printed on the 本人通知
    /// (a telephone number, an address). Unset: the notice says so.
    #[serde(default)]
    pub contact: Option<String>,
}

fn default_true() -> bool {
    true
}
fn default_categories() -> Vec<String> {
    ["mental_health", "infectious_disease", "reproductive_health"]
        .map(str::to_owned)
        .to_vec()
}
fn default_suppress_below() -> u64 {
    10
}
fn default_patient_session_minutes() -> u32 {
    30
}

impl Default for OptOutConfig {
    fn default() -> Self {
        Self {
            bereaved_family_may_act: true,
            categories: default_categories(),
            suppress_below: default_suppress_below(),
            patient_session_minutes: default_patient_session_minutes(),
            contact: None,
        }
    }
}

impl OptOutConfig {
    /// The registry's policy; refuses a category that is not a slug.
    pub fn policy(&self) -> Result<renkei_optout::Policy, Error> {
        let categories = self
            .categories
            .iter()
            .map(|c| {
                renkei_optout::DataCategory::parse(c)
                    .map_err(|e| Error::Config(format!("optout.categories: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.suppress_below == 0 {
            return Err(Error::Config(
                "optout.suppress_below must be at least 1".to_owned(),
            ));
        }
        Ok(renkei_optout::Policy {
            bereaved_family_may_act: self.bereaved_family_may_act,
            categories,
        })
    }
}

/// Collection: limits of its intake, and the data sets each facility type
/// must send.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CollectConfig {
    /// Largest NDJSON submission (`POST /api/v1/submissions`), in bytes as
    /// sent (gzip counts compressed); larger ones get 413 and commit
    /// nothing. Submissions are streamed, so this bounds disk and time,
    /// not memory.
    #[serde(default = "default_max_submission_bytes")]
    pub max_submission_bytes: u64,
    /// Largest single JSON document (a Bundle to `POST /fhir`, or a
    /// resource sent whole), which is held in memory while it is read.
    #[serde(default = "default_max_document_bytes")]
    pub max_document_bytes: usize,
    /// Longest NDJSON line, in bytes (after gzip decoding). A longer line
    /// is refused (413, naming its line) after reading one byte past this.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// Largest resource, also as a Bundle entry, in bytes (413, naming the
    /// line or `Bundle.entry[i]`).
    #[serde(default = "default_max_resource_bytes")]
    pub max_resource_bytes: usize,
    /// Longest JSON string in a resource, in bytes; a resource holding a
    /// longer one is refused on its own (OperationOutcome `too-long`).
    #[serde(default = "default_max_string_bytes")]
    pub max_string_bytes: usize,
    /// Longest identifying attribute (a name, identifier, address,
    /// telephone number), in characters; the resource is refused before
    /// anything of it reaches identity.
    #[serde(default = "default_max_attribute_chars")]
    pub max_attribute_chars: usize,
    /// Most entries in one Bundle (413).
    #[serde(default = "default_max_bundle_entries")]
    pub max_bundle_entries: usize,
    /// Most bytes a gzip body may inflate to (413).
    #[serde(default = "default_max_decompressed_bytes")]
    pub max_decompressed_bytes: u64,
    /// How many times its compressed size a gzip body may inflate to,
    /// checked past 1 MiB inflated (413): a gzip bomb.
    #[serde(default = "default_max_gzip_ratio")]
    pub max_gzip_ratio: u64,
    /// Bytes all submissions being read at once may hold; each reserves
    /// its worst case (a chunk or a document, plus a line) and waits while
    /// the budget is spent.
    #[serde(default = "default_memory_budget_bytes")]
    pub memory_budget_bytes: u64,
    /// The data sets each facility type must send, and how often, which
    /// the compliance report (`GET /api/v1/compliance`) checks. A
    /// `[collect.compliance]` section replaces the defaults as a whole
    /// (`rules = []`: nobody owes anything), so that what is enforced is
    /// what the file says.
    #[serde(default)]
    pub compliance: ComplianceRules,
}

fn default_max_submission_bytes() -> u64 {
    8 << 30
}
fn default_max_document_bytes() -> usize {
    renkei_collect::Limits::default().max_document_bytes
}
fn default_max_line_bytes() -> usize {
    renkei_collect::Limits::default().max_line_bytes
}
fn default_max_resource_bytes() -> usize {
    renkei_collect::Limits::default().max_resource_bytes
}
fn default_max_string_bytes() -> usize {
    renkei_collect::Limits::default().max_string_bytes
}
fn default_max_attribute_chars() -> usize {
    renkei_collect::Limits::default().max_attribute_chars
}
fn default_max_bundle_entries() -> usize {
    renkei_collect::Limits::default().max_bundle_entries
}
fn default_max_decompressed_bytes() -> u64 {
    renkei_collect::Limits::default().max_decompressed_bytes
}
fn default_max_gzip_ratio() -> u64 {
    renkei_collect::Limits::default().max_gzip_ratio
}
fn default_memory_budget_bytes() -> u64 {
    renkei_collect::Limits::default().memory_budget_bytes
}

impl CollectConfig {
    /// The intake's limits, as configured.
    pub fn limits(&self) -> renkei_collect::Limits {
        renkei_collect::Limits {
            max_document_bytes: self.max_document_bytes,
            max_line_bytes: self.max_line_bytes,
            max_resource_bytes: self.max_resource_bytes,
            max_string_bytes: self.max_string_bytes,
            max_attribute_chars: self.max_attribute_chars,
            max_bundle_entries: self.max_bundle_entries,
            max_decompressed_bytes: self.max_decompressed_bytes,
            max_gzip_ratio: self.max_gzip_ratio,
            memory_budget_bytes: self.memory_budget_bytes,
        }
    }
}

impl Default for CollectConfig {
    fn default() -> Self {
        Self {
            max_submission_bytes: default_max_submission_bytes(),
            max_document_bytes: default_max_document_bytes(),
            max_line_bytes: default_max_line_bytes(),
            max_resource_bytes: default_max_resource_bytes(),
            max_string_bytes: default_max_string_bytes(),
            max_attribute_chars: default_max_attribute_chars(),
            max_bundle_entries: default_max_bundle_entries(),
            max_decompressed_bytes: default_max_decompressed_bytes(),
            max_gzip_ratio: default_max_gzip_ratio(),
            memory_budget_bytes: default_memory_budget_bytes(),
            compliance: ComplianceRules::default(),
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./renkei-data")
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            server: ServerConfig::default(),
            store: StoreConfig::default(),
            accounts: AccountsConfig::default(),
            deployment: DeploymentConfig::default(),
            collect: CollectConfig::default(),
            optout: OptOutConfig::default(),
            review: ReviewConfig::default(),
            analysis: AnalysisConfig::default(),
            audit: AuditConfig::default(),
        }
    }
}

/// The HTTP server.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The address users reach the platform at, when it differs from
    /// `listen` (behind a proxy). An `https://` URL adds HSTS; cookies are
    /// `Secure` unless this is `http://…` or, when unset, `listen` is a
    /// loopback address ([`ServerConfig::secure_cookies`]).
    #[serde(default)]
    pub public_url: Option<String>,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Longest a request may take, in seconds, before it is answered 408.
    /// Submissions are exempt: they stream for as long as data flows.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
    /// Longest a streamed body (a submission) may pause, in seconds,
    /// before it is cut (408) and the submission discarded.
    #[serde(default = "default_body_idle_secs")]
    pub body_idle_secs: u64,
    /// Fewest bytes a streamed body must bring in each `body_idle_secs`
    /// window, so that a trickle cannot hold a provider's turn for ever;
    /// 0 turns the floor off.
    #[serde(default = "default_body_min_bytes_per_window")]
    pub body_min_bytes_per_window: u64,
    /// Reverse proxies in front of the platform, by address. Only from
    /// these is `X-Forwarded-For` read, so that the throttles count the
    /// real client and not the proxy (`crate::client`). Empty (the
    /// default): the peer's address is the client's.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_max_body_bytes() -> usize {
    16 * 1024 * 1024
}
fn default_request_timeout_secs() -> u64 {
    60
}
fn default_body_idle_secs() -> u64 {
    60
}
fn default_body_min_bytes_per_window() -> u64 {
    64 * 1024
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            public_url: None,
            max_body_bytes: default_max_body_bytes(),
            request_timeout_secs: default_request_timeout_secs(),
            body_idle_secs: default_body_idle_secs(),
            body_min_bytes_per_window: default_body_min_bytes_per_window(),
            trusted_proxies: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// Whether users reach the platform over TLS (an `https://`
    /// `public_url`), so that browsers may be told to insist on it (HSTS).
    pub fn behind_tls(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }

    /// Whether cookies are marked `Secure` (sent only over https). Yes
    /// unless users are known to reach the platform over plain http: a
    /// `public_url` of `http://…`, or none while listening on loopback
    /// (a demo or a test on one machine). A server listening elsewhere
    /// without a `public_url` is most likely behind a TLS proxy, and a
    /// session cookie sent in the clear is a stolen session.
    pub fn secure_cookies(&self) -> bool {
        match self.public_url.as_deref() {
            Some(url) => !url.starts_with("http://"),
            None => !self.listen.ip().is_loopback(),
        }
    }
}

/// Accounts, sessions, and the throttling of sign-in and patient
/// identification (see [`crate::accounts::Throttle`] for the rules).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsConfig {
    /// How long a page session lasts, in hours.
    #[serde(default = "default_session_hours")]
    pub session_hours: u32,
    /// How long a page session may go unused before it ends, in minutes.
    #[serde(default = "default_session_idle_minutes")]
    pub session_idle_minutes: u32,
    /// The longest an API token lives, in days; a token may be made to
    /// expire sooner (`expires_in_days`).
    #[serde(default = "default_token_days")]
    pub token_days: u32,
    /// Failed sign-ins to one account from one address, or failed
    /// identifications of one insurance identity from anywhere, within
    /// `login_window_secs` before a lockout (the strict counters).
    #[serde(default = "default_login_max_failures")]
    pub login_max_failures: u32,
    /// The counting window, in seconds; also the first lockout of a strict
    /// counter, which doubles with each lockout in a row.
    #[serde(default = "default_login_window_secs")]
    pub login_window_secs: u64,
    /// The longest lockout, in seconds.
    #[serde(default = "default_max_lockout_secs")]
    pub max_lockout_secs: u64,
    /// Failed sign-ins (or identifications) from one address, whatever
    /// the target, within the window before the address is locked: well
    /// above `login_max_failures`, since many people may share an address
    /// (a hospital kiosk, a carrier's NAT).
    #[serde(default = "default_address_max_failures")]
    pub address_max_failures: u32,
    /// Failed sign-ins to one account from every address within the
    /// window before a short lockout (a minute, doubling up to the window)
    /// that spares addresses which signed in to the account before.
    #[serde(default = "default_account_max_failures")]
    pub account_max_failures: u32,
    /// Password checks (Argon2id, 19 MiB each) that may run at once.
    #[serde(default = "default_password_checks")]
    pub password_checks: usize,
    /// Password checks that may wait for a turn; beyond, 503.
    #[serde(default = "default_password_checks_waiting")]
    pub password_checks_waiting: usize,
    /// Throttle counters kept in memory; past this, idle and then the
    /// least recently used are forgotten.
    #[serde(default = "default_throttle_entries")]
    pub throttle_entries: usize,
}

fn default_session_hours() -> u32 {
    8
}
fn default_session_idle_minutes() -> u32 {
    crate::accounts::DEFAULT_SESSION_IDLE_MINUTES
}
fn default_token_days() -> u32 {
    crate::accounts::DEFAULT_TOKEN_DAYS
}
fn default_login_max_failures() -> u32 {
    5
}
fn default_login_window_secs() -> u64 {
    900
}
fn default_max_lockout_secs() -> u64 {
    86_400
}
fn default_address_max_failures() -> u32 {
    100
}
fn default_account_max_failures() -> u32 {
    20
}
fn default_password_checks() -> usize {
    4
}
fn default_password_checks_waiting() -> usize {
    16
}
fn default_throttle_entries() -> usize {
    100_000
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            session_hours: default_session_hours(),
            session_idle_minutes: default_session_idle_minutes(),
            token_days: default_token_days(),
            login_max_failures: default_login_max_failures(),
            login_window_secs: default_login_window_secs(),
            max_lockout_secs: default_max_lockout_secs(),
            address_max_failures: default_address_max_failures(),
            account_max_failures: default_account_max_failures(),
            password_checks: default_password_checks(),
            password_checks_waiting: default_password_checks_waiting(),
            throttle_entries: default_throttle_entries(),
        }
    }
}

impl AccountsConfig {
    /// The strict counters: an account from one address, a patient's
    /// insurance identity.
    pub fn strict_tier(&self) -> Tier {
        Tier {
            limit: self.login_max_failures,
            window_secs: self.login_window_secs,
            lockout_secs: self.login_window_secs,
            max_lockout_secs: self.max_lockout_secs,
        }
    }

    /// The ceiling on one address, whatever it guesses.
    pub fn address_tier(&self) -> Tier {
        Tier {
            limit: self.address_max_failures,
            window_secs: self.login_window_secs,
            lockout_secs: self.login_window_secs,
            max_lockout_secs: self.max_lockout_secs,
        }
    }

    /// The account-wide counter: anyone can charge it, so it slows rather
    /// than shuts (a minute, doubling up to the window).
    pub fn account_tier(&self) -> Tier {
        Tier {
            limit: self.account_max_failures,
            window_secs: self.login_window_secs,
            lockout_secs: 60.min(self.login_window_secs),
            max_lockout_secs: self.login_window_secs,
        }
    }
}

/// Which operator runs which function under which operating model. In the
/// embedded default one process runs every function; the names here are
/// shown to the public and checked against the model.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    /// The operating model (`"1"`, `"2-1"`, `"2-2"`, `"3"`, `"4"`).
    #[serde(default = "default_model")]
    pub model: OperatingModel,
    /// The operators, by a short name.
    #[serde(default = "default_operators")]
    pub operators: BTreeMap<String, OperatorConfig>,
    /// Which operator runs each function, by operator name.
    #[serde(default = "default_assignments")]
    pub functions: BTreeMap<Function, String>,
}

/// One operator of functions.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// The operator's name as shown to the public.
    pub display_name: String,
    /// `public` (公的主体) or `private` (認定事業者).
    pub kind: OperatorKindConfig,
}

/// The kind of an operator as written in configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperatorKindConfig {
    /// A public body (公的主体).
    Public,
    /// A certified private operator (認定事業者).
    Private,
}

fn default_model() -> OperatingModel {
    OperatingModel::PublicBody
}

fn default_operators() -> BTreeMap<String, OperatorConfig> {
    BTreeMap::from([(
        "public".to_owned(),
        OperatorConfig {
            display_name: "公的主体".to_owned(),
            kind: OperatorKindConfig::Public,
        },
    )])
}

fn default_assignments() -> BTreeMap<Function, String> {
    Function::ALL
        .into_iter()
        .map(|f| (f, "public".to_owned()))
        .collect()
}

impl Default for DeploymentConfig {
    fn default() -> Self {
        Self {
            model: default_model(),
            operators: default_operators(),
            functions: default_assignments(),
        }
    }
}

impl DeploymentConfig {
    /// Checks that every function has an operator, every operator named
    /// exists, and each operator's kind is one the model allows.
    pub fn validate(&self) -> Result<(), Error> {
        for function in Function::ALL {
            let Some(name) = self.functions.get(&function) else {
                return Err(Error::Config(format!(
                    "deployment.functions has no operator for {function:?} ({})",
                    function.label_ja()
                )));
            };
            let Some(op) = self.operators.get(name) else {
                let known: Vec<&str> = self.operators.keys().map(String::as_str).collect();
                return Err(Error::Config(format!(
                    "deployment.functions.{function} names operator {name:?}, which is not in deployment.operators (known: {})",
                    known.join(", ")
                )));
            };
            let allowed = match (self.model.operator_kind(function), op.kind) {
                (OperatorKind::Either, _) => true,
                (OperatorKind::Public, kind) => kind == OperatorKindConfig::Public,
                (OperatorKind::Private, kind) => kind == OperatorKindConfig::Private,
            };
            if !allowed {
                return Err(Error::Config(format!(
                    "operating model {} does not let a {:?} operator ({name:?}) run {function}",
                    self.model, op.kind
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_analysis_engine_is_local_unless_a_scheduler_is_configured() {
        let config: Config = toml::from_str("").expect("empty config");
        assert_eq!(
            config.analysis.engine().expect("default"),
            renkei_analysis::Engine::Local
        );
        let config: Config = toml::from_str(
            "[analysis]\nengine = \"ballista\"\nscheduler = \"df://10.0.0.5:50050\"\n",
        )
        .expect("ballista");
        assert!(matches!(
            config.analysis.engine().expect("ballista"),
            renkei_analysis::Engine::Ballista { scheduler } if scheduler.port() == Some(50050)
        ));
        let config: Config =
            toml::from_str("[analysis]\nengine = \"ballista\"\n").expect("no scheduler");
        assert!(config.analysis.engine().is_err());
    }

    #[test]
    fn defaults_form_a_valid_model_one_deployment() {
        Config::default()
            .deployment
            .validate()
            .expect("defaults are valid");
    }

    #[test]
    fn the_example_file_spells_out_the_default_collect_section() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../renkei.example.toml");
        let text = std::fs::read_to_string(&path).expect("renkei.example.toml at the repo root");
        let config: Config = toml::from_str(&text).expect("the example parses");
        let defaults = CollectConfig::default();
        assert_eq!(config.collect.compliance, defaults.compliance);
        assert_eq!(
            (
                config.collect.max_submission_bytes,
                config.collect.max_document_bytes
            ),
            (defaults.max_submission_bytes, defaults.max_document_bytes)
        );
        assert_eq!(config.collect.limits(), renkei_collect::Limits::default());
    }

    #[test]
    fn the_example_file_spells_out_the_default_optout_and_review_sections() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../renkei.example.toml");
        let text = std::fs::read_to_string(&path).expect("renkei.example.toml at the repo root");
        let config: Config = toml::from_str(&text).expect("the example parses");
        let defaults = OptOutConfig::default();
        assert_eq!(
            config.optout.policy().expect("policy"),
            defaults.policy().expect("default policy")
        );
        assert_eq!(config.optout.suppress_below, defaults.suppress_below);
        assert_eq!(
            config.optout.patient_session_minutes,
            defaults.patient_session_minutes
        );
        assert_eq!(
            config.review.scrutiny,
            renkei_review::ScrutinyRules::default()
        );
        assert_eq!(config.review.risk_k, ReviewConfig::default().risk_k);
    }

    #[test]
    fn the_example_file_spells_out_the_default_accounts_section() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../renkei.example.toml");
        let text = std::fs::read_to_string(&path).expect("renkei.example.toml at the repo root");
        let config: Config = toml::from_str(&text).expect("the example parses");
        assert_eq!(config.accounts, AccountsConfig::default());
    }

    #[test]
    fn cookies_are_secure_unless_plain_http_is_known() {
        let server = |listen: &str, public_url: Option<&str>| ServerConfig {
            listen: listen.parse().expect("address"),
            public_url: public_url.map(str::to_owned),
            ..ServerConfig::default()
        };
        assert!(
            !server("127.0.0.1:8080", None).secure_cookies(),
            "a demo on loopback"
        );
        assert!(!server("[::1]:8080", None).secure_cookies());
        assert!(
            server("0.0.0.0:8080", None).secure_cookies(),
            "likely behind a TLS proxy"
        );
        assert!(server("127.0.0.1:8080", Some("https://renkei.example.jp")).secure_cookies());
        assert!(!server("0.0.0.0:8080", Some("http://renkei.internal")).secure_cookies());
    }

    #[test]
    fn a_compliance_section_replaces_the_defaults() {
        let config: Config = toml::from_str(
            "[[collect.compliance.rules]]\n\
             kind = \"pharmacy\"\n\
             resource_types = [\"MedicationDispense\"]\n\
             every_days = 7\n",
        )
        .expect("valid rules");
        let rules = &config.collect.compliance;
        assert_eq!(rules.rules.len(), 1);
        assert!(rules.due(renkei_collect::FacilityKind::Clinic).is_empty());
        let none: Config =
            toml::from_str("[collect.compliance]\nrules = []\n").expect("no obligations");
        assert!(none.collect.compliance.rules.is_empty());
    }

    #[test]
    fn a_misspelt_resource_type_is_named() {
        let err = toml::from_str::<Config>(
            "[[collect.compliance.rules]]\n\
             kind = \"clinic\"\n\
             resource_types = [\"condition\"]\n\
             every_days = 92\n",
        )
        .expect_err("types are case-sensitive");
        assert!(err.to_string().contains("\"condition\""), "{err}");
    }

    #[test]
    fn model_three_refuses_a_public_review_operator() {
        let mut d = DeploymentConfig {
            model: OperatingModel::PublicCorePrivateUse,
            ..DeploymentConfig::default()
        };
        let err = d.validate().expect_err("review must be private under ③");
        assert!(err.to_string().contains("run review"), "{err}");
        d.operators.insert(
            "certified".to_owned(),
            OperatorConfig {
                display_name: "認定事業者A".to_owned(),
                kind: OperatorKindConfig::Private,
            },
        );
        d.functions.insert(Function::Review, "certified".to_owned());
        d.functions
            .insert(Function::Analysis, "certified".to_owned());
        d.validate().expect("now valid");
    }
}
