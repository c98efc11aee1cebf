//! `da mcp`: a Model Context Protocol server on stdin/stdout, built on the official Rust
//! SDK (`rmcp`), so agents check, inspect and run plans through typed tools instead of
//! scraping the CLI.
//!
//! - `server.rs`: the rmcp tool router (schemas, descriptions, async glue);
//! - `tools.rs`: what each tool does, synchronous and free of rmcp, so it is unit-tested
//!   directly and stays a thin layer over the same code as the CLI;
//! - `types.rs`: the tools' inputs, outputs and typed error, with their JSON schemas.
//!
//! Stdout carries protocol messages only, and this is built in rather than hoped for: the
//! server writes into an in-process pipe, and [`serve`] copies that pipe, and nothing else,
//! to `out`. Log lines travel on a channel to `err`.

mod server;
mod tools;
mod types;

use std::io::Write;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use crate::error::{Error, exit};
use crate::settings::Settings;
use crate::worker::Workers;

pub use server::{DaServer, Job};
pub use types::{
    CheckOutput, ColumnOut, EstimateOutput, OutputFile, PlanInput, PlanSchemaOutput, PlanSyntax,
    RunInput, RunOutput, ToolError,
};

/// Where the server's log lines go: a channel drained by [`serve`] into its `err`.
#[derive(Debug, Clone)]
pub struct Log(mpsc::UnboundedSender<String>);

impl Log {
    /// Log one line (dropped when nobody listens any more).
    pub fn line(&self, text: impl Into<String>) {
        let _ = self.0.send(text.into());
    }
}

/// Serve MCP on the process's stdin until the client closes it.
pub fn serve(
    settings: Settings,
    workers: Workers,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the runtime: {e}")))?;
    let code = rt.block_on(serve_on(settings, workers, tokio::io::stdin(), out, err));
    // A read of stdin may still be parked on its blocking thread; do not wait for it.
    rt.shutdown_background();
    code
}

/// Serve MCP on `input`, writing protocol messages to `out` and log lines to `err`.
pub async fn serve_on<R>(
    settings: Settings,
    workers: Workers,
    input: R,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Error>
where
    R: AsyncRead + Send + Unpin + 'static,
{
    let (log_tx, mut log_rx) = mpsc::unbounded_channel();
    let server = DaServer::new(settings, workers, Log(log_tx));
    let (to_client, mut from_server) = tokio::io::duplex(64 * 1024);
    let session = tokio::spawn(async move {
        use rmcp::ServiceExt;
        let running = server
            .serve((input, to_client))
            .await
            .map_err(|e| format!("the session did not start: {e}"))?;
        running
            .waiting()
            .await
            .map_err(|e| format!("the session failed: {e}"))
    });
    let _ = writeln!(err, "da mcp: serving the Model Context Protocol on stdio");
    let mut buf = vec![0u8; 64 * 1024];
    let mut client_gone = false;
    loop {
        tokio::select! {
            read = from_server.read(&mut buf) => match read {
                // The server dropped its end: the session is over.
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                        client_gone = true;
                        break;
                    }
                }
            },
            Some(line) = log_rx.recv() => {
                let _ = writeln!(err, "da mcp: {line}");
            }
        }
    }
    if client_gone {
        // Nobody reads the answers any more: stop serving rather than wait for stdin.
        session.abort();
        let _ = writeln!(err, "da mcp: the client stopped reading; exiting");
        return Ok(exit::OK);
    }
    while let Ok(line) = log_rx.try_recv() {
        let _ = writeln!(err, "da mcp: {line}");
    }
    match session.await {
        Ok(Ok(reason)) => {
            let _ = writeln!(err, "da mcp: session ended ({reason:?})");
            Ok(exit::OK)
        }
        Ok(Err(message)) => Err(Error::Usage(message)),
        Err(join) => Err(Error::Usage(format!("the session failed: {join}"))),
    }
}
