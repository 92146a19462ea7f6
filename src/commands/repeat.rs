//! `loadtest run` as the command line sees it: one run, or `--repeat N` runs into a repeat folder with a summary
//! of medians, then `--gate` (or `--baseline`) gates what was recorded.

use crate::cli::RunArgs;
use crate::exit::Failure;
use crate::report::{self, repeats, stage::Stage, summary::Summary};
use std::path::Path;

pub fn run(args: &RunArgs) -> Result<(), Failure> {
    // The lock is held until the gate has written into the folder too.
    let (dir, _lock) = if args.repeat <= 1 {
        let f = super::run::run(args)?;
        (f.dir, f.lock)
    } else {
        repeated(args)?
    };
    if args.gate || args.gate_options.baseline.is_some() {
        super::gate::check(&dir, &args.gate_options, None)?;
    }
    Ok(())
}

/// `DIR/run-1..N/` (complete run folders), `DIR/scenario.toml` (the first run's) and `DIR/summary.json` (medians),
/// staged as one folder. A run that ends early (a signal, a limit, a real broker's failure) ends the repeat: the
/// runs that wrote a report are kept, with the medians of those.
fn repeated(args: &RunArgs) -> Result<(std::path::PathBuf, report::stage::Lock), Failure> {
    let scn = crate::scenario::load_file(&args.scenario, &args.scenario_args.all_sets())
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
    let one = |k: usize| RunArgs { seed: Some(seeds[k]), quiet: true, repeat: 1, gate: false, ..args.clone() };
    // Checked before the folder is taken: a scenario that cannot run takes nothing.
    let mut prepared = Some(super::run::prepare(&one(0))?);
    let asked = args.out.clone().unwrap_or_else(|| report::default_run_dir(&args.reports, &scn.name, first));
    let stage = Stage::begin(&asked)?;
    let dir = stage.dir().to_path_buf();
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
    let mut ended: Option<Failure> = None;
    for (k, seed) in seeds.iter().enumerate() {
        let name = repeats::run_name(k + 1);
        if !args.quiet {
            crate::errln!("{name} of {n} (seed {seed}) ...");
        }
        let args_k = one(k);
        let done = prepared
            .take()
            .map_or_else(|| super::run::prepare(&args_k), Ok)
            .and_then(|p| super::run::execute(&args_k, p, &stage.path().join(&name), &dir.join(&name)));
        match done {
            Ok(d) => {
                summaries.push(d.summary);
                names.push(name);
                if d.early.is_some() {
                    ended = d.early;
                    break;
                }
            }
            // No report from this run: keep the earlier ones (if any), then fail as it did.
            Err(f) => {
                drop(std::fs::remove_dir_all(stage.path().join(&name)));
                ended = Some(f);
                break;
            }
        }
    }
    if summaries.is_empty() {
        return Err(ended.expect("a repeat without runs ended early"));
    }
    let medians = medians_of(&summaries, &seeds, &names, ended.is_some())?;
    let write = |f: &str, text: &str| {
        std::fs::write(stage.path().join(f), text)
            .map_err(|e| Failure::runtime(format!("writing {} failed: {e}", dir.join(f).display())))
    };
    write(report::SUMMARY, &medians.to_json())?;
    let scenario = std::fs::read_to_string(stage.path().join(&names[0]).join(report::SCENARIO)).unwrap_or_default();
    write(report::SCENARIO, &scenario)?;
    let lock = stage.commit()?;
    if args.out.is_none() {
        super::runs::mark_latest(&dir);
    }
    if let Some(f) = ended {
        let _ = super::run::emit(args, &dir);
        return Err(stopped(f, summaries.len(), n, &dir));
    }
    if args.quiet {
        crate::outln!("{}", dir.display());
    } else if args.json {
        super::run::emit(args, &dir)?;
        return Ok((dir, lock));
    } else {
        crate::outln!("medians of {n} runs ({}):", names.join(", "));
        if scn.subscriptions.is_empty() {
            crate::out!("{}", report::table::render(&medians));
        } else {
            let order: Vec<String> = scn.subscriptions.iter().map(|s| s.name.clone()).collect();
            crate::out!("{}", super::pubsub::table(&medians, &order));
        }
        crate::outln!("report: {}", dir.display());
    }
    super::run::emit(args, &dir)?;
    Ok((dir, lock))
}

/// The medians of the runs that wrote a report; if the repeat ended early, the summary says why as the last run did.
fn medians_of(summaries: &[Summary], seeds: &[u64], names: &[String], early: bool) -> Result<Summary, Failure> {
    let k = summaries.len();
    let reps =
        repeats::Repeats { count: k, statistic: "median".into(), seeds: seeds[..k].to_vec(), runs: names.to_vec() };
    if !early {
        return repeats::medians(summaries, reps).map_err(Failure::runtime);
    }
    // `stopped_by` is in one run only: it cannot be a median.
    let last = &summaries[k - 1];
    let mut plain = summaries.to_vec();
    plain.iter_mut().for_each(|s| s.stopped_by = None);
    let mut medians = repeats::medians(&plain, reps).map_err(Failure::runtime)?;
    medians.stopped_by.clone_from(&last.stopped_by);
    if let (Some(m), Some(l)) = (medians.real_broker.as_mut(), last.real_broker.as_ref()) {
        m.ended_by.clone_from(&l.ended_by);
    }
    Ok(medians)
}

/// The failure that ended a repeat early, saying which runs the repeat folder keeps.
fn stopped(f: Failure, kept: usize, n: usize, dir: &Path) -> Failure {
    let message = format!(
        "{}; the repeat stopped after {kept} of {n} runs, their report and medians are in {}",
        f.message,
        dir.display()
    );
    Failure { code: f.code, message }
}
