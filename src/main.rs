//! The `loadtest` command line: parses arguments, dispatches to a command, maps errors to exit codes.

use clap::Parser;
use loadtest::cli::{Cli, Command};
use loadtest::commands;
use loadtest::exit::Code;
use std::process::ExitCode;

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let hints = loadtest::habits::hints(&std::env::args().collect::<Vec<_>>());
            let _ = e.print();
            for h in hints {
                loadtest::errln!("{h}");
            }
            return ExitCode::from(Code::Input as u8);
        }
        Err(e) => e.exit(),
    };
    loadtest::logging::init(cli.verbose, &cli.log_format);
    let result = match &cli.command {
        Command::Run(a) => commands::repeat::run(a),
        Command::Validate(a) => commands::validate::validate(a),
        Command::Report(a) => commands::report::report(a),
        Command::Compare(a) => commands::compare::compare(a),
        Command::Gate(a) => commands::gate::gate(a),
        Command::Baseline(c) => commands::baseline::baseline(c),
        Command::Dlq(c) => commands::dlq::dlq(c),
        Command::Init(a) => commands::init::init(a),
        Command::Completions(a) => commands::completions::completions(a),
        Command::Man => commands::completions::man(),
        Command::Runs(a) => commands::runs::runs(a),
        Command::Schema => commands::schema::schema(),
    };
    // A failed write to stdout or stderr (a full disk) is one line and exit 3, never a panic.
    let unwritten = loadtest::out::finish();
    match (result, unwritten) {
        (Ok(()), None) => ExitCode::from(Code::Ok as u8),
        (Ok(()), Some(why)) => {
            loadtest::errln!("error: {why}");
            ExitCode::from(Code::Runtime as u8)
        }
        (Err(f), why) => {
            loadtest::errln!("error: {}", f.message.trim_start_matches("error: "));
            if let Some(why) = why {
                loadtest::errln!("error: {why}");
            }
            ExitCode::from(f.code as u8)
        }
    }
}

/// `loadtest compare a b | head` must end quietly when the reader goes away, as Unix tools do, instead of
/// panicking on a write error (Rust ignores SIGPIPE by default).
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
