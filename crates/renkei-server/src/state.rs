//! What every handler shares: configuration, stores, the function services,
//! and the server's own instruments.

use std::sync::Arc;

use renkei_analysis::{Environment, Peers as AnalysisPeers};
use renkei_audit::AuditLog;
use renkei_collect::{Intake, IntakeConfig};
use renkei_core::Clock;
use renkei_deid::{Options as ProcessingOptions, Peers, Processing};
use renkei_identity::PersonIndex;
use renkei_optout::{ByAttributes, PatientIdentification, Registry};
use renkei_review::Review;
use renkei_store::Stores;

use crate::accounts::{Accounts, PasswordChecks, Throttle};
use crate::metrics::Metrics;
use crate::policy::Policy;
use crate::{Config, Result};

/// The platform, as the server holds it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: Config,
    stores: Stores,
    accounts: Accounts,
    audit: AuditLog,
    metrics: Metrics,
    throttle: Throttle,
    clock: Arc<dyn Clock>,
    policy: Policy,
    identity: PersonIndex,
    intake: Intake,
    optout: Registry,
    identification: Arc<dyn PatientIdentification>,
    review: Review,
    processing: Arc<Processing>,
    /// Long work started by requests (extract builds, relinks).
    jobs: crate::jobs::Jobs,
    analysis: Environment,
    /// Where signed tree heads are published outside the data directory.
    witness: Option<renkei_audit::Witness>,
    /// The periodic tasks (witness publication, the permit sweeper).
    tasks: crate::background::Tasks,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("config", &self.config)
            .field("stores", &self.stores)
            .field("identification", &self.identification.method())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Opens every store the server needs and starts the audit log.
    pub async fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Self> {
        config.deployment.validate()?;
        config.analysis.engine()?;
        let stores = Stores::open(&config.data_dir, &config.store).await?;
        // Checked against what the data directory cannot rewrite: the
        // pinned key and the last witnessed head (issue 15, finding 14).
        let witness = config.audit.witness(&config.data_dir)?;
        let trust = config.audit.trust(&config.data_dir)?;
        let audit = AuditLog::open_trusting(&stores, clock.clone(), &trust).await?;
        let accounts = Accounts::open(&stores, clock.clone(), Arc::new(audit.clone()))
            .await?
            .with_password_checks(PasswordChecks::new(
                config.accounts.password_checks,
                config.accounts.password_checks_waiting,
            ))
            .with_session_idle_minutes(config.accounts.session_idle_minutes)
            .with_token_days(config.accounts.token_days);
        let throttle = Throttle::new(clock.clone(), config.accounts.throttle_entries);
        let policy = crate::routes::policy();
        let identity = PersonIndex::open(&stores, clock.clone(), Arc::new(audit.clone()))
            .await
            .map_err(|e| crate::Error::Internal(format!("identity: {e}")))?;
        let intake = Intake::open(
            &stores,
            Arc::new(identity.clone()),
            Arc::new(audit.clone()),
            clock.clone(),
            IntakeConfig {
                limits: config.collect.limits(),
                ..IntakeConfig::default()
            },
        )
        .await?;
        // The lake's figures for review's risk signals and the registry's
        // check on bereaved family: aggregates and yes/no, never rows.
        let figures: Arc<dyn renkei_core::LakeStatistics> =
            Arc::new(renkei_deid::LakeFigures::new(stores.lake()?));
        let optout = Registry::open(
            &stores,
            clock.clone(),
            Arc::new(audit.clone()),
            config.optout.policy()?,
            figures.clone(),
        )
        .await?;
        let identification: Arc<dyn PatientIdentification> =
            Arc::new(ByAttributes::new(Arc::new(identity.clone())));
        let review = Review::open(
            &stores,
            clock.clone(),
            Arc::new(audit.clone()),
            config.review.scrutiny.clone(),
            figures,
        )
        .await?;
        let processing = Processing::open(
            &stores,
            stores.lake()?,
            clock.clone(),
            Arc::new(audit.clone()),
            ProcessingOptions::default(),
            Peers {
                permits: Arc::new(review.clone()),
                optouts: Arc::new(optout.clone()),
            },
        )
        .await?;
        let processing = Arc::new(processing);
        let analysis = Environment::open(
            &stores,
            clock.clone(),
            Arc::new(audit.clone()),
            AnalysisPeers {
                permits: Arc::new(review.clone()),
                extracts: processing.clone(),
                extract_store: processing.extract_store(),
            },
        )
        .await?;
        let jobs = crate::jobs::Jobs::open(
            accounts.db().clone(),
            clock.clone(),
            Arc::new(audit.clone()),
        )
        .await?;
        // The log records when the platform started and stopped, so a gap
        // in service shows in the log itself.
        audit
            .append(lifecycle_event(clock.as_ref(), "platform.start"))
            .await?;
        let state = Self {
            inner: Arc::new(Inner {
                config,
                stores,
                accounts,
                audit,
                metrics: Metrics::new(),
                throttle,
                clock,
                policy,
                identity,
                intake,
                optout,
                identification,
                review,
                processing,
                jobs,
                analysis,
                witness,
                tasks: crate::background::Tasks::default(),
            }),
        };
        crate::background::start(&state);
        Ok(state)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }
    /// The stores.
    pub fn stores(&self) -> &Stores {
        &self.inner.stores
    }
    /// Long work started by requests.
    pub fn jobs(&self) -> &crate::jobs::Jobs {
        &self.inner.jobs
    }
    /// The accounts store.
    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }
    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.inner.audit
    }
    /// The request metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
    /// The throttle of sign-in and patient identification.
    pub fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }
    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }
    /// Identity's person index.
    pub fn identity(&self) -> &PersonIndex {
        &self.inner.identity
    }
    /// Collection's intake.
    pub fn intake(&self) -> &Intake {
        &self.inner.intake
    }
    /// The opt-out registry.
    pub fn optout(&self) -> &Registry {
        &self.inner.optout
    }
    /// Review: applications, decisions, permits.
    pub fn review(&self) -> &Review {
        &self.inner.review
    }
    /// Processing: extracts and their manifests.
    pub fn processing(&self) -> &Processing {
        &self.inner.processing
    }
    /// The analysis environment: history and saved queries.
    pub fn analysis(&self) -> &Environment {
        &self.inner.analysis
    }
    /// How patients identify themselves to the portal.
    pub fn identification(&self) -> &Arc<dyn PatientIdentification> {
        &self.inner.identification
    }
    /// Every route's access rule.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The witness heads are published to, if configured.
    pub fn witness(&self) -> Option<&renkei_audit::Witness> {
        self.inner.witness.as_ref()
    }

    /// Appends the latest signed tree head to the witness if it grew since
    /// the last one there; whether it was appended (false without a
    /// witness). The periodic task calls this every
    /// `audit.witness_interval_secs`.
    pub async fn publish_to_witness(&self) -> Result<bool> {
        let Some(witness) = self.inner.witness.clone() else {
            return Ok(false);
        };
        let head = self.inner.audit.signed_head().await?;
        tokio::task::spawn_blocking(move || witness.publish(&head))
            .await
            .map_err(|e| crate::Error::Internal(format!("witness publication: {e}")))?
            .map_err(Into::into)
    }

    /// Processing, shared with a task that outlives one request.
    pub(crate) fn processing_shared(&self) -> Arc<Processing> {
        self.inner.processing.clone()
    }
    pub(crate) fn tasks(&self) -> &crate::background::Tasks {
        &self.inner.tasks
    }

    pub(crate) fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    pub(crate) fn upgrade(weak: &std::sync::Weak<Inner>) -> Option<Self> {
        weak.upgrade().map(|inner| Self { inner })
    }

    /// Records the stop, publishes the last head to the witness, stops the
    /// periodic tasks and the audit writer after it has drained, and closes
    /// the stores.
    pub async fn close(&self) {
        self.inner.tasks.stop();
        // A job runs to its end; what it did is then recorded before the
        // log closes.
        self.inner.jobs.settled().await;
        let stop = lifecycle_event(self.inner.clock.as_ref(), "platform.stop");
        if let Err(e) = self.inner.audit.append(stop).await {
            tracing::warn!(error = %e, "cannot record the stop in the audit log");
        }
        if let Err(e) = self.publish_to_witness().await {
            tracing::error!(error = %e, "cannot publish the last signed tree head to the witness");
        }
        self.inner.audit.close().await;
        self.inner.stores.close().await;
    }
}

fn lifecycle_event(clock: &dyn Clock, action: &str) -> renkei_core::AuditEvent {
    renkei_core::AuditEvent {
        at: clock.now(),
        actor: renkei_core::Actor::System {
            component: "server".to_owned(),
        },
        action: action.to_owned(),
        object: format!("renkei {}", env!("CARGO_PKG_VERSION")),
        outcome: renkei_core::Outcome::Success,
        status: None,
        request_id: None,
    }
}
