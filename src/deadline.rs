//! One wall-clock budget for a run, and the flag that cancels it.
//!
//! Every phase asks the same `Deadline` whether to go on, so a run ends with `timeout` when
//! its time is up and with `interrupted` when it was stopped on purpose (Ctrl-C, a dropped
//! or timed-out HTTP request), whichever phase it is in.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{ErrorType, RunError};

/// When a run must end, and whether it has been cancelled.
#[derive(Debug, Clone)]
pub struct Deadline {
    at: Instant,
    limit_seconds: u64,
    cancel: Arc<AtomicBool>,
}

impl Deadline {
    /// A budget of `limit_seconds` from now, cancelled when `cancel` is set.
    pub fn start(limit_seconds: u64, cancel: Arc<AtomicBool>) -> Self {
        Self {
            at: Instant::now() + Duration::from_secs(limit_seconds),
            limit_seconds,
            cancel,
        }
    }

    /// The instant the budget runs out.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// Time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    pub fn is_past(&self) -> bool {
        Instant::now() >= self.at
    }

    /// The flag a Ctrl-C handler or a server sets to stop the run.
    pub fn cancel_flag(&self) -> &Arc<AtomicBool> {
        &self.cancel
    }

    /// `Ok` while the run may go on; otherwise why it must stop, naming `phase`.
    pub fn check(&self, phase: &str) -> Result<(), RunError> {
        if self.is_cancelled() {
            return Err(RunError::interrupted(phase));
        }
        if self.is_past() {
            return Err(self.timeout(phase));
        }
        Ok(())
    }

    /// The `timeout` error for `phase`.
    pub fn timeout(&self, phase: &str) -> RunError {
        RunError::new(
            ErrorType::Timeout,
            format!(
                "the run passed its limit of {} s during {phase}",
                self.limit_seconds
            ),
        )
        .detail("timeout_seconds", self.limit_seconds)
        .hint(
            "raise limits.timeout_seconds (within the instance limit) or make the queries cheaper",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_is_interrupted_and_an_elapsed_budget_is_timeout() {
        let flag = Arc::new(AtomicBool::new(false));
        let d = Deadline::start(60, flag.clone());
        assert!(d.check("fetch").is_ok());
        flag.store(true, Ordering::Relaxed);
        assert_eq!(
            d.check("fetch").unwrap_err().error_type,
            ErrorType::Interrupted
        );
        let gone = Deadline::start(0, Arc::new(AtomicBool::new(false)));
        let err = gone.check("the final query").unwrap_err();
        assert_eq!(err.error_type, ErrorType::Timeout);
        assert!(err.message.contains("the final query"), "{}", err.message);
    }
}
