//! Regressions against a baseline run: per-metric tolerances (`--max-regression latency_ms.p99=10%`), the
//! documented default set with a direction each, `--exact` for deterministic runs; and `loadtest baseline save`.

use super::metric::{self, Metric, NullMeans};
use super::source::{Source, Worst};
use super::{fmt_value, threshold, Check, Kind};
use crate::report;
use crate::report::metrics::Better;
use std::path::{Path, PathBuf};

/// How much worse than the baseline a metric may get.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tolerance {
    /// A fraction of the baseline's value (`10%` is 0.1).
    Relative(f64),
    /// In the metric's unit.
    Absolute(f64),
}

impl Tolerance {
    fn allowed(self, base: f64) -> f64 {
        match self {
            Tolerance::Relative(f) => f * base.abs(),
            Tolerance::Absolute(a) => a,
        }
    }
    fn show(self) -> String {
        match self {
            Tolerance::Relative(f) => format!("{}%", fmt_value(Some(f * 100.0))),
            Tolerance::Absolute(a) => fmt_value(Some(a)),
        }
    }
}

/// The metrics checked against a baseline without any flag, and their tolerance for real-clock runs (virtual-clock
/// runs are deterministic: their default tolerance is 0). The direction comes from the metric catalog.
pub const DEFAULTS: [(&str, Tolerance); 15] = [
    ("latency_ms.p50", Tolerance::Relative(0.10)),
    ("latency_ms.p99", Tolerance::Relative(0.10)),
    ("latency_ms.max", Tolerance::Relative(0.20)),
    ("messages.completed", Tolerance::Absolute(0.0)),
    ("messages.lost", Tolerance::Absolute(0.0)),
    ("messages.dead_lettered", Tolerance::Relative(0.05)),
    ("messages.expired", Tolerance::Relative(0.05)),
    ("messages.duplicates", Tolerance::Relative(0.10)),
    ("amplification", Tolerance::Relative(0.05)),
    ("attempts.downstream_calls_failed", Tolerance::Relative(0.10)),
    ("downstream.peak_offered_ratio", Tolerance::Relative(0.10)),
    ("downstream.crashes", Tolerance::Relative(0.10)),
    ("failure_episodes", Tolerance::Relative(0.10)),
    ("recovery_s", Tolerance::Relative(0.10)),
    ("throughput_per_s", Tolerance::Relative(0.10)),
];

/// One `--max-regression KEY=TOL`; key `*` sets the tolerance of every default metric not named otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct Flag {
    pub key: String,
    pub tolerance: Tolerance,
}

const FLAG_HELP: &str = "write METRIC=TOLERANCE, e.g. --max-regression latency_ms.p99=10% (relative), \
                         --max-regression messages.dead_lettered=5 (absolute, in the metric's unit) or '*=5%'";

pub fn parse_flag(text: &str) -> Result<Flag, String> {
    let (key, tol) = text.split_once('=').ok_or_else(|| format!("--max-regression {text}: no `=`; {FLAG_HELP}"))?;
    let (key, tol) = (key.trim(), tol.trim());
    if key != "*" {
        threshold::parse_key(key).map_err(|e| format!("--max-regression {text}: {e}"))?;
    }
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
    let tolerance = match tol.strip_suffix('%') {
        Some(p) => number(p).map(|v| Tolerance::Relative(v / 100.0)),
        None => number(tol).map(Tolerance::Absolute),
    }
    .ok_or_else(|| {
        format!("--max-regression {text}: `{tol}` is not a tolerance (a number >= 0, or a percentage); {FLAG_HELP}")
    })?;
    Ok(Flag { key: key.to_string(), tolerance })
}

/// What to compare and how.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub flags: Vec<Flag>,
    /// Any difference in any metric fails, either way, and so does a different configuration (deterministic runs).
    pub exact: bool,
}

