//! Workspaces beyond one machine: the same sessions, planned in the
//! platform and run on an Apache DataFusion Ballista cluster — one
//! scheduler and any number of executors.
//!
//! The platform keeps the checks. A [`Workspace`](crate::Workspace) on
//! [`Engine::Ballista`](crate::Engine) parses the researcher's SQL, refuses
//! statements, DDL and DML, and plans it against the permit's tables in its
//! own session; only then does Ballista's planner send the logical plan to
//! the scheduler, which splits it into stages for the executors. What the
//! plan reads is the list of files the workspace registered, named under
//! `renkei-workspace://extract/`.
//!
//! The nodes map that name to their own view of the extract store (a shared
//! filesystem mounted on every node, the same directory the platform
//! writes extracts to): [`run_scheduler`] lists the files when it plans
//! stages, [`run_executor`] reads them. Their sessions know no other store —
//! not even `file://` — so a plan, whoever sent it, can read extracts and
//! nothing else on those machines. Which extract a plan reads is still the
//! platform's decision, so the scheduler's port must be reachable from the
//! platform only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::error::BallistaError;
use ballista_core::execution_plans::DistributedQueryExec;
use ballista_core::extension::SessionStateExt;
use ballista_core::serde::protobuf::CancelJobParams;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use object_store::ObjectStore;
use tokio::net::TcpListener;
use url::Url;

use crate::workspace::extract_only_registry;
use crate::{Error, Result};

/// Ballista's port when a scheduler address names none.
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// The scheduler's gRPC endpoint (`http://host:port`) from an address
/// given as `df://host[:port]` (Ballista's own form) or `http://host[:port]`.
pub fn scheduler_endpoint(scheduler: &Url) -> Result<String> {
    if !matches!(scheduler.scheme(), "df" | "http") {
        return Err(Error::InvalidEngine(format!(
            "scheduler address \"{scheduler}\" must start with df:// or http://"
        )));
    }
    let host = scheduler.host_str().ok_or_else(|| {
        Error::InvalidEngine(format!("scheduler address \"{scheduler}\" names no host"))
    })?;
    let port = scheduler.port().unwrap_or(DEFAULT_SCHEDULER_PORT);
    Ok(format!("http://{host}:{port}"))
}

