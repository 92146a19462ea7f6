//! `loadtest run` as the command line sees it: one run, or `--repeat N` runs into a repeat folder with a summary
//! of medians, then `--gate` (or `--baseline`) gates what was recorded.

use crate::cli::RunArgs;
use crate::exit::Failure;
use crate::report::{self, repeats};
use std::path::PathBuf;

pub fn run(args: &RunArgs) -> Result<(), Failure> {
    let dir = if args.repeat <= 1 { super::run::run(args)?.dir } else { repeated(args)? };
    if args.gate || args.gate_options.baseline.is_some() {
        super::gate::check(&dir, &args.gate_options, None)?;
    }
    Ok(())
}

/// `DIR/run-1..N/` (complete run folders), `DIR/scenario.toml` (the first run's) and `DIR/summary.json` (medians).
fn repeated(args: &RunArgs) -> Result<PathBuf, Failure> {
    let scn = crate::scenario::load_file(&args.scenario, &args.scenario_args.sets)
        .map_err(|e| Failure::input(e.to_string()))?;
    let first = args.seed.or(scn.seed).unwrap_or_else(super::run::fresh_seed);
    let n = args.repeat as usize;
    // On the virtual clock the same seed gives the same run, byte for byte: vary it. A real clock varies by itself.
    let virtual_clock = scn.broker.clock == crate::scenario::ClockKind::Virtual;
    if virtual_clock && first.checked_add(n as u64 - 1).is_none_or(|last| last > i64::MAX as u64) {
        return Err(Failure::input(format!(
            "--repeat {n} from seed {first} would pass seed {} (the largest a scenario file holds); use a smaller seed",
            i64::MAX
        )));
    }
    let seeds: Vec<u64> = (0..n as u64).map(|k| if virtual_clock { first + k } else { first }).collect();
    let dir = args.out.clone().unwrap_or_else(|| report::default_run_dir(&args.reports, &scn.name, first));
    if !args.quiet {
        let how = if virtual_clock {
            format!(
                "seeds {}..{} (virtual time is deterministic: one seed would repeat one run)",
                seeds[0],
                seeds[n - 1]
            )
        } else {
            format!("seed {first} each time (a real clock varies the runs)")
        };
        crate::errln!("repeating {} {n} times with {how}", scn.name);
    }
    let mut summaries = Vec::new();
    let mut names = Vec::new();
    for (k, seed) in seeds.iter().enumerate() {
        let name = repeats::run_name(k + 1);
        let one = RunArgs {
            seed: Some(*seed),
            out: Some(dir.join(&name)),
            quiet: true,
            repeat: 1,
            gate: false,
            ..args.clone()
        };
        summaries.push(super::run::run(&one)?.summary);
        names.push(name);
    }
    let reps = repeats::Repeats { count: n, statistic: "median".into(), seeds, runs: names.clone() };
    let medians = repeats::medians(&summaries, reps).map_err(Failure::runtime)?;
    let write = |f: &str, text: &str| {
        std::fs::write(dir.join(f), text)
            .map_err(|e| Failure::runtime(format!("writing {} failed: {e}", dir.join(f).display())))
    };
    write(report::SUMMARY, &medians.to_json())?;
    let scenario = std::fs::read_to_string(dir.join(&names[0]).join(report::SCENARIO)).unwrap_or_default();
    write(report::SCENARIO, &scenario)?;
    if args.quiet {
        crate::outln!("{}", dir.display());
    } else {
        crate::outln!("medians of {n} runs ({}):", names.join(", "));
        crate::out!("{}", report::table::render(&medians));
        crate::outln!("report: {}", dir.display());
    }
    Ok(dir)
}
