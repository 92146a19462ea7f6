//! Command-line arguments (clap).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "loadtest",
    version,
    about = "Load testing and chaos simulation for message brokers: retry storms, dead-letter queues, backlog drain"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log what the run does on stderr: -v connections, topology, reconnects, faults and the end; -vv also each
    /// broker step (RUST_LOG, e.g. RUST_LOG=loadtest=debug,lapin=info, overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// The log lines' format: text, or json (one object per line, for log shippers).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    pub log_format: String,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario and write its report folder.
    Run(RunArgs),
    /// Check scenario files without running them (every problem at once; exit 2 if any).
    Validate(ValidateArgs),
    /// Render a run's charts and HTML page again from its report folder (no re-run).
    Report(ReportArgs),
    /// Put two or more runs side by side: a table with better/worse marked, overlay charts, an HTML page.
    Compare(CompareArgs),
    /// Check a run against its scenario's [thresholds] and, with --baseline, against a stored run (exit 1 if any
    /// check fails); writes gate.md and gate.xml (JUnit).
    Gate(GateArgs),
    /// Store runs as baselines for `loadtest gate --baseline`.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// Dead-letter queues: inspect them, replay what can now succeed, watch them grow, serve them over HTTP.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Write a commented starter scenario into the current folder (never overwrites a file).
    Init(InitArgs),
    /// Print a shell completion script: `loadtest completions bash > ~/.local/share/bash-completion/completions/loadtest`.
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout: `loadtest man > loadtest.1`.
    Man,
    /// List the runs under the reports folder with their key figures (newest last; `latest` marked).
    Runs(RunsArgs),
    /// Print the JSON Schema of the scenario file (for editors: Taplo / Even Better TOML read it through a
    /// `#:schema` line): `loadtest schema > loadtest.schema.json`.
    Schema,
}

