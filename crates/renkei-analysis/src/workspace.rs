//! A workspace: one DataFusion session per permit, in which only that
//! permit's extract tables exist.
//!
//! What a query can reach is decided here, not by trusting SQL: the session
//! has exactly the extract's named Parquet files registered (no directory,
//! no URL tables, no catalog but its own, no object store but the
//! extract's — not even `file://`), statements other than queries
//! are refused (no `CREATE EXTERNAL TABLE`, `COPY`, `SET`, DML), nothing
//! spills to disk, and memory and time are capped per query from the
//! permit's resources.
//!
//! The session runs on the [`Engine`] configured: in this process, or on an
//! Apache DataFusion Ballista cluster ([`crate::cluster`]). Either way the
//! SQL is parsed, checked and planned here, against the permit's tables
//! only, before anything runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryPool, TrackConsumersPool};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use renkei_core::PermitId;
use renkei_store::query::{register_files, register_files_inferring_schema, register_store};
use url::Url;

use crate::cluster;
use crate::{Error, Result};

/// Where the session finds the extract store; cluster nodes know the same
/// name ([`crate::cluster`]).
const EXTRACTS_URL: &str = "renkei-workspace://extract/";

/// The URL of the extract store in sessions.
pub(crate) fn extracts_url() -> Url {
    Url::parse(EXTRACTS_URL).expect("a constant URL")
}

/// An object-store registry that knows the extract store and nothing else
/// (DataFusion's default one also serves `file://`), so that no plan, even
/// one that did not come from [`Workspace::query`], can name another file.
pub(crate) fn extract_only_registry(store: Arc<dyn ObjectStore>) -> Arc<dyn ObjectStoreRegistry> {
    let registry = DefaultObjectStoreRegistry::new();
    let file = Url::parse("file:///").expect("a constant URL");
    // Absent is as good as removed.
    let _ = registry.deregister_store(&file);
    registry.register_store(&extracts_url(), store);
    Arc::new(registry)
}

/// Functions removed from workspaces: each makes output far larger than
/// its input (arrays and strings of a requested length), which the memory
/// pool does not see.
pub const UNBOUNDED_FUNCTIONS: [&str; 6] = [
    "range",
    "generate_series",
    "array_repeat",
    "repeat",
    "lpad",
    "rpad",
];

/// A memory pool of `bytes` for one permit's queries: a query that would
/// go past it fails with a resources-exhausted error naming what used the
/// most.
pub fn memory_pool(bytes: usize) -> Arc<dyn MemoryPool> {
    Arc::new(TrackConsumersPool::new(
        GreedyMemoryPool::new(bytes),
        std::num::NonZeroUsize::new(3).expect("3 is not zero"),
    ))
}

/// Where workspace queries run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// In this process (the default).
    #[default]
    Local,
    /// On an Apache DataFusion Ballista cluster: its scheduler's address
    /// (`df://host:port` or `http://host:port`). Its executors must reach
    /// the same extract files ([`crate::cluster`]).
    Ballista {
        /// The scheduler.
        scheduler: Url,
    },
}

/// One table of the extract: its name in the workspace and its files.
#[derive(Clone, Debug)]
pub struct ExtractTable {
    /// The name queries use (`condition`, `anonymized` …).
    pub name: String,
    /// Its Parquet files in the extract store.
    pub files: Vec<ObjectPath>,
    /// Its schema; read from the files' footers when not given.
    pub schema: Option<SchemaRef>,
}

/// Per-query limits, from the permit's workspace resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Memory a query may hold, bytes.
    pub memory_bytes: usize,
    /// Wall time a query may take.
    pub timeout: Duration,
    /// Rows a result may carry back (more are cut, and the result says so).
    pub max_rows: usize,
    /// Threads of the engine.
    pub cpus: usize,
}

impl Limits {
    /// Limits from a permit's resources: memory in GiB, cores; 5 minutes
    /// and 100,000 rows per query.
    pub fn from_resources(memory_gib: u32, cpus: u32) -> Self {
        Self {
            memory_bytes: (memory_gib.max(1) as usize) << 30,
            timeout: Duration::from_secs(300),
            max_rows: 100_000,
            cpus: cpus.clamp(1, 64) as usize,
        }
    }
}

/// What a query answered.
#[derive(Clone, Debug)]
pub struct QueryResult {
    /// The result's schema.
    pub schema: SchemaRef,
    /// Its batches, at most `max_rows` rows in all.
    pub batches: Vec<RecordBatch>,
    /// Rows returned.
    pub rows: usize,
    /// Whether rows were cut at the limit.
    pub truncated: bool,
    /// How long it ran.
    pub elapsed: Duration,
}

/// A permit's workspace.
pub struct Workspace {
    permit: PermitId,
    ctx: SessionContext,
    engine: Engine,
    limits: Limits,
    tables: Vec<String>,
    schemas: Vec<SchemaRef>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("permit", &self.permit)
            .field("engine", &self.engine)
            .field("limits", &self.limits)
            .field("tables", &self.tables)
            .finish_non_exhaustive()
    }
}

