//! The platform's background tasks: publishing signed tree heads to the
//! witness and ending permits that expired (periodic), and two followers
//! of other functions' hints: processing ending a revoked permit's key and
//! extracts at once, and collection applying identity's merges and splits
//! to the lake. [`AppState::close`] stops them all before the audit log
//! closes. The periodic tasks hold the state weakly, so a dropped platform
//! ends them; the followers hold only the functions they join, and end
//! with their hints or with `close`.
//!
//! The schedule is Tokio's clock; what a task does on each tick is a plain
//! method that tests call directly, so no test waits for a tick.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::AppState;

/// The running periodic tasks of one platform.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl Tasks {
    fn push(&self, handle: JoinHandle<()>) {
        self.handles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(handle);
    }

    /// Stops every task. A tick in progress is cut at its next await; each
    /// tick's work is safe to cut there (an append is one write, a permit is
    /// ended whole or retried on the next tick).
    pub(crate) fn stop(&self) {
        for handle in self
            .handles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            handle.abort();
        }
    }
}

/// Starts the periodic tasks the configuration asks for.
pub(crate) fn start(state: &AppState) {
    // A permit that expires by time changes no row: only a sweep notices,
    // so its key and extracts would otherwise be kept for ever.
    let secs = state.config().review.permit_sweep_secs.max(1);
    every(
        state,
        Duration::from_secs(secs),
        "permit-sweeper",
        |state| {
            Box::pin(async move {
                let sweeper = renkei_core::Actor::System {
                    component: "permit-sweeper".to_owned(),
                };
                if let Err(e) = state.processing().end_permits_over(sweeper).await {
                    tracing::error!(error = %e, "cannot sweep expired permits");
                }
            })
        },
    );
    // A revoked or superseded permit's key and extracts go at once, on
    // review's hint, rather than at the next sweep.
    let processing = state.processing_shared();
    state.tasks().push(tokio::spawn(async move {
        let follower = renkei_core::Actor::System {
            component: "permit-follower".to_owned(),
        };
        processing.follow_permits(follower).await;
    }));
    // Identity's merges and splits reach the lake by collection, the lake's
    // writer, applying them (at start, then on identity's hints).
    let (intake, identity) = (state.intake().clone(), state.identity().clone());
    state.tasks().push(tokio::spawn(async move {
        intake.follow_person_events(Arc::new(identity)).await;
    }));
    if state.witness().is_some() {
        let secs = state.config().audit.witness_interval_secs.max(1);
        every(state, Duration::from_secs(secs), "witness", |state| {
            Box::pin(async move {
                match state.publish_to_witness().await {
                    Ok(true) => tracing::debug!("published a signed tree head to the witness"),
                    Ok(false) => {}
                    // The log keeps working; the witness lags until the
                    // next tick succeeds, which the operator must know.
                    Err(e) => tracing::error!(error = %e, "cannot publish to the audit witness"),
                }
            })
        });
    }
}

type Tick = fn(AppState) -> futures::future::BoxFuture<'static, ()>;

/// Runs `tick` at once and then every `period` (a late tick is delayed, not
/// bunched), for as long as the platform lives.
fn every(state: &AppState, period: Duration, name: &'static str, tick: Tick) {
    let weak = state.downgrade();
    let handle = tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let Some(state) = AppState::upgrade(&weak) else {
                tracing::debug!(task = name, "platform gone; periodic task ends");
                return;
            };
            tick(state).await;
        }
    });
    state.tasks().push(handle);
}