/// A client session whose queries are planned here and run on the cluster
/// behind `scheduler`.
pub(crate) fn session(
    scheduler: &Url,
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext> {
    let endpoint = scheduler_endpoint(scheduler)?;
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .build()
        .upgrade_for_ballista(endpoint)
        .map_err(|e| Error::Query(e.to_string()))?;
    Ok(SessionContext::new_with_state(state))
}

/// Asks the scheduler to stop the job of `plan`, if it got that far: a
/// query past its time limit must not go on using the cluster after the
/// workspace gave up on it. Best effort — the scheduler also drops jobs
/// whose client has gone.
pub(crate) async fn cancel(scheduler: &Url, plan: &Arc<dyn ExecutionPlan>) {
    let Some(job) = plan
        .downcast_ref::<DistributedQueryExec<LogicalPlanNode>>()
        .and_then(DistributedQueryExec::job_id)
    else {
        return;
    };
    let Ok(endpoint) = scheduler_endpoint(scheduler) else {
        return;
    };
    let cancelled = match SchedulerGrpcClient::connect(endpoint).await {
        Ok(mut client) => client
            .cancel_job(CancelJobParams {
                job_id: job.to_string(),
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(error) = cancelled {
        tracing::warn!(job = %job, %error, "a timed-out job could not be cancelled on the cluster");
    }
}

/// The runtime of a node's sessions: the extract store only, no spilling
/// (as in the platform's own sessions, so that a memory limit fails a query
/// rather than moving its data to disk).
fn node_runtime(
    registry: &Arc<dyn ObjectStoreRegistry>,
) -> datafusion::common::Result<Arc<RuntimeEnv>> {
    RuntimeEnvBuilder::new()
        .with_object_store_registry(registry.clone())
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()
}

/// Runs a scheduler on `listener` until it fails. `extracts` is this
/// machine's view of the extract store; `advertise_host` is how executors
/// and the platform name this machine (the listener's address when not
/// given).
pub async fn run_scheduler(
    listener: TcpListener,
    extracts: Arc<dyn ObjectStore>,
    advertise_host: Option<String>,
) -> Result<()> {
    let addr = listener.local_addr().map_err(|e| Error::Cluster {
        step: "reading the scheduler's address".to_owned(),
        source: BallistaError::IoError(e),
    })?;
    let registry = extract_only_registry(extracts);
    let config = SchedulerConfig {
        bind_host: addr.ip().to_string(),
        bind_port: addr.port(),
        external_host: advertise_host.unwrap_or_else(|| addr.ip().to_string()),
        // Executors ask for work; the scheduler never dials them.
        scheduling_policy: TaskSchedulingPolicy::PullStaged,
        override_session_builder: Some(Arc::new(move |config: SessionConfig| {
            let state = default_session_builder(config)?;
            Ok(SessionStateBuilder::new_from_existing(state)
                .with_runtime_env(node_runtime(&registry)?)
                .build())
        })),
        ..SchedulerConfig::default()
    };
    config.validate().map_err(|source| Error::Cluster {
        step: "checking the scheduler's configuration".to_owned(),
        source,
    })?;
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|source| Error::Cluster {
            step: "setting up the scheduler's state".to_owned(),
            source,
        })?;
    let scheduler =
        create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(config))
            .await
            .map_err(|source| Error::Cluster {
                step: "starting the scheduler".to_owned(),
                source,
            })?;
    tracing::info!(%addr, "analysis scheduler listening");
    start_grpc_service_with_listener(listener, scheduler)
        .await
        .map_err(|source| Error::Cluster {
            step: format!("serving the scheduler on {addr}"),
            source,
        })
}

/// How an executor runs.
#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    /// The scheduler (`df://host:port`).
    pub scheduler: Url,
    /// Where the executor serves the results of its tasks (Arrow Flight)
    /// to other executors and to the platform.
    pub bind: SocketAddr,
    /// How others name this machine (the bind address when not given).
    pub advertise_host: Option<String>,
    /// Tasks run at once (0: one per core).
    pub cores: usize,
    /// Memory all running tasks may hold together, bytes; each task gets
    /// its share. Ballista's default (a fraction of the machine's memory)
    /// when not given.
    pub memory_bytes: Option<u64>,
    /// Where shuffle files are written (a fresh temporary directory when
    /// not given).
    pub work_dir: Option<PathBuf>,
}

/// Runs an executor until it is stopped (interrupt, terminate, or the
/// scheduler). `extracts` is this machine's view of the extract store.
pub async fn run_executor(options: ExecutorOptions, extracts: Arc<dyn ObjectStore>) -> Result<()> {
    let endpoint = Url::parse(&scheduler_endpoint(&options.scheduler)?)
        .map_err(|e| Error::InvalidEngine(e.to_string()))?;
    let scheduler_host = endpoint
        .host_str()
        .ok_or_else(|| {
            Error::InvalidEngine(format!("scheduler address \"{endpoint}\" names no host"))
        })?
        .to_owned();
    let scheduler_port = endpoint.port().unwrap_or(DEFAULT_SCHEDULER_PORT);
    let work_dir = options
        .work_dir
        .map(|d| {
            d.to_str().map(str::to_owned).ok_or_else(|| {
                Error::InvalidEngine(format!("work directory {} is not UTF-8", d.display()))
            })
        })
        .transpose()?;
    let registry = extract_only_registry(extracts);
    let config = ExecutorProcessConfig {
        bind_host: options.bind.ip().to_string(),
        port: options.bind.port(),
        // A wildcard bind address is no address to fetch results from; the
        // scheduler then takes the one the executor called from.
        external_host: options.advertise_host.or_else(|| {
            (!options.bind.ip().is_unspecified()).then(|| options.bind.ip().to_string())
        }),
        scheduler_host,
        scheduler_port,
        // Executors may start before their scheduler.
        scheduler_connect_timeout_seconds: 60,
        vcores: options.cores,
        memory_pool_size: options.memory_bytes,
        work_dir,
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        // Shuffle files hold extract rows. The scheduler has them removed
        // after each job; this sweep catches what it missed (an hour after
        // the last write) and, being on, also empties the work directory
        // when the executor stops. Ballista's default keeps them a week.
        job_data_clean_up_interval_seconds: 600,
        job_data_ttl_seconds: 3600,
        print_thread_info: false,
        override_runtime_producer: Some(Arc::new(move |_: &SessionConfig| node_runtime(&registry))),
        ..ExecutorProcessConfig::default()
    };
    tracing::info!(bind = %options.bind, scheduler = %options.scheduler, "analysis executor starting");
    start_executor_process(Arc::new(config))
        .await
        .map_err(|source| Error::Cluster {
            step: format!("running the executor on {}", options.bind),
            source,
        })
}
