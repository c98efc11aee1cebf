//! Build the demo warehouse the README example runs on:
//! `examples/warehouse/` (Parquet, read by the local backend) and `examples/analytics.duckdb`.

// An example program: the terminal is its edge.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    match da::demo::make(&here.join("warehouse"), &here.join("analytics.duckdb")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot build the demo warehouse: {e}");
            ExitCode::FAILURE
        }
    }
}