#[derive(Args, Debug)]
pub struct RunsArgs {
    /// Only this scenario's runs (its name, as in reports/<scenario>/).
    pub scenario: Option<String>,
    /// The reports folder.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The starter: steady, retry-storm, breaker, autoscale or produce-only.
    #[arg(default_value = "steady", value_parser = ["steady", "retry-storm", "breaker", "autoscale", "produce-only"])]
    pub template: String,
    /// The file to write (default: TEMPLATE.toml in the current folder).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(Subcommand, Debug)]
pub enum DlqCommand {
    /// Show what is in a dead-letter queue (or a run's dead letters), grouped by reason; reads without consuming.
    Inspect(DlqInspectArgs),
    /// Move dead letters back to a queue: publish with a confirm, then ack the dead-letter copy (never lossy).
    Replay(DlqReplayArgs),
    /// Poll a dead-letter queue's depth and oldest message; alert above a depth or a growth rate.
    Watch(DlqWatchArgs),
    /// An HTTP endpoint: GET /dlq/{queue}, GET /metrics (Prometheus), GET /healthz; replay with --allow-replay.
    Serve(DlqServeArgs),
}

/// The RabbitMQ a `dlq` command talks to.
#[derive(Args, Debug, Clone, Default)]
pub struct DlqBrokerArgs {
    /// An AMQP URL (default: $LOADTEST_AMQP_URL, else amqp://guest:guest@127.0.0.1:5672/%2f).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// CA certificate (PEM) for an amqps:// URL.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<String>,
    /// Client certificate (PEM) for mutual TLS, with --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<String>,
    /// Client private key (PEM), with --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<String>,
}

#[derive(Args, Debug)]
pub struct DlqInspectArgs {
    #[command(flatten)]
    pub broker: DlqBrokerArgs,
    /// The dead-letter queue, e.g. order-processing_error.
    #[arg(long, value_name = "QUEUE", required_unless_present = "run", conflicts_with = "run")]
    pub queue: Option<String>,
    /// A run's report folder instead of a queue: its recorded dead letters (dead_letters.csv).
    #[arg(long, value_name = "DIR")]
    pub run: Option<PathBuf>,
    /// Messages to read at most.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// One JSON object per message (NDJSON) instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DlqReplayArgs {
    #[command(flatten)]
    pub broker: DlqBrokerArgs,
    /// The dead-letter queue to take messages from.
    #[arg(long, value_name = "QUEUE", required_unless_present = "run", conflicts_with = "run")]
    pub from: Option<String>,
    /// A run's report folder: show what a replay with these filters would move (dry run; no broker needed).
    #[arg(long, value_name = "DIR")]
    pub run: Option<PathBuf>,
    /// The queue to put them back into.
    #[arg(long, value_name = "QUEUE", required_unless_present = "run")]
    pub to: Option<String>,
    /// Select by `reason=R`, `queue=Q` (the queue it died in), `id=1,2,3` or `header.NAME=VALUE` (repeatable; all
    /// must hold).
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Only messages that died at least this long ago, e.g. 10m.
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,
    /// Replay at most this many.
    #[arg(long)]
    pub limit: Option<u64>,
    /// At most this fast, e.g. 100/s or 600/min.
    #[arg(long, value_name = "N/s")]
    pub rate: Option<String>,
    /// Print what would move; move nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse messages already replayed this many times (x-replay-count): the replay loop guard.
    #[arg(long, default_value_t = 3)]
    pub max_replays: u32,
    /// A file of the messages moved (one identity a line): a rerun after a crash acks what is in it instead of
    /// publishing it twice.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DlqWatchArgs {
    #[command(flatten)]
    pub broker: DlqBrokerArgs,
    /// The dead-letter queue to watch.
    #[arg(long, value_name = "QUEUE")]
    pub queue: String,
    /// Alert when the depth is above this.
    #[arg(long, value_name = "N")]
    pub alert_above: Option<u64>,
    /// Alert when the depth grows faster than this, e.g. 10/min.
    #[arg(long, value_name = "N/min")]
    pub alert_growth: Option<String>,
    /// Time between polls.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub interval: String,
    /// Stop after this many polls (default: until Ctrl-C).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Exit 1 at the first alert (for cron and CI).
    #[arg(long)]
    pub exit_on_alert: bool,
    /// Run this shell command at each alert (with LOADTEST_DLQ_QUEUE, LOADTEST_DLQ_DEPTH, LOADTEST_DLQ_ALERT set).
    #[arg(long, value_name = "COMMAND")]
    pub exec: Option<String>,
}

#[derive(Args, Debug)]
pub struct DlqServeArgs {
    #[command(flatten)]
    pub broker: DlqBrokerArgs,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9187")]
    pub listen: String,
    /// Allow listening on an address other than loopback (anyone who reaches it can read the dead letters).
    #[arg(long)]
    pub allow_non_local: bool,
    /// Queues /metrics reports (repeatable); /dlq/{queue} serves any queue.
    #[arg(long = "queue", value_name = "QUEUE")]
    pub queues: Vec<String>,
    /// Enable POST /dlq/{queue}/replay (read-only without it).
    #[arg(long)]
    pub allow_replay: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ScenarioArgs {
    /// Override one scenario value, e.g. `--set consumers.count=8` or `--set retry.jitter=full` (repeatable);
    /// `--set KEY=null` removes the key, e.g. `--set downstream.timeout=null` (a key with a default takes it).
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub sets: Vec<String>,
    /// PerfTest-style shorthand for `--set messages=N`.
    #[arg(long, value_name = "N")]
    pub messages: Option<u64>,
    /// PerfTest-style shorthand for `--set producers.rate.per_second=R` (messages per second; keeps the shape).
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// PerfTest-style shorthand for `--set consumers.count=N`.
    #[arg(long, value_name = "N")]
    pub consumers: Option<u64>,
    /// PerfTest-style shorthand for `--set consumers.prefetch=N`.
    #[arg(long, value_name = "N")]
    pub prefetch: Option<u64>,
    /// PerfTest-style shorthand for `--set 'producers.size={ bytes = N }'` (message size in bytes).
    #[arg(long, value_name = "BYTES")]
    pub size: Option<u64>,
}

impl ScenarioArgs {
    /// Every override in the order applied: the shorthands first, then the `--set` flags (which win).
    pub fn all_sets(&self) -> Vec<String> {
        let mut sets = Vec::new();
        let mut push = |key: &str, value: Option<String>| {
            if let Some(v) = value {
                sets.push(format!("{key}={v}"));
            }
        };
        push("messages", self.messages.map(|n| n.to_string()));
        push("producers.rate.per_second", self.rate.map(|r| format!("{r:?}")));
        push("consumers.count", self.consumers.map(|n| n.to_string()));
        push("consumers.prefetch", self.prefetch.map(|n| n.to_string()));
        push("producers.size", self.size.map(|n| format!("{{ bytes = {n} }}")));
        sets.extend(self.sets.iter().cloned());
        sets
    }
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Seed for this run (overrides the scenario's `seed`); 0 to 9223372036854775807, the range a TOML integer
    /// holds, so that the report's resolved scenario.toml reads back.
    #[arg(long, value_parser = clap::value_parser!(u64).range(..=i64::MAX as u64))]
    pub seed: Option<u64>,
    /// Report folder for this run (default: <reports>/<scenario>/<time>-s<seed>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Root folder for report folders when --out is not given.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
    /// Print only the report folder's path.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub scenario_args: ScenarioArgs,
    /// Record N runs into --out DIR/run-1..N (seeds S, S+1, ... on the virtual clock) and write DIR/summary.json
    /// with the per-metric medians.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Gate the run when it ends, as `loadtest gate` would (implied by --baseline); exit 1 if a check fails.
    #[arg(long)]
    pub gate: bool,
    #[command(flatten)]
    pub gate_options: GateOptions,
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Print the summary (summary.json's object) on stdout instead of the table; warnings go to stderr.
    #[arg(long, conflicts_with_all = ["quiet", "gate", "baseline"])]
    pub json: bool,
    /// Stream every scenario second as one JSON object per line while the run goes (timeseries.csv's columns):
    /// `ndjson` on stdout (instead of the table), `ndjson=PATH` to a file.
    #[arg(long, value_name = "ndjson[=PATH]")]
    pub output: Option<String>,
    /// Also write summary.json to PATH when the run ends (k6's --summary-export), even one stopped early.
    #[arg(long, value_name = "PATH")]
    pub summary_export: Option<PathBuf>,
    /// Print one line per scenario second on stderr as it closes (PerfTest style: published/s, completed/s,
    /// failed/s, ready, unacked, delayed, dlq, p50/p99); on by default for runs on the real clock on a terminal.
    #[arg(long, conflicts_with = "no_live")]
    pub live: bool,
    /// No per-second lines, even on a terminal.
    #[arg(long)]
    pub no_live: bool,
    /// Write the charts as SVG only, without their PNG copies (rasterizing and compressing the PNGs is most of the
    /// report's cost); `loadtest report DIR` draws them later.
    #[arg(long)]
    pub no_png: bool,
    /// Serve the live metrics during the run at http://ADDR:PORT/metrics (Prometheus / OpenMetrics text) and
    /// /healthz, e.g. 127.0.0.1:9464; labelled with the scenario and --run-id.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<String>,
}

/// Where a run goes: the embedded broker or a real one.
#[derive(Args, Debug, Clone, Default)]
pub struct BrokerArgs {
    /// `embedded`, `rabbitmq` (URL from broker.url, else $LOADTEST_AMQP_URL, else amqp://guest:guest@127.0.0.1:5672/%2f)
    /// or an AMQP URL (`amqp://user:pass@host:5672/vhost`, `amqps://...`); overrides [broker] kind and url.
    #[arg(long, value_name = "URL|rabbitmq|embedded")]
    pub broker: Option<String>,
    /// Scenario seconds per wall-clock second on a real broker (overrides broker.time_scale; 60 plays a 5-minute
    /// outage in 5 s).
    #[arg(long, value_name = "F")]
    pub time_scale: Option<f64>,
    /// Leave the run's queues on the broker when it ends (they are deleted otherwise, also after Ctrl-C or an error).
    #[arg(long)]
    pub keep_topology: bool,
    /// Use the queue named by queue.name as it is (no run-id suffix; not declared, not deleted): sets queue.reuse.
    #[arg(long)]
    pub reuse_queue: bool,
    /// Name the run on the broker (queue suffix, connection names) instead of a random 8-hex id.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Let the scenario's broker faults (connection-kill, memory-alarm, broker-restart, queue-delete) run their
    /// rabbitmqctl commands; without it such a scenario is refused before anything runs (exit 2).
    #[arg(long)]
    pub allow_commands: bool,
    /// The rabbitmqctl the broker faults run (default: from the PATH, else /usr/sbin/rabbitmqctl).
    #[arg(long, value_name = "PATH")]
    pub rabbitmqctl: Option<PathBuf>,
}

/// How `loadtest gate` (and `loadtest run --gate`) compares a run with a baseline.
#[derive(Args, Debug, Clone, Default)]
pub struct GateOptions {
    /// A baseline run (or repeat) folder, or the NAME of one saved under reports/baselines/.
    #[arg(long, value_name = "DIR|NAME")]
    pub baseline: Option<PathBuf>,
    /// How much worse than the baseline a metric may get, e.g. `latency_ms.p99=10%` or `messages.dead_lettered=5`
    /// (in the metric's unit); adds metrics to the default set; `*=5%` sets every default (repeatable).
    #[arg(long = "max-regression", value_name = "METRIC=TOLERANCE")]
    pub max_regression: Vec<String>,
    /// Fail on any difference from the baseline, better or worse, in any metric or in the configuration
    /// (for deterministic virtual-time runs: an engine change must come with a deliberately updated baseline).
    #[arg(long)]
    pub exact: bool,
}

#[derive(Args, Debug)]
pub struct GateArgs {
    /// The run folder (or repeat folder) to check.
    pub run: PathBuf,
    #[command(flatten)]
    pub options: GateOptions,
    /// Where to write gate.md and gate.xml (default: the run folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum BaselineCommand {
    /// Copy a run (or repeat) folder's summary, scenario and latency log to <root>/NAME for `gate --baseline`.
    Save(BaselineSaveArgs),
}

#[derive(Args, Debug)]
pub struct BaselineSaveArgs {
    /// The run (or repeat) folder to store.
    pub run: PathBuf,
    /// The baseline's name, e.g. retry-storm-jitter.
    pub name: String,
    /// Folder that holds the baselines.
    #[arg(long, value_name = "DIR", default_value = "reports/baselines")]
    pub root: PathBuf,
    /// Replace an existing baseline of that name.
    #[arg(long)]
    pub force: bool,
    /// Also keep timeseries.csv (needed only to compare windowed counters such as `attempts.retries[60s]`).
    #[arg(long)]
    pub with_timeseries: bool,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Scenario files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Also print what each would run: arrival rate over time, capacity, most in flight, the fault timeline, the
    /// retry and redelivery schedule with jitter ranges (worked out from the file; nothing is simulated).
    #[arg(long)]
    pub plan: bool,
    #[command(flatten)]
    pub scenario_args: ScenarioArgs,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The report folder of a run (written by `loadtest run`).
    pub run_dir: PathBuf,
    /// Print only the path of the HTML page.
    #[arg(long, short)]
    pub quiet: bool,
    /// Write the charts as SVG only, and remove the PNG copies an earlier rendering left in the folder.
    #[arg(long)]
    pub no_png: bool,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Report folders of the runs; the first is the baseline the others are compared with.
    #[arg(required = true, num_args = 2.., value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    /// Also write comparison.md, comparison.json, overlay charts and comparison.html into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
