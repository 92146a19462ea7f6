//! `loadtest dlq`: the dead-letter tools (inspect, replay, watch, serve), one file each; what they share is here:
//! where the broker is, and how their errors map to exit codes.

mod inspect;
mod replay;
mod serve;
mod watch;

use crate::amqp_url::{AmqpUrl, DEFAULT_URL, URL_ENV};
use crate::broker::rabbitmq::connect::Endpoint;
use crate::broker::rabbitmq::dlq::{Client, DlqError};
use crate::cli::{DlqBrokerArgs, DlqCommand};
use crate::exit::Failure;
use crate::scenario::TlsCfg;
use std::time::Duration;

pub fn dlq(c: &DlqCommand) -> Result<(), Failure> {
    match c {
        DlqCommand::Inspect(a) => inspect::inspect(a),
        DlqCommand::Replay(a) => replay::replay(a),
        DlqCommand::Watch(a) => watch::watch(a),
        DlqCommand::Serve(a) => serve::serve(a),
    }
}

/// The broker from `--broker`, `$LOADTEST_AMQP_URL` or the default, and the TLS files; bad input is exit 2.
fn endpoint(b: &DlqBrokerArgs) -> Result<Endpoint, Failure> {
    let (text, from) = match (&b.broker, std::env::var(URL_ENV)) {
        (Some(u), _) => (u.clone(), "--broker"),
        (None, Ok(u)) if !u.trim().is_empty() => (u, URL_ENV),
        _ => (DEFAULT_URL.to_string(), "the default"),
    };
    let url = AmqpUrl::parse(&text).map_err(|e| Failure::input(format!("{from}: {e}")))?;
    for (flag, file) in [("--tls-ca", &b.tls_ca), ("--tls-cert", &b.tls_cert), ("--tls-key", &b.tls_key)] {
        if let Some(f) = file.as_deref().filter(|f| !std::path::Path::new(f).is_file()) {
            return Err(Failure::input(format!("{flag} {f}: no such file")));
        }
    }
    let tls = (b.tls_ca.is_some() || b.tls_cert.is_some()).then(|| TlsCfg {
        ca: b.tls_ca.clone(),
        cert: b.tls_cert.clone(),
        key: b.tls_key.clone(),
    });
    if tls.is_some() && !url.tls {
        return Err(Failure::input("--tls-ca/--tls-cert need an amqps:// URL"));
    }
    Ok(Endpoint { url, tls, timeout: Duration::from_secs(5), via: None })
}

/// Connects (exit 3 if the broker cannot be reached).
fn client(b: &DlqBrokerArgs, role: &str) -> Result<Client, Failure> {
    Client::connect(endpoint(b)?, role).map_err(Failure::runtime)
}

/// A missing queue is the user's input (exit 2); anything else the broker's (exit 3).
fn failure(e: DlqError) -> Failure {
    match e {
        DlqError::NoQueue(_) => Failure::input(e.to_string()),
        DlqError::Broker(_) => Failure::runtime(format!("the broker failed: {e}")),
    }
}

/// Writes to stdout; a closed pipe ends quietly, as Unix tools do.
fn print(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::runtime(format!("writing the output failed: {e}"))),
    }
}
