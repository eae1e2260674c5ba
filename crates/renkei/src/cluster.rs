//! `renkei cluster`: the nodes of the analysis cluster (Apache DataFusion
//! Ballista), so that the binary that serves the platform also deploys the
//! machines its workspaces run on. See ARCHITECTURE.md, "Deploying the
//! analysis cluster".

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use renkei_analysis::cluster::{self, ExecutorOptions};

use renkei::config::{self, CommonFlags};

/// The nodes.
#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Run the scheduler: it takes the plans of workspaces from the
    /// platform and hands their tasks to executors.
    Scheduler {
        /// Address to listen on (gRPC, for the platform and executors).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50050")]
        bind: SocketAddr,
        /// How executors and the platform name this machine (default: the
        /// bind address).
        #[arg(long, value_name = "HOST")]
        advertise: Option<String>,
        /// The extract directory as mounted here (default: <data>/extracts).
        #[arg(long, value_name = "DIR")]
        extracts: Option<PathBuf>,
    },
    /// Run an executor: it asks the scheduler for tasks, reads the
    /// extract files and serves the results.
    Executor {
        /// The scheduler (df://host:port).
        #[arg(long, value_name = "URL")]
        scheduler: url::Url,
        /// Address to serve task results on (Arrow Flight).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
        bind: SocketAddr,
        /// How the platform and other executors name this machine
        /// (default: the bind address).
        #[arg(long, value_name = "HOST")]
        advertise: Option<String>,
        /// Tasks at once (default: one per core).
        #[arg(long, value_name = "N", default_value_t = 0)]
        cores: usize,
        /// Memory all tasks may hold together, GiB (default: a share of
        /// the machine's).
        #[arg(long, value_name = "GIB")]
        memory_gib: Option<u64>,
        /// Where shuffle files go (default: a temporary directory).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// The extract directory as mounted here (default: <data>/extracts).
        #[arg(long, value_name = "DIR")]
        extracts: Option<PathBuf>,
    },
}

/// The extract store as this machine sees it: the directory given, or the
/// platform's own layout under the configured data directory.
fn extract_store(
    common: &CommonFlags,
    dir: Option<PathBuf>,
) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let dir = match dir {
        Some(dir) => dir,
        None => config::load(common)?.data_dir.join("extracts"),
    };
    let store = LocalFileSystem::new_with_prefix(&dir)
        .with_context(|| format!("opening the extract directory {}", dir.display()))?;
    Ok(Arc::new(store))
}

pub async fn run(common: &CommonFlags, command: ClusterCommand) -> anyhow::Result<()> {
    match command {
        ClusterCommand::Scheduler {
            bind,
            advertise,
            extracts,
        } => {
            let store = extract_store(common, extracts)?;
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("listening on {bind}"))?;
            println!(
                "renkei analysis scheduler on df://{}",
                listener.local_addr()?
            );
            tokio::select! {
                served = cluster::run_scheduler(listener, store, advertise) => {
                    served.context("running the analysis scheduler")?;
                }
                () = renkei::shutdown_signal() => {}
            }
        }
        ClusterCommand::Executor {
            scheduler,
            bind,
            advertise,
            cores,
            memory_gib,
            work_dir,
            extracts,
        } => {
            let store = extract_store(common, extracts)?;
            let options = ExecutorOptions {
                scheduler,
                bind,
                advertise_host: advertise,
                cores,
                memory_bytes: memory_gib.map(|g| g << 30),
                work_dir,
            };
            // The executor stops itself on Ctrl-C or SIGTERM, after telling
            // the scheduler and letting its running tasks finish.
            cluster::run_executor(options, store)
                .await
                .context("running the analysis executor")?;
        }
    }
    Ok(())
}
