//! The `da` binary: parse the command line, run, exit. Everything else is in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = da::cli::Cli::parse();
    // stderr stays unlocked: progress bars draw on it from other threads.
    let code = da::run(cli, &mut std::io::stdout().lock(), &mut std::io::stderr());
    ExitCode::from(code)
}