/// Compares `run` with `base`; returns the checks and notes on how they were made.
pub fn check_regressions(
    run: &mut Source,
    base: &mut Source,
    opts: &Options,
) -> Result<(Vec<Check>, Vec<String>), String> {
    let mut notes = Vec::new();
    let virtual_clock = run.summary.clock == "virtual" && base.summary.clock == "virtual";
    let (rn, bn) = (run.repeats(), base.repeats());
    if virtual_clock {
        notes.push(
            "virtual time is deterministic, so any change is real: default tolerance 0 (any regression fails)".into(),
        );
    } else {
        notes.push(format!(
            "real-clock runs are noisy: default tolerances allow some noise (see the README: Regressions against a baseline); comparing {} with {}{}",
            describe(rn),
            describe(bn),
            if rn == 1 || bn == 1 { "; record both with `loadtest run --repeat 5` to compare medians" } else { "" }
        ));
    }
    if rn > 1 || bn > 1 {
        notes.push(format!("values are medians: run {}, baseline {}", describe(rn), describe(bn)));
    }
    if run.summary.scenario.hash != base.summary.scenario.hash {
        notes.push(format!(
            "the baseline ran a different configuration ({} {} vs {} {})",
            run.summary.scenario.name,
            short(&run.summary.scenario.hash),
            base.summary.scenario.name,
            short(&base.summary.scenario.hash)
        ));
    }
    if run.summary.seed != base.summary.seed {
        notes.push(format!("seeds differ: run {}, baseline {}", run.summary.seed, base.summary.seed));
    }

    let star = opts.flags.iter().rev().find(|f| f.key == "*").map(|f| f.tolerance);
    let mut specs: Vec<(String, Tolerance)> = DEFAULTS
        .iter()
        .map(|(k, real)| (k.to_string(), star.unwrap_or(if virtual_clock { Tolerance::Absolute(0.0) } else { *real })))
        .collect();
    for f in opts.flags.iter().filter(|f| f.key != "*") {
        match specs.iter_mut().find(|(k, _)| *k == f.key) {
            Some(spec) => spec.1 = f.tolerance,
            None => specs.push((f.key.clone(), f.tolerance)),
        }
    }

    let mut checks = Vec::new();
    let mut improved = Vec::new();
    for (key, tol) in &specs {
        let (m, window) = threshold::parse_key(key)?;
        let (b, c, where_) = match window {
            None => (base.plain(&m)?, run.plain(&m)?, String::new()),
            Some(w) => {
                let worst = if m.better == Better::Higher { Worst::Lowest } else { Worst::Highest };
                let (bv, rv) = (base.worst_window(&m, w, worst)?, run.worst_window(&m, w, worst)?);
                let at = |s: Option<u64>| s.map_or("-".into(), |s| format!("{s} s"));
                (
                    bv.value,
                    rv.value,
                    format!(
                        "worst {w} s window: run at {}, baseline at {}",
                        at(rv.window_start_s),
                        at(bv.window_start_s)
                    ),
                )
            }
        };
        let check = compare(key, &m, b, c, *tol, opts.exact, &where_);
        if check.passed && check.note.contains("better") {
            improved.push(key.clone());
        }
        checks.push(check);
    }
    if opts.exact {
        checks.push(exact_rest(run, base, &specs)?);
    }
    if !improved.is_empty() && checks.iter().all(|c| c.passed) {
        notes.push(format!(
            "improved: {}; save the run as the new baseline (`loadtest baseline save RUN NAME --force`) so later \
             regressions are measured from here",
            improved.join(", ")
        ));
    }
    Ok((checks, notes))
}

fn describe(n: usize) -> String {
    if n == 1 {
        "a single run".into()
    } else {
        format!("the medians of {n} runs")
    }
}

fn short(hash: &str) -> &str {
    let h = hash.strip_prefix("sha256:").unwrap_or(hash);
    &h[..h.len().min(12)]
}

