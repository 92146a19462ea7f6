//! `loadtest completions SHELL` and `loadtest man`: the shell completion scripts and the man page, generated from
//! the command-line definition itself (clap_complete, clap_mangen), so they never drift from it.

use crate::cli::{Cli, CompletionsArgs};
use crate::exit::Failure;
use clap::CommandFactory;
use std::io::Write;

pub fn completions(a: &CompletionsArgs) -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "loadtest", &mut out);
    write_stdout(&out)
}

pub fn man() -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Failure::runtime(format!("rendering the man page: {e}")))?;
    write_stdout(&out)
}

/// Writes it all or fails with exit 3 (a closed pipe ends the process quietly, as everywhere in `loadtest`).
fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::runtime(format!("writing to stdout: {e}")))
}
