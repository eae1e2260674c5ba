//! How much work one check may do: a deadline, a cancellation flag and the
//! largest dense table it takes on.
//!
//! Secondary suppression and the LP audit grow much faster than a table's
//! cells (a dense simplex per suppressed cell), so a researcher could ask for
//! a table that keeps a core busy for minutes. A [`Budget`] bounds that: the
//! loops that can run long ask [`Budget::spend`] at every round, and the
//! check ends with [`Error::OverBudget`] when the deadline passes or the
//! request that wanted it has gone away.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::error::{Error, Result};
use super::grid::MAX_CELLS;

/// The limits of one check.
#[derive(Clone, Debug)]
pub struct Budget {
    deadline: Option<(Instant, Duration)>,
    cancelled: Option<Arc<AtomicBool>>,
    max_dense_cells: usize,
}

impl Budget {
    /// No limit but the largest table the grid represents: for tests and
    /// tools that check one table of their own.
    pub fn unlimited() -> Self {
        Budget {
            deadline: None,
            cancelled: None,
            max_dense_cells: MAX_CELLS,
        }
    }

    /// At most `time` of work on a dense table of at most `max_dense_cells`
    /// cells (totals and empty combinations included).
    pub fn new(time: Duration, max_dense_cells: usize) -> Self {
        Budget {
            deadline: Some((Instant::now() + time, time)),
            cancelled: None,
            max_dense_cells: max_dense_cells.min(MAX_CELLS),
        }
    }

    /// The same budget, ended early when `flag` is set (the request that
    /// asked for the check was dropped).
    pub fn cancelled_by(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancelled = Some(flag);
        self
    }

    /// The largest dense table this budget checks.
    pub fn max_dense_cells(&self) -> usize {
        self.max_dense_cells
    }

    /// Called at every round of a long loop: an error once the time is up
    /// or the check was cancelled.
    pub fn spend(&self) -> Result<()> {
        if let Some(flag) = &self.cancelled
            && flag.load(Ordering::Relaxed)
        {
            return Err(Error::Cancelled);
        }
        if let Some((deadline, time)) = self.deadline
            && Instant::now() >= deadline
        {
            return Err(Error::OverBudget {
                seconds: time.as_secs_f64(),
            });
        }
        Ok(())
    }
}
