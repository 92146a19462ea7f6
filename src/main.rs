//! The `loadtest` command line: parses arguments, dispatches to a command, maps errors to exit codes.

use clap::Parser;
use loadtest::cli::{Cli, Command};
use loadtest::commands;
use loadtest::exit::Code;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(a) => commands::repeat::run(a),
        Command::Validate(a) => commands::validate::validate(a),
        Command::Report(a) => commands::report::report(a),
        Command::Compare(a) => commands::compare::compare(a),
        Command::Gate(a) => commands::gate::gate(a),
        Command::Baseline(c) => commands::baseline::baseline(c),
    };
    match result {
        Ok(()) => ExitCode::from(Code::Ok as u8),
        Err(f) => {
            eprintln!("error: {}", f.message.trim_start_matches("error: "));
            ExitCode::from(f.code as u8)
        }
    }
}
