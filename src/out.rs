//! Standard output and standard error without panics: `out!`, `outln!` and `errln!` write like `print!`,
//! `println!` and `eprintln!`, but a failed write (a full disk, a closed terminal) is recorded instead of
//! panicking, and `main` ends with one line and exit 3. A reader that went away (a closed pipe) is not an error.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::sync::Mutex;

/// The first write that failed: which stream, and why.
static FAILED: Mutex<Option<String>> = Mutex::new(None);

/// `print!` that records a failed write instead of panicking.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::write_out(format_args!($($arg)*)) };
}

/// `println!` that records a failed write instead of panicking.
#[macro_export]
macro_rules! outln {
    () => { $crate::out::write_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::out::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` that records a failed write instead of panicking.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::out::write_err(format_args!("{}\n", format_args!($($arg)*))) };
}

pub fn write_out(args: fmt::Arguments) {
    note("standard output", std::io::stdout().lock().write_fmt(args));
}

pub fn write_err(args: fmt::Arguments) {
    note("standard error", std::io::stderr().lock().write_fmt(args));
}

fn note(stream: &str, result: std::io::Result<()>) {
    let Err(e) = result else { return };
    if e.kind() == ErrorKind::BrokenPipe {
        return;
    }
    let mut failed = FAILED.lock().unwrap_or_else(|p| p.into_inner());
    if failed.is_none() {
        *failed = Some(format!("cannot write to {stream}: {e}"));
    }
}

/// Flushes standard output; returns the first write that failed, if any did.
pub fn finish() -> Option<String> {
    note("standard output", std::io::stdout().lock().flush());
    FAILED.lock().unwrap_or_else(|p| p.into_inner()).take()
}