impl Workspace {
    /// A workspace over `tables`, whose files are in `store`, run in this
    /// process.
    pub async fn open(
        permit: PermitId,
        store: Arc<dyn ObjectStore>,
        tables: &[ExtractTable],
        limits: Limits,
    ) -> Result<Self> {
        Self::open_on(&Engine::Local, permit, store, tables, limits).await
    }

    /// A workspace over `tables`, whose files are in `store`, run on
    /// `engine`.
    pub async fn open_on(
        engine: &Engine,
        permit: PermitId,
        store: Arc<dyn ObjectStore>,
        tables: &[ExtractTable],
        limits: Limits,
    ) -> Result<Self> {
        let pool = memory_pool(limits.memory_bytes);
        Self::open_sharing(engine, permit, store, tables, limits, pool).await
    }

    /// [`Workspace::open_on`], drawing memory from `pool`: the permit's
    /// pool, shared by all its queries at once ([`crate::Environment::memory_pool`]),
    /// so that two queries together stay within the permit's memory.
    pub async fn open_sharing(
        engine: &Engine,
        permit: PermitId,
        store: Arc<dyn ObjectStore>,
        tables: &[ExtractTable],
        limits: Limits,
        pool: Arc<dyn MemoryPool>,
    ) -> Result<Self> {
        // On a cluster this session only plans (and runs what reads its own
        // catalog); the limits travel with each query's settings, and the
        // executors hold their own memory pools.
        let runtime = RuntimeEnvBuilder::new()
            .with_object_store_registry(extract_only_registry(store.clone()))
            .with_memory_pool(pool)
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .build_arc()
            .map_err(|e| Error::Query(e.to_string()))?;
        let mut config = SessionConfig::new()
            .with_target_partitions(limits.cpus)
            .with_information_schema(true)
            .with_default_catalog_and_schema("workspace", "extract");
        // A recursive CTE can run without end (or grow without bound) on no
        // data at all; cohort SQL has no need of one.
        config.options_mut().execution.enable_recursive_ctes = false;
        let ctx = match engine {
            Engine::Local => SessionContext::new_with_config_rt(config, runtime),
            Engine::Ballista { scheduler } => cluster::session(scheduler, config, runtime)?,
        };
        // Functions whose output is not bounded by their input (a 300-million
        // element array from two numbers) allocate outside the memory pool's
        // view; a workspace has no use for them that a query cannot do
        // otherwise.
        for name in UNBOUNDED_FUNCTIONS {
            ctx.deregister_udf(name);
            ctx.deregister_udtf(name);
        }
        let base = extracts_url();
        register_store(&ctx, &base, store);
        let mut schemas = Vec::with_capacity(tables.len());
        for t in tables {
            match &t.schema {
                Some(schema) => register_files(&ctx, &base, &t.name, schema.clone(), &t.files)?,
                None => register_files_inferring_schema(&ctx, &base, &t.name, &t.files).await?,
            }
            let provider = ctx
                .table_provider(t.name.as_str())
                .await
                .map_err(|e| Error::Query(e.to_string()))?;
            schemas.push(provider.schema());
        }
        Ok(Self {
            permit,
            ctx,
            engine: engine.clone(),
            limits,
            tables: tables.iter().map(|t| t.name.clone()).collect(),
            schemas,
        })
    }

    /// The permit.
    pub fn permit(&self) -> PermitId {
        self.permit
    }

    /// The tables a query can read.
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// The schema of one of its tables.
    pub fn table_schema(&self, name: &str) -> Option<SchemaRef> {
        self.tables
            .iter()
            .position(|t| t == name)
            .map(|i| self.schemas[i].clone())
    }

    /// The limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Where its queries run.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Runs one read-only SQL query within the limits.
    ///
    /// Dropping the returned future (the client went away, the request
    /// timed out) stops the query at once: its task is aborted, and on a
    /// cluster its job is cancelled.
    pub async fn query(&self, sql: &str) -> Result<QueryResult> {
        self.query_capped(sql, self.limits.max_rows).await
    }

