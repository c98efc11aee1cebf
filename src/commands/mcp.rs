//! `da mcp`: serve the Model Context Protocol on stdin/stdout until the client hangs up.

use std::io::Write;

use crate::error::Error;
use crate::settings::Settings;
use crate::worker::Workers;

/// Serve one MCP session; `out` carries protocol messages only, `err` the log.
pub fn run(
    settings: Settings,
    workers: Workers,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Error> {
    crate::mcp::serve(settings, workers, out, err)
}