fn compare(key: &str, m: &Metric, b: Option<f64>, c: Option<f64>, tol: Tolerance, exact: bool, where_: &str) -> Check {
    let as_num = |v: Option<f64>| match (v, m.null) {
        (Some(x), _) => Some(x),
        (None, NullMeans::Infinity) => Some(f64::INFINITY),
        (None, NullMeans::NegInfinity) => Some(f64::NEG_INFINITY),
        (None, _) => None,
    };
    let limit_of = |bv: Option<f64>| {
        let allowance = match (exact, m.better) {
            (true, _) => "must be equal".to_string(),
            (false, Better::Lower) => format!("max +{}", tol.show()),
            (false, Better::Higher) => format!("max -{}", tol.show()),
            (false, Better::Neither) => format!("max ±{}", tol.show()),
        };
        format!("{} ({allowance})", fmt_value(bv))
    };
    let (passed, change) = match (as_num(b), as_num(c)) {
        (None, None) => (true, "both null".to_string()),
        (None, Some(_)) | (Some(_), None) => (false, format!("changed from {} to {}", fmt_value(b), fmt_value(c))),
        (Some(bv), Some(cv)) => {
            let delta = cv - bv;
            let worse_by = match m.better {
                Better::Lower => delta,
                Better::Higher => -delta,
                Better::Neither => delta.abs(),
            };
            // `inf - inf` is NaN (both never recovered): no change, so it must pass.
            let too_much = worse_by.partial_cmp(&tol.allowed(bv)) == Some(std::cmp::Ordering::Greater);
            let passed = if exact { bv == cv } else { !too_much };
            (passed, describe_change(m, b, c, bv, cv))
        }
    };
    let mut note = change;
    if !where_.is_empty() {
        note = format!("{note}; {where_}");
    }
    if b.is_none() || c.is_none() {
        let n = metric::null_note(&m.name);
        if n != "null" {
            note = format!("{note} ({n})");
        }
    }
    Check { kind: Kind::Regression, metric: key.to_string(), value: fmt_value(c), limit: limit_of(b), passed, note }
}

fn describe_change(m: &Metric, b: Option<f64>, c: Option<f64>, bv: f64, cv: f64) -> String {
    if b == c || (bv == cv) {
        return "unchanged".into();
    }
    if bv.is_infinite() || cv.is_infinite() {
        return format!("changed from {} to {}", fmt_value(b), fmt_value(c));
    }
    let delta = cv - bv;
    let size = if bv != 0.0 {
        format!("{:+.1}%", delta / bv.abs() * 100.0)
    } else {
        format!("{}{}", if delta > 0.0 { "+" } else { "" }, fmt_value(Some(delta)))
    };
    let word = match m.better {
        Better::Lower if delta > 0.0 => "worse",
        Better::Higher if delta < 0.0 => "worse",
        Better::Neither => "changed",
        _ => "better",
    };
    let unit = if m.unit.is_empty() { String::new() } else { format!(" {}", m.unit) };
    format!("{size} ({word}; {}{unit})", signed(delta))
}

fn signed(v: f64) -> String {
    let s = fmt_value(Some(v));
    if v > 0.0 {
        format!("+{s}")
    } else {
        s
    }
}

