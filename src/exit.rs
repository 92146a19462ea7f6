//! Exit codes and the error type that carries one: 0 ok, 1 a gate or threshold failed, 2 usage or input error,
//! 3 broker or runtime failure or a `[limits]` bound reached, 129 / 130 / 143 interrupted by SIGHUP / SIGINT / SIGTERM
//! (the report is written first).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Ok = 0,
    GateFailed = 1,
    Input = 2,
    Runtime = 3,
    /// Stopped by SIGHUP (128 + 1: the terminal went away).
    Sighup = 129,
    /// Stopped by SIGINT (128 + 2, as a shell reports it).
    Sigint = 130,
    /// Stopped by SIGTERM (128 + 15).
    Sigterm = 143,
}

/// An error on its way out of `main`: the message to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

impl Failure {
    pub fn input(message: impl Into<String>) -> Failure {
        Failure { code: Code::Input, message: message.into() }
    }
    pub fn gate(message: impl Into<String>) -> Failure {
        Failure { code: Code::GateFailed, message: message.into() }
    }
    pub fn runtime(message: impl Into<String>) -> Failure {
        Failure { code: Code::Runtime, message: message.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}
