//! Worker processes: `da serve` runs each query and plan, and `da mcp` each `plan_run`, in
//! a child `da worker` process of its own.
//!
//! A thread cannot be stopped: DuckDB looks for an interrupt only between chunks and works
//! out constant expressions while it prepares a statement, so one long expression runs on
//! however early it is interrupted, and one huge string or list is memory DuckDB's
//! `memory_limit` never sees. In a long-lived server such work would hold its slot and its
//! memory until it happened to end. A process can be stopped, and capped:
//!
//! - the parent writes one JSON line (the resolved settings and the job) to the worker's
//!   stdin and keeps stdin open; the worker answers with one JSON document on stdout and
//!   exits. What a job is and what it answers belongs to whoever asks (`server::Job`,
//!   `mcp::Job`); `da worker` (in `dispatch.rs`) knows both;
//! - to stop a worker, the parent closes its stdin: the worker cancels its run as Ctrl-C
//!   would (its BigQuery jobs are cancelled); one that has not ended [`STOP_GRACE`] later
//!   is killed. A worker whose parent died sees the same closed stdin;
//! - the worker caps its own data segment at `worker.memory_mb` (`RLIMIT_DATA`) before it
//!   starts, so a runaway allocation fails in the worker, not in the server.
//!
//! `child.rs` is the worker's side.

mod child;

use std::future::Future;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::settings::Settings;
pub use child::serve_one;

/// The one line a worker reads from stdin.
#[derive(Serialize)]
struct Request<'a, J> {
    settings: &'a Settings,
    job: &'a J,
}

/// How long a worker told to stop may take to end (cancel its BigQuery jobs, give up on a
/// stuck expression) before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// The executable workers run as (`da` itself), fixed where the server starts.
#[derive(Debug, Clone)]
pub struct Workers {
    exe: PathBuf,
}

/// Why a worker gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("cannot start a worker process ({exe}): {source}")]
    Start {
        exe: PathBuf,
        source: std::io::Error,
    },
    /// The caller's `stop` fired and the worker was stopped.
    #[error("the worker was stopped")]
    Stopped,
    #[error("the run needed more memory than worker.memory_mb ({memory_mb} MiB) allows")]
    OutOfMemory { memory_mb: u64 },
    #[error("the worker process ended without an answer ({status}){stderr}")]
    Crashed { status: String, stderr: String },
}

impl Failure {
    /// What to do about it, where the user can do something.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::OutOfMemory { .. } => Some(
                "make the strings and lists the sql builds smaller, or raise worker.memory_mb in the instance configuration",
            ),
            Self::Start { .. } | Self::Stopped | Self::Crashed { .. } => None,
        }
    }
}

impl Workers {
    /// Workers that run `exe worker` (`std::env::current_exe()` in `da serve`).
    pub fn new(exe: impl Into<PathBuf>) -> Self {
        Self { exe: exe.into() }
    }

    /// Run `job` in a new worker process with `settings`, and read its answer as `A`
    /// (which `job` decides). When `stop` completes first, the worker is stopped (see the
    /// module doc) and the answer is [`Failure::Stopped`]; the future ends only once the
    /// process has, so a caller holding a slot across it gives the slot back with it.
    pub async fn run<J: Serialize, A: DeserializeOwned>(
        &self,
        settings: &Settings,
        job: &J,
        stop: impl Future<Output = ()>,
    ) -> Result<A, Failure> {
        let memory_mb = settings.config.worker.memory_mb;
        let mut line = serde_json::to_vec(&Request { settings, job })
            .map_err(|e| crashed("cannot encode the request", &e.to_string()))?;
        line.push(b'\n');
        let mut child = tokio::process::Command::new(&self.exe)
            .arg("worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Should this future be dropped mid-run (runtime shutdown), no worker outlives it.
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| Failure::Start {
                exe: self.exe.clone(),
                source,
            })?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(crashed("the worker's pipes were not set up", ""));
        };
        // A worker that died at once leaves a broken pipe: its exit status tells why.
        let _ = stdin.write_all(&line).await;
        let _ = stdin.flush().await;
        let output = async { tokio::join!(read_all(stdout), read_all(stderr)) };
        tokio::select! {
            // An answer that is there wins over a stop that came at the same moment.
            biased;
            (out, err) = output => {
                drop(stdin);
                let status = child.wait().await.map_err(|e| crashed("cannot wait for the worker", &e.to_string()))?;
                decode(status, &out, &err, memory_mb)
            }
            () = stop => {
                drop(stdin);
                if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_err() {
                    let _ = child.kill().await;
                }
                Err(Failure::Stopped)
            }
        }
    }
}

async fn read_all(mut pipe: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut buf = Vec::new();
    // A read error ends the answer early; `decode` then reports what did arrive.
    let _ = pipe.read_to_end(&mut buf).await;
    buf
}

/// The worker's answer, or why there is none. A worker that ran out of its memory cap
/// says so on stderr, in Rust's words or C++'s (DuckDB), before it aborts.
fn decode<A: DeserializeOwned>(
    status: ExitStatus,
    out: &[u8],
    err: &[u8],
    memory_mb: u64,
) -> Result<A, Failure> {
    if status.success()
        && let Ok(answer) = serde_json::from_slice(out)
    {
        return Ok(answer);
    }
    let stderr = String::from_utf8_lossy(err);
    if stderr.contains("memory allocation of") || stderr.contains("bad_alloc") {
        return Err(Failure::OutOfMemory { memory_mb });
    }
    Err(crashed(&status.to_string(), &stderr))
}

/// The last lines of a worker's stderr are what explains its end.
fn crashed(status: &str, stderr: &str) -> Failure {
    const TAIL: usize = 2000;
    let stderr = stderr.trim();
    let start = stderr.len().saturating_sub(TAIL);
    let start = (start..stderr.len())
        .find(|i| stderr.is_char_boundary(*i))
        .unwrap_or(stderr.len());
    Failure::Crashed {
        status: status.to_owned(),
        stderr: if stderr.is_empty() {
            String::new()
        } else {
            format!(": {}", &stderr[start..])
        },
    }
}
