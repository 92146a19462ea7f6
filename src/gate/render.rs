//! The gate's human outputs: a terminal table, and `gate.md` for a pull-request comment.

use super::{Check, Outcome};
use crate::compare::table::md_escape;

/// What the first line of every gate.md holds (how `loadtest gate` knows a gate.md it may replace).
pub const MARK: &str = " loadtest gate ";

/// `1 of 20 checks failed` or `all 20 checks passed`.
fn count(o: &Outcome) -> String {
    let (failed, n) = (o.failed().len(), o.checks.len());
    match failed {
        0 => format!("all {n} check{} passed", if n == 1 { "" } else { "s" }),
        f => format!("{f} of {n} check{} failed", if n == 1 { "" } else { "s" }),
    }
}

/// The verdict line: `PASSED: ...` or `FAILED: ...`.
pub fn verdict(o: &Outcome) -> String {
    let word = if o.failed().is_empty() { "PASSED" } else { "FAILED" };
    format!("{word}: {}", count(o))
}

fn header(o: &Outcome) -> String {
    match &o.baseline {
        Some(b) => format!("gate: {} against baseline {b}", o.run),
        None => format!("gate: {}", o.run),
    }
}

/// The terminal table: check, metric, value, limit or baseline, verdict, then what each verdict rests on.
pub fn table(o: &Outcome) -> String {
    let mut out = format!("{}\n", header(o));
    for n in &o.notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    let head = ["check", "metric", "value", "limit / baseline", "verdict"];
    let rows: Vec<[String; 5]> = o
        .checks
        .iter()
        .map(|c| {
            let v = if c.passed { "pass" } else { "FAIL" };
            [c.kind.as_str().into(), c.metric.clone(), c.value.clone(), c.limit.clone(), v.into()]
        })
        .collect();
    let mut width = head.map(str::len);
    for r in &rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::from(" ");
        for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
            let pad = w.saturating_sub(cell.chars().count());
            if i == 2 {
                s.push_str(&format!(" {}{cell}", " ".repeat(pad))); // numbers right-aligned
            } else {
                s.push_str(&format!(" {cell}{}", " ".repeat(pad)));
            }
        }
        s.trim_end().to_string()
    };
    out.push_str(&line(head));
    out.push('\n');
    for (r, c) in rows.iter().zip(&o.checks) {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
        if !c.note.is_empty() {
            out.push_str(&format!("  {}", c.note));
        }
        out.push('\n');
    }
    out.push_str(&verdict(o));
    out.push('\n');
    for c in o.failed() {
        out.push_str(&format!("  - {}\n", c.message()));
    }
    out
}

/// Markdown for a pull-request comment: the verdict first, failures listed, then the full table.
pub fn markdown(o: &Outcome) -> String {
    let failed = o.failed();
    let (icon, word) = if failed.is_empty() { ("✅", "passed") } else { ("❌", "failed") };
    let mut out = format!("### {icon}{MARK}{word}: {}\n\n", count(o));
    let run = format!("Run `{}`", cell(&o.run));
    match &o.baseline {
        Some(b) => out.push_str(&format!("{run} against baseline `{}`.\n\n", cell(b))),
        None => out.push_str(&format!("{run}.\n\n")),
    }
    if !failed.is_empty() {
        out.push_str("**Failed**\n\n");
        for c in &failed {
            out.push_str(&format!("- {}\n", cell(&c.message())));
        }
        out.push('\n');
    }
    for n in &o.notes {
        out.push_str(&format!("> {}\n", cell(n)));
    }
    if !o.notes.is_empty() {
        out.push('\n');
    }
    out.push_str("| | check | metric | value | limit / baseline | note |\n|---|---|---|---:|---|---|\n");
    for c in &o.checks {
        out.push_str(&row(c));
    }
    out
}

fn row(c: &Check) -> String {
    let mark = if c.passed { "✅" } else { "❌" };
    format!(
        "| {mark} | {} | `{}` | {} | {} | {} |\n",
        c.kind.as_str(),
        cell(&c.metric),
        cell(&c.value),
        cell(&c.limit),
        cell(&c.note)
    )
}

/// Text from the run (scenario names, paths, notes) made safe for a table cell and a comment: no pipes, no HTML
/// (comparison.md's escaping), no newlines.
fn cell(s: &str) -> String {
    md_escape(s).replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::Kind;

    fn outcome() -> Outcome {
        let check = |metric: &str, passed: bool, note: &str| Check {
            kind: Kind::Threshold,
            metric: metric.into(),
            value: "2500".into(),
            limit: "< 2000".into(),
            passed,
            note: note.into(),
        };
        Outcome {
            run: "out/pr".into(),
            baseline: None,
            notes: vec!["a note".into()],
            checks: vec![check("latency_ms.p99", false, "a|b"), check("messages.lost", true, "")],
        }
    }

    #[test]
    fn table_and_markdown_name_the_failure() {
        let o = outcome();
        let t = table(&o);
        assert!(t.contains("FAILED: 1 of 2 checks failed\n  - latency_ms.p99 = 2500, threshold < 2000: a|b\n"), "{t}");
        assert!(
            t.lines().any(|l| l.starts_with("  threshold latency_ms.p99  2500 < 2000") && l.contains("FAIL  a|b")),
            "{t}"
        );
        let md = markdown(&o);
        assert!(md.starts_with("### ❌ loadtest gate failed: 1 of 2 checks failed\n"), "{md}");
        assert!(md.contains("| ❌ | threshold | `latency_ms.p99` | 2500 | &lt; 2000 | a\\|b |"), "{md}");
    }
}
