//! The sealed engine working on a thread of its own, so that its caller can stop waiting.
//! DuckDB looks for an interrupt only between chunks, and works out constant expressions
//! while it prepares a statement, so one long expression (a huge `repeat()`, a
//! `levenshtein` of two long strings) runs on however early it is interrupted. A caller
//! that gives up leaves the thread, and the engine it owns, to finish alone (or to the
//! process's exit).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::SealedEngine;

/// Work started by [`SealedEngine::work_on_own_thread`].
pub struct Working<T> {
    /// Never sent on: it disconnects when the thread ends, however it ends.
    ended: mpsc::Receiver<()>,
    thread: JoinHandle<(SealedEngine, T)>,
}

impl SealedEngine {
    /// Start `work` on a thread of its own (named `name`), which owns the engine until
    /// the work is done.
    pub fn work_on_own_thread<T: Send + 'static>(
        self,
        name: &str,
        work: impl FnOnce(&SealedEngine) -> T + Send + 'static,
    ) -> std::io::Result<Working<T>> {
        let (ended_tx, ended) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let _ended = ended_tx;
                let answer = work(&self);
                (self, answer)
            })?;
        Ok(Working { ended, thread })
    }
}

impl<T> Working<T> {
    /// The engine and the work's answer; or `None` once `give_up` (asked every 50 ms
    /// while the work runs) says so, leaving the thread to finish alone. A panic in the
    /// work carries on here.
    pub fn wait(self, mut give_up: impl FnMut() -> bool) -> Option<(SealedEngine, T)> {
        loop {
            match self.ended.recv_timeout(Duration::from_millis(50)) {
                Err(RecvTimeoutError::Timeout) if give_up() => return None,
                Err(RecvTimeoutError::Timeout) => {}
                // Only ever disconnected: the thread has ended.
                Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                    return Some(
                        self.thread
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    );
                }
            }
        }
    }
}
