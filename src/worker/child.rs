//! The worker's side: one request in on stdin, one answer out on stdout.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, exit};
use crate::settings::Settings;

/// The line the parent wrote.
#[derive(Deserialize)]
struct Request<J> {
    settings: Settings,
    job: J,
}

/// Read the one request on `input`, `run` its job, and write the answer to `out` (`da
/// worker`, started by `da serve` and `da mcp`; see the module doc of `worker`). `run`
/// gets the settings and the flag that says the parent wants the run stopped.
pub fn serve_one<J: DeserializeOwned>(
    mut input: Box<dyn BufRead + Send>,
    out: &mut dyn Write,
    run: impl FnOnce(J, &Settings, Arc<AtomicBool>) -> serde_json::Result<Value>,
) -> Result<u8, Error> {
    let mut line = String::new();
    input.read_line(&mut line).map_err(|source| Error::Io {
        context: "cannot read the worker request from stdin".to_owned(),
        source,
    })?;
    let Request { settings, job } = serde_json::from_str(&line).map_err(|e| {
        Error::Usage(format!(
            "`da worker` runs one request for da serve or da mcp, given as a JSON line on stdin: {e}"
        ))
    })?;
    cap_memory(settings.config.worker.memory_mb)?;
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    // The parent closes stdin to stop the run, and so does its death.
    std::thread::Builder::new()
        .name("da-worker-stdin".to_owned())
        .spawn(move || {
            let _ = std::io::copy(&mut input, &mut std::io::sink());
            flag.store(true, Ordering::Relaxed);
        })
        .map_err(|source| Error::Io {
            context: "cannot start the worker's stop watcher".to_owned(),
            source,
        })?;
    let answer = run(job, &settings, cancel)
        .map_err(|e| Error::Internal(format!("cannot encode the worker's answer: {e}")))?;
    serde_json::to_writer(&mut *out, &answer)
        .map_err(std::io::Error::from)
        .and_then(|()| out.flush())
        .map_err(|source| Error::Io {
            context: "cannot write the worker's answer".to_owned(),
            source,
        })?;
    Ok(exit::OK)
}

/// Cap the data segment (heap and private mappings: what allocations take, not address
/// space merely reserved) at `memory_mb`, or at the hard limit this process was given.
#[cfg(unix)]
fn cap_memory(memory_mb: u64) -> Result<(), Error> {
    let cap_error = |source| Error::Io {
        context: "cannot cap the worker's memory (RLIMIT_DATA)".to_owned(),
        source,
    };
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::DATA).map_err(cap_error)?;
    let cap = memory_mb.saturating_mul(1024 * 1024).min(hard);
    rlimit::setrlimit(rlimit::Resource::DATA, cap, cap).map_err(cap_error)
}

/// Without `setrlimit` there is no cap to set, and running uncapped would break the
/// promise `worker.memory_mb` makes.
#[cfg(not(unix))]
fn cap_memory(_memory_mb: u64) -> Result<(), Error> {
    Err(Error::Usage(
        "worker.memory_mb needs setrlimit, which this system does not have: da serve and da mcp runs need a Unix system".to_owned(),
    ))
}
