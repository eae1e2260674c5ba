//! The library half of the `renkei` package: what the `renkei` binary and
//! the benchmarks (`renkei-bench`) share.
//!
//! **Owns:** the layered configuration of the command line
//! ([`config`]: file, environment, flags), the demo walk ([`demo`]: start,
//! seed, walk every function, print logins), and the shutdown signal.
//!
//! **Never:** holds a function's logic, or a path into the build tree (the
//! benchmarks' peers live with `renkei-bench`). `anyhow` is used here, as
//! in the binaries, because these are the binaries' own steps, reported
//! to an operator.

pub mod config;
pub mod demo;

/// Resolves on Ctrl-C or SIGTERM, which start a graceful shutdown. The
/// handlers are installed when this is called, not when the future is first
/// polled: a SIGTERM sent as soon as "serving on" is printed must stop the
/// platform cleanly (recording the stop, publishing the last head), not
/// kill it.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: std::io::Result<tokio::signal::unix::Signal>, name: &'static str| async move {
                match s {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for {name}");
                        std::future::pending::<()>().await;
                    }
                }
            };
            let (int, term) = handlers;
            tokio::select! {
                () = wait(int, "SIGINT") => {},
                () = wait(term, "SIGTERM") => {},
            }
        }
        #[cfg(not(unix))]
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutdown requested; finishing requests in flight");
    }
}
