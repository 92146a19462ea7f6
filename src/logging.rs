//! Logs on stderr (tracing): off by default, `-v` info, `-vv` debug, `-vvv` trace, as text or JSON lines;
//! `RUST_LOG` overrides the filter. Events never carry a password: URLs are logged masked.

use tracing_subscriber::EnvFilter;

pub fn init(verbose: u8, format: &str) {
    let level = match verbose {
        0 => "off",
        1 => "loadtest=info",
        2 => "loadtest=debug",
        _ => "loadtest=trace,lapin=debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(true);
    // A subscriber set twice (tests calling main's code) is not an error worth failing for.
    let _ = match format {
        "json" => builder.json().flatten_event(true).try_init(),
        _ => builder.with_ansi(false).try_init(),
    };
}
