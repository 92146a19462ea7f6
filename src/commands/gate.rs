//! `loadtest gate RUN_DIR [--baseline DIR|NAME]`: checks thresholds and regressions, prints the table, writes
//! gate.md and gate.xml, and fails (exit 1) if any check fails.

use crate::cli::{GateArgs, GateOptions};
use crate::exit::Failure;
use crate::gate::{self, baseline, source::Source, Outcome};
use crate::report;
use std::path::{Path, PathBuf};

pub const GATE_MD: &str = "gate.md";
pub const GATE_XML: &str = "gate.xml";
/// The outcome as JSON: what the run's index.html shows as the gate's verdict.
pub const GATE_JSON: &str = "gate.json";
/// Where `--baseline NAME` looks when NAME is not a folder.
pub const BASELINES: &str = "reports/baselines";

pub fn gate(args: &GateArgs) -> Result<(), Failure> {
    check(&args.run, &args.options, args.out.as_deref())
}

/// Gates the run (or repeat) folder `run`; writes the outputs into `out` (default: the run folder). A gate that
/// ends without writing them (bad input, an unwritable folder) removes the ones an earlier gate left there, so
/// that no stale verdict is read as this one.
pub fn check(run: &Path, opts: &GateOptions, out: Option<&Path>) -> Result<(), Failure> {
    let dir = out.unwrap_or(run);
    let outcome = evaluate(run, opts).and_then(|o| {
        let made = if out.is_some() { std::fs::create_dir_all(dir).map_err(|e| e.to_string()) } else { Ok(()) };
        let files = [PathBuf::from(GATE_MD), PathBuf::from(GATE_XML), PathBuf::from(GATE_JSON)];
        made.and_then(|()| report::check_writable(dir, &files)).map_err(|e| {
            Failure::input(format!("cannot write gate.md and gate.xml to {}: {e}; pass --out DIR", dir.display()))
        })?;
        Ok(o)
    });
    let outcome = outcome.inspect_err(|_| {
        if remove_stale(dir) {
            show_on_page(dir);
        }
    })?;
    crate::out!("{}", gate::render::table(&outcome));
    std::fs::write(dir.join(GATE_MD), gate::render::markdown(&outcome))
        .and_then(|()| std::fs::write(dir.join(GATE_XML), gate::junit::render(&outcome)))
        .and_then(|()| std::fs::write(dir.join(GATE_JSON), serde_json::to_string_pretty(&outcome).unwrap_or_default()))
        .map_err(|e| {
            Failure::runtime(format!("cannot write gate.md and gate.xml to {}: {e}; pass --out DIR", dir.display()))
        })?;
    crate::outln!("wrote {} and {}", dir.join(GATE_MD).display(), dir.join(GATE_XML).display());
    show_on_page(dir);
    let failed = outcome.failed();
    if failed.is_empty() {
        return Ok(());
    }
    let mut names: Vec<String> = failed.iter().take(3).map(|c| c.name()).collect();
    if failed.len() > 3 {
        names.push(format!("and {} more", failed.len() - 3));
    }
    Err(Failure::gate(format!(
        "gate failed: {} of {} checks ({})",
        failed.len(),
        outcome.checks.len(),
        names.join("; ")
    )))
}

