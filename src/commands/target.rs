//! Where `loadtest run` sends a scenario: `--broker`, `--time-scale` and `--reuse-queue` as overrides of the file,
//! where a RabbitMQ URL comes from, and the connection to a real broker, made before the run's clock starts.

use crate::amqp_url::{AmqpUrl, DEFAULT_URL, URL_ENV};
use crate::broker::embedded::EmbeddedBroker;
use crate::broker::Broker;
use crate::cli::BrokerArgs;
use crate::exit::Failure;
use crate::scenario::{node, BrokerKind, Scenario};

/// `--set` overrides that carry the broker flags (so that they are checked, and recorded, like any other).
pub fn overrides(b: &BrokerArgs) -> Result<Vec<String>, Failure> {
    let mut sets = Vec::new();
    match b.broker.as_deref().map(str::trim) {
        None => {}
        Some("embedded") => sets.push("broker.kind=embedded".to_string()),
        Some("rabbitmq") => sets.push("broker.kind=rabbitmq".to_string()),
        Some(url) if url.starts_with("amqp://") || url.starts_with("amqps://") => {
            AmqpUrl::parse(url).map_err(|e| Failure::input(format!("--broker: {e}")))?;
            sets.push("broker.kind=rabbitmq".to_string());
            sets.push(format!("broker.url={}", node::quote(url)));
        }
        Some("servicebus") => sets.push("broker.kind=servicebus".to_string()),
        Some(_) => {
            return Err(Failure::input(
                "--broker takes an AMQP URL (amqp://user:pass@host:5672/vhost), `rabbitmq`, `servicebus` (the \
                 connection string comes from $LOADTEST_SERVICEBUS_CONNECTION or [broker] url) or `embedded`",
            ))
        }
    }
    if let Some(f) = b.time_scale {
        sets.push(format!("broker.time_scale={}", node::render_float(f)));
    }
    if b.reuse_queue {
        sets.push("queue.reuse=true".to_string());
    }
    if let Some(id) = &b.run_id {
        let ok = !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(Failure::input("--run-id: use 1 to 32 letters, digits or `-`"));
        }
    }
    Ok(sets)
}

/// Fills in the URL of a RabbitMQ run that names none: `$LOADTEST_AMQP_URL`, else the local default; a Service Bus
/// run's connection string: `$LOADTEST_SERVICEBUS_CONNECTION` (there is no default). Returns where it came from,
/// for the start-up line.
pub fn resolve_url(scn: &mut Scenario) -> Result<&'static str, Failure> {
    use crate::broker::servicebus::{ConnString, CONN_ENV};
    if scn.broker.kind == BrokerKind::Servicebus {
        if scn.broker.url.is_some() {
            return Ok("broker.url");
        }
        return match std::env::var(CONN_ENV) {
            Ok(text) if !text.trim().is_empty() => {
                ConnString::parse(&text).map_err(|e| Failure::input(format!("${CONN_ENV}: {e}")))?;
                scn.broker.url = Some(text);
                Ok(CONN_ENV)
            }
            _ => Err(Failure::input(format!(
                "broker.kind = \"servicebus\" needs a connection string: set ${CONN_ENV} (Endpoint=sb://<namespace>\
                 .servicebus.windows.net/;SharedAccessKeyName=<policy>;SharedAccessKey=<key>) or [broker] url"
            ))),
        };
    }
    if scn.broker.kind != BrokerKind::Rabbitmq {
        return Ok("");
    }
    if scn.broker.url.is_some() {
        return Ok("broker.url");
    }
    match std::env::var(URL_ENV) {
        Ok(url) if !url.trim().is_empty() => {
            AmqpUrl::parse(&url).map_err(|e| Failure::input(format!("${URL_ENV}: {e}")))?;
            scn.broker.url = Some(url);
            Ok(URL_ENV)
        }
        _ => {
            scn.broker.url = Some(DEFAULT_URL.to_string());
            Ok("the default")
        }
    }
}

/// The broker the run talks to. A real broker is connected and its topology declared here; failing that is a
/// runtime error (exit 3) that names host, port and vhost.
pub fn connect(scn: &Scenario, b: &BrokerArgs) -> Result<Box<dyn Broker>, Failure> {
    match scn.broker.kind {
        BrokerKind::Embedded => {
            crate::sim::interrupt::install()
                .map_err(|e| Failure::runtime(format!("cannot install the Ctrl-C handler: {e}")))?;
            Ok(Box::new(
                EmbeddedBroker::new(&scn.queue, scn.peek_lock())
                    .with_confirms(scn.broker.confirm_latency.ns(), scn.producers.confirm_window),
            ))
        }
        BrokerKind::Rabbitmq => {
            crate::sim::interrupt::install()
                .map_err(|e| Failure::runtime(format!("cannot install the Ctrl-C handler: {e}")))?;
            let opts = crate::broker::rabbitmq::Options {
                keep_topology: b.keep_topology,
                run_id: b.run_id.clone(),
                allow_commands: b.allow_commands,
                rabbitmqctl: b.rabbitmqctl.clone(),
            };
            let broker = crate::broker::rabbitmq::connect(scn, &opts).map_err(Failure::runtime)?;
            Ok(Box::new(broker))
        }
        BrokerKind::Servicebus => {
            crate::sim::interrupt::install()
                .map_err(|e| Failure::runtime(format!("cannot install the Ctrl-C handler: {e}")))?;
            let broker = crate::broker::servicebus::connect(scn, b.run_id.clone()).map_err(Failure::runtime)?;
            Ok(Box::new(broker))
        }
    }
}

/// A scenario whose faults run broker commands needs `--allow-commands` (a scenario file alone never runs one): the
/// refusal names the faults, their commands and the flag (exit 2, nothing run); with the flag, the plan is printed.
pub fn allow_commands(scn: &Scenario, b: &BrokerArgs, quiet: bool) -> Result<(), Failure> {
    let mut plan = String::new();
    for f in scn.command_faults() {
        let commands = crate::broker::rabbitmq::faults::plan(f).join("; ");
        plan.push_str(&format!("\n  {}: {commands}", f.kind_str()));
    }
    if plan.is_empty() {
        return Ok(());
    }
    if !b.allow_commands {
        return Err(Failure::input(format!(
            "{} has faults that run broker admin commands:{plan}\nthey run only when you pass --allow-commands \
             (memory-alarm and broker-restart act on the whole broker, not only this run)",
            scn.name
        )));
    }
    if !quiet {
        crate::errln!("broker faults will run (--allow-commands):{plan}");
    }
    Ok(())
}
