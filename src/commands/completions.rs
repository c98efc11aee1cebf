//! `da completions SHELL`: a completion script generated from the clap definition, so it
//! always matches this binary's commands and flags.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell as Target;

use crate::cli::{Cli, Shell};

/// Write the completion script for `shell`.
pub fn run(shell: Shell, out: &mut dyn Write) -> std::io::Result<()> {
    let target = match shell {
        Shell::Bash => Target::Bash,
        Shell::Zsh => Target::Zsh,
        Shell::Fish => Target::Fish,
        Shell::Powershell => Target::PowerShell,
    };
    // clap_complete panics when its writer fails; generate into memory, then write.
    let mut script = Vec::new();
    clap_complete::generate(target, &mut Cli::command(), "da", &mut script);
    out.write_all(&script)
}