    /// [`Workspace::query`] with its own cap on rows, for tables the
    /// platform computes from a query of its own (more rows than a
    /// researcher sees, never more than `max_rows`).
    pub(crate) async fn query_capped(&self, sql: &str, max_rows: usize) -> Result<QueryResult> {
        let started = Instant::now();
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        // The query runs as its own task, so that the time limit holds even
        // while the engine computes without yielding: the task is aborted
        // (and its plan dropped) when the limit passes.
        // On a cluster the job also has to be cancelled there, so the plan
        // (which knows the job) is kept where the timeout can reach it.
        let ctx = self.ctx.clone();
        let sql = sql.to_owned();
        let on_cluster = matches!(self.engine, Engine::Ballista { .. });
        let failed = move |e: datafusion::error::DataFusionError| engine_error(on_cluster, e);
        let running: Arc<std::sync::Mutex<Option<Arc<dyn ExecutionPlan>>>> = Arc::default();
        let slot = running.clone();
        let task = tokio::spawn(async move {
            // Checked against the options while planning, here, before any
            // plan leaves for a cluster.
            let df = ctx
                .sql_with_options(&sql, options)
                .await
                .map_err(|e| Error::Query(e.to_string()))?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let task_ctx = df.task_ctx();
            let plan = df.create_physical_plan().await.map_err(failed)?;
            if let Ok(mut slot) = slot.lock() {
                *slot = Some(plan.clone());
            }
            let mut stream = datafusion::physical_plan::execute_stream(plan, Arc::new(task_ctx))
                .map_err(failed)?;
            let (mut batches, mut rows, mut truncated) = (Vec::new(), 0usize, false);
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(failed)?;
                let room = max_rows - rows;
                if batch.num_rows() > room {
                    batches.push(batch.slice(0, room));
                    rows += room;
                    truncated = true;
                    break;
                }
                rows += batch.num_rows();
                batches.push(batch);
            }
            Ok::<_, Error>((schema, batches, rows, truncated))
        });
        let abort = task.abort_handle();
        // Aborts the task (and cancels a cluster job) unless the query ends
        // here: also when this future is dropped mid-way.
        let mut stop = StopOnDrop {
            abort: Some(abort.clone()),
            cluster: match &self.engine {
                Engine::Ballista { scheduler } => Some((scheduler.clone(), running.clone())),
                Engine::Local => None,
            },
        };
        let (schema, batches, rows, truncated) =
            match tokio::time::timeout(self.limits.timeout, task).await {
                Ok(joined) => {
                    stop.disarm();
                    joined.map_err(|e| Error::Query(format!("the query stopped: {e}")))??
                }
                Err(_) => {
                    stop.disarm();
                    abort.abort();
                    if let Engine::Ballista { scheduler } = &self.engine {
                        let plan = running.lock().ok().and_then(|mut p| p.take());
                        if let Some(plan) = plan {
                            cluster::cancel(scheduler, &plan).await;
                        }
                    }
                    return Err(Error::TimedOut {
                        seconds: self.limits.timeout.as_secs(),
                    });
                }
            };
        Ok(QueryResult {
            schema,
            batches,
            rows,
            truncated,
            elapsed: started.elapsed(),
        })
    }
}

/// Stops a query whose caller went away: aborts its task, and cancels its
/// job on a cluster (from a task of its own, since `Drop` cannot wait).
struct StopOnDrop {
    abort: Option<tokio::task::AbortHandle>,
    cluster: Option<(Url, RunningPlan)>,
}

type RunningPlan = Arc<std::sync::Mutex<Option<Arc<dyn ExecutionPlan>>>>;

impl StopOnDrop {
    fn disarm(&mut self) {
        self.abort = None;
        self.cluster = None;
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(abort) = self.abort.take() {
            abort.abort();
            if let Some((scheduler, running)) = self.cluster.take() {
                let plan = running.lock().ok().and_then(|mut p| p.take());
                if let (Some(plan), Ok(handle)) = (plan, tokio::runtime::Handle::try_current()) {
                    handle.spawn(async move { cluster::cancel(&scheduler, &plan).await });
                }
            }
        }
    }
}

impl QueryResult {
    /// The column names.
    pub fn columns(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The rows as JSON objects keyed by column.
    pub fn to_json_rows(&self) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
        let mut writer = arrow::json::ArrayWriter::new(Vec::new());
        for batch in &self.batches {
            writer.write(batch)?;
        }
        writer.finish()?;
        let bytes = writer.into_inner();
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Query(format!("result as JSON: {e}")))
    }

    /// The result as an Arrow IPC stream.
    pub fn to_arrow_ipc(&self) -> Result<Vec<u8>> {
        let mut writer = arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &self.schema)?;
        for batch in &self.batches {
            writer.write(batch)?;
        }
        writer.finish()?;
        Ok(writer.into_inner()?)
    }
}

/// An engine's error as the researcher should read it. On a cluster, a
/// failure to reach the scheduler or an executor is the platform's
/// trouble, not the query's: Ballista hands it over as text (a tonic
/// transport error inside an execution error), so it is recognised by
/// that text.
fn engine_error(on_cluster: bool, e: datafusion::error::DataFusionError) -> Error {
    let text = e.to_string();
    const UNREACHABLE: [&str; 4] = [
        "tonic::transport",
        "transport error",
        "GrpcConnectionError",
        "Connection refused",
    ];
    if on_cluster && UNREACHABLE.iter().any(|m| text.contains(m)) {
        Error::Unavailable(text)
    } else {
        Error::Query(text)
    }
}
