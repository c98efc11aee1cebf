//! Build the demo warehouse the README example runs on:
//! `examples/warehouse/` (Parquet, read by the local backend) and `examples/analytics.duckdb`,
//! under the current directory (run it from the clone root), or under the folder given as the
//! first argument.

// An example program: the terminal is its edge.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(e) => {
            eprintln!("error: cannot read the current directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let folder = da::demo::folder(std::env::args().skip(1), &cwd);
    match da::demo::make_in(&folder) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: cannot build the demo warehouse in {}: {e}",
                folder.display()
            );
            ExitCode::FAILURE
        }
    }
}