/// Every check, reading everything it needs; nothing is written.
fn evaluate(run: &Path, opts: &GateOptions) -> Result<Outcome, Failure> {
    let flags = opts.max_regression.iter().map(|f| baseline::parse_flag(f)).collect::<Result<Vec<_>, _>>();
    let flags = flags.map_err(Failure::input)?;
    if (!flags.is_empty() || opts.exact) && opts.baseline.is_none() {
        return Err(Failure::input("--max-regression and --exact compare with a baseline; add --baseline DIR|NAME"));
    }
    let mut src = Source::open(run).map_err(Failure::input)?;
    let scenario = run.join(report::SCENARIO);
    let thresholds = crate::scenario::load::load_thresholds(&scenario).map_err(|e| Failure::input(e.to_string()))?;
    let base_dir = opts.baseline.as_deref().map(resolve_baseline).transpose().map_err(Failure::input)?;
    if thresholds.is_empty() && base_dir.is_none() {
        return Err(Failure::input(format!(
            "nothing to check: {} has no [thresholds] and no --baseline was given; add thresholds to the \
             scenario (e.g. \"messages.lost\" = \"== 0\") or pass --baseline DIR|NAME",
            scenario.display()
        )));
    }
    let mut checks = gate::check_thresholds(&mut src, &thresholds.0).map_err(Failure::input)?;
    let mut notes = Vec::new();
    if src.repeats() > 1 {
        notes.push(format!(
            "{} is a repeat folder: thresholds apply to the medians of {} runs",
            run.display(),
            src.repeats()
        ));
    }
    if let Some(b) = &base_dir {
        let mut base = Source::open(b).map_err(|e| Failure::input(format!("--baseline: {e}")))?;
        let options = baseline::Options { flags, exact: opts.exact };
        let (regressions, more) = baseline::check_regressions(&mut src, &mut base, &options).map_err(Failure::input)?;
        checks.extend(regressions);
        notes.extend(more);
    }
    Ok(Outcome {
        run: run.display().to_string(),
        baseline: base_dir.as_ref().map(|b| b.display().to_string()),
        notes,
        checks,
    })
}

/// A run folder's index.html is drawn again so that it shows the verdict (a repeat folder has no page). The page is
/// a view (a pub/sub folder's is left as it is): if it cannot be redrawn, the gate's own files still stand, and a warning says so.
fn show_on_page(dir: &Path) {
    let page = dir.join(crate::export::INDEX_HTML);
    if !page.is_file() || !dir.join(report::SUMMARY).is_file() {
        return;
    }
    // A pub/sub folder's page is the subscriptions side by side; the verdict is in gate.md and gate.json.
    if report::read_summary(dir).is_ok_and(|s| !s.subscriptions.is_empty()) {
        return;
    }
    let drawn = crate::export::RunData::load(dir).map_err(|e| e.to_string()).and_then(|run| {
        let html = crate::export::html::index(&run).map_err(|e| e.to_string())?;
        std::fs::write(&page, html).map_err(|e| e.to_string())
    });
    if let Err(e) = drawn {
        crate::errln!("warning: {} does not show the gate's verdict: {e}", page.display());
    }
}

/// Removes gate.md, gate.xml and gate.json from `dir` if an earlier gate wrote them (a file of that name that this
/// program did not write is left alone).
/// Says whether a verdict (gate.json) was removed.
fn remove_stale(dir: &Path) -> bool {
    let json = dir.join(GATE_JSON);
    let verdict = std::fs::read_to_string(&json).is_ok_and(|t| serde_json::from_str::<Outcome>(&t).is_ok());
    if verdict {
        drop(std::fs::remove_file(&json));
    }
    for (name, mark) in [(GATE_MD, gate::render::MARK), (GATE_XML, gate::junit::MARK)] {
        let path = dir.join(name);
        let head = std::fs::File::open(&path).and_then(|f| {
            let mut head = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(f, 512), &mut head).map(|_| head)
        });
        if head.is_ok_and(|h| String::from_utf8_lossy(&h).contains(mark)) {
            drop(std::fs::remove_file(&path));
        }
    }
    verdict
}

/// A folder, or the name of a baseline under reports/baselines/.
fn resolve_baseline(b: &Path) -> Result<PathBuf, String> {
    if b.is_dir() {
        return Ok(b.to_path_buf());
    }
    let named = Path::new(BASELINES).join(b);
    if b.components().count() == 1 && named.is_dir() {
        return Ok(named);
    }
    Err(format!(
        "--baseline {}: no such folder, and no baseline of that name in {BASELINES}/; save one with \
         `loadtest baseline save RUN_DIR NAME`",
        b.display()
    ))
}