/// `--exact`: every other plain metric, and the configuration itself, must match.
fn exact_rest(run: &Source, base: &Source, specs: &[(String, Tolerance)]) -> Result<Check, String> {
    let mut differ = Vec::new();
    if run.summary.scenario.hash != base.summary.scenario.hash {
        differ.push("scenario.hash (the resolved scenario differs)".to_string());
    }
    if run.summary.seed != base.summary.seed {
        differ.push(format!("seed {} vs {}", run.summary.seed, base.summary.seed));
    }
    let (mut compared, mut newer) = (0, Vec::new());
    for m in metric::catalog().iter().filter(|m| !specs.iter().any(|(k, _)| *k == m.name)) {
        // A metric the baseline was recorded before cannot differ from it.
        if metric::is_newer(&m.name) && base.lacks(&m.name) {
            newer.push(m.name.as_str());
            continue;
        }
        compared += 1;
        let (b, c) = (base.plain(m)?, run.plain(m)?);
        if b != c {
            differ.push(format!("{} {} -> {}", m.name, fmt_value(b), fmt_value(c)));
        }
    }
    // A pub/sub run: every subscription's figures too, and the same subscriptions.
    let (rs, bs) = (&run.summary.subscriptions, &base.summary.subscriptions);
    if rs.keys().ne(bs.keys()) {
        let names = |m: &std::collections::BTreeMap<String, _>| m.keys().cloned().collect::<Vec<String>>().join(", ");
        differ.push(format!("subscriptions [{}] -> [{}]", names(bs), names(rs)));
    } else {
        for sub in rs.keys() {
            for m in metric::catalog() {
                let Some(m) = metric::find(&format!("subscriptions.{sub}.{}", m.name)) else { continue };
                if specs.iter().any(|(k, _)| *k == m.name) || (metric::is_newer(&m.name) && base.lacks(&m.name)) {
                    continue;
                }
                compared += 1;
                let (b, c) = (base.plain(&m)?, run.plain(&m)?);
                if b != c {
                    differ.push(format!("{} {} -> {}", m.name, fmt_value(b), fmt_value(c)));
                }
            }
        }
    }
    let passed = differ.is_empty();
    let mut note = if passed {
        format!("{compared} more metrics, the seed and the configuration are identical")
    } else {
        format!("differs: {}", differ.join(", "))
    };
    if !newer.is_empty() {
        note.push_str(&format!(
            "; not compared, the baseline predates them: {}",
            metric::fold(newer.iter().copied()).join(", ")
        ));
    }
    let value = if passed { "identical".into() } else { format!("{} differ", differ.len()) };
    Ok(Check {
        kind: Kind::Regression,
        metric: "all other metrics".into(),
        value,
        limit: "identical".into(),
        passed,
        note,
    })
}

