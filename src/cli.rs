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
}

#[derive(Args, Debug, Clone, Default)]
pub struct ScenarioArgs {
    /// Override one scenario value, e.g. `--set consumers.count=8` or `--set retry.jitter=full` (repeatable).
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub sets: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Seed for this run (overrides the scenario's `seed`).
    #[arg(long)]
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
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Scenario files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
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