/// `loadtest baseline save RUN NAME`: copies what the gate needs into `root/NAME/`.
pub fn save(run: &Path, name: &str, root: &Path, force: bool, with_timeseries: bool) -> Result<PathBuf, String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !ok {
        return Err(format!(
            "baseline name `{name}`: use letters, digits, `-`, `_` and `.` (not first), e.g. retry-storm-jitter"
        ));
    }
    let src = Source::open(run)?;
    let dest = root.join(name);
    if dest.exists() {
        if !force {
            return Err(format!(
                "baseline `{name}` already exists at {}; pass --force to replace it (and say why in the commit)",
                dest.display()
            ));
        }
        std::fs::remove_dir_all(&dest).map_err(|e| format!("cannot replace {}: {e}", dest.display()))?;
    }
    // A repeat folder keeps its medians and resolved scenario on top and each run's files below.
    let mut run_files = vec![report::SUMMARY, report::SCENARIO, report::HLOG, report::RUN_META];
    if with_timeseries {
        run_files.push(report::TIMESERIES);
    }
    let mut folders = vec![(PathBuf::new(), run_files.clone())];
    if let Some(r) = &src.summary.repeats {
        folders[0].1 = vec![report::SUMMARY, report::SCENARIO];
        folders.extend(r.runs.iter().map(|name| (PathBuf::from(name), run_files.clone())));
    } else if !src.summary.subscriptions.is_empty() {
        // A pub/sub folder: its summary holds the whole run, each subscription's folder the rest.
        folders[0].1 = vec![report::SUMMARY, report::SCENARIO, report::RUN_META];
        let subs = src.summary.subscriptions.keys();
        folders.extend(subs.map(|name| (Path::new(report::SUBSCRIPTIONS).join(name), run_files.clone())));
    }
    for (folder, files) in &folders {
        let (from, to) = (run.join(folder), dest.join(folder));
        std::fs::create_dir_all(&to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
        for f in files {
            let path = from.join(f);
            if path.is_file() && *f == report::SCENARIO {
                // Masked again: a baseline is committed, and the run folder may predate today's masking.
                let text =
                    std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let to = to.join(f);
                std::fs::write(&to, crate::secret::mask_scenario_toml(&text))
                    .map_err(|e| format!("cannot write {}: {e}", to.display()))?;
            } else if path.is_file() {
                std::fs::copy(&path, to.join(f)).map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
            } else if *f == report::SUMMARY || *f == report::TIMESERIES {
                return Err(format!("{} is missing; the baseline needs it", path.display()));
            }
        }
    }
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        assert_eq!(
            parse_flag("latency_ms.p99=10%").unwrap(),
            Flag { key: "latency_ms.p99".into(), tolerance: Tolerance::Relative(0.1) }
        );
        assert_eq!(parse_flag("messages.lost = 0").unwrap().tolerance, Tolerance::Absolute(0.0));
        assert_eq!(parse_flag("latency_ms.p99[10s]=5%").unwrap().key, "latency_ms.p99[10s]");
        assert_eq!(parse_flag("*=2.5%").unwrap().tolerance, Tolerance::Relative(0.025));
        assert!(parse_flag("latency_ms.p99").unwrap_err().contains("no `=`"));
        assert!(parse_flag("latency_ms.p99=-1").unwrap_err().contains("is not a tolerance"));
        assert!(parse_flag("latency_ms.p98=1%").unwrap_err().contains("did you mean `latency_ms.p99`"));
        for (k, _) in DEFAULTS {
            assert!(metric::find(k).is_some(), "default {k} is not a metric");
        }
    }

    #[test]
    fn regression_directions_and_tolerances() {
        let m = |n| metric::find(n).unwrap();
        let p99 = m("latency_ms.p99");
        let c = compare("latency_ms.p99", &p99, Some(100.0), Some(109.0), Tolerance::Relative(0.1), false, "");
        assert!(c.passed, "{c:?}");
        let c = compare("latency_ms.p99", &p99, Some(100.0), Some(111.0), Tolerance::Relative(0.1), false, "");
        assert!(!c.passed);
        assert_eq!(c.note, "+11.0% (worse; +11 ms)");
        assert_eq!(c.limit, "100 (max +10%)");
        // Lower latency is better: a drop passes, whatever its size, unless --exact.
        assert!(compare("x", &p99, Some(100.0), Some(10.0), Tolerance::Absolute(0.0), false, "").passed);
        assert!(!compare("x", &p99, Some(100.0), Some(10.0), Tolerance::Absolute(0.0), true, "").passed);
        // Fewer completed messages is worse.
        let done = m("messages.completed");
        assert!(!compare("x", &done, Some(10.0), Some(9.0), Tolerance::Absolute(0.0), false, "").passed);
        assert!(compare("x", &done, Some(10.0), Some(11.0), Tolerance::Absolute(0.0), false, "").passed);
        // From zero, any increase exceeds a relative tolerance.
        let dl = m("messages.dead_lettered");
        let c = compare("x", &dl, Some(0.0), Some(1.0), Tolerance::Relative(0.05), false, "");
        assert!(!c.passed && c.note.starts_with("+1 (worse"), "{c:?}");
        // recovery_s null is "never": recovering late is better than never; never is worse than any time.
        let rec = m("recovery_s");
        assert!(compare("x", &rec, None, Some(4000.0), Tolerance::Absolute(0.0), false, "").passed);
        let c = compare("x", &rec, Some(100.0), None, Tolerance::Relative(0.1), false, "");
        assert!(!c.passed && c.note.contains("never returned to its pre-fault band"), "{c:?}");
        assert!(compare("x", &rec, None, None, Tolerance::Absolute(0.0), true, "").passed);
    }
}
