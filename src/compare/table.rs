//! The comparison as text: the terminal table, `comparison.md` and `comparison.json`.

use super::{show, show_delta, verdict_word, Comparison, MetricRow};
use std::fmt::Write;

/// One cell: the value, and for runs after the first its change and verdict (`2.85 (x0.55 better)`).
fn cell(m: &MetricRow, i: usize) -> String {
    let v = show(&m.key, &m.values[i]);
    match &m.vs_first[i] {
        None => v,
        Some(d) => {
            let change = show_delta(d);
            let word = verdict_word(d.verdict);
            match (change.is_empty(), word.is_empty()) {
                (true, true) => v,
                (false, true) => format!("{v} ({change})"),
                (true, false) => format!("{v} ({word})"),
                (false, false) => format!("{v} ({change} {word})"),
            }
        }
    }
}

fn sections(c: &Comparison) -> [(&'static str, Vec<&MetricRow>); 2] {
    [
        ("retry storm", c.metrics.iter().filter(|m| m.storm).collect()),
        ("everything else", c.metrics.iter().filter(|m| !m.storm).collect()),
    ]
}

fn header(c: &Comparison, out: &mut String, bullet: &str) {
    let _ = writeln!(out, "Comparing {} runs; changes are against run A (x = ratio, + = difference).", c.runs.len());
    let w = c.runs.iter().map(|r| r.scenario.chars().count()).max().unwrap_or(0);
    for r in &c.runs {
        let _ = writeln!(out, "{bullet}{}  {:<w$}  seed {}  {}", r.label, r.scenario, r.seed, r.dir);
    }
}

/// The terminal table.
pub fn terminal(c: &Comparison) -> String {
    let mut out = String::new();
    header(c, &mut out, "  ");
    for w in &c.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out.push('\n');
    let n = c.runs.len();
    let label_w = c.metrics.iter().map(|m| m.label.chars().count()).max().unwrap_or(6).max(6);
    let widths: Vec<usize> = (0..n)
        .map(|i| c.metrics.iter().map(|m| cell(m, i).chars().count()).max().unwrap_or(1).max(c.runs[i].label.len()))
        .collect();
    let mut line = format!("{:<label_w$}", "metric");
    for (i, w) in widths.iter().enumerate() {
        let _ = write!(line, "  {:>w$}", c.runs[i].label);
    }
    let _ = writeln!(out, "{}", line.trim_end());
    for (title, rows) in sections(c) {
        let _ = writeln!(out, "-- {title} --");
        for m in rows {
            let mut line = format!("{:<label_w$}", m.label);
            for (i, w) in widths.iter().enumerate() {
                let _ = write!(line, "  {:>w$}", cell(m, i));
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    out
}

/// Text safe in a Markdown table cell and free of HTML (comparison.md, gate.md).
pub(crate) fn md_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|").replace('`', "\\`").replace('<', "&lt;").replace('>', "&gt;")
}

/// `comparison.md`.
pub fn markdown(c: &Comparison) -> String {
    let mut out = String::from("# loadtest comparison\n\n");
    let _ = writeln!(
        out,
        "Changes are against run A (x = ratio, + = difference); better/worse by each metric's direction.\n"
    );
    out.push_str("| run | scenario | seed | report folder |\n|---|---|---|---|\n");
    for r in &c.runs {
        let _ = writeln!(out, "| {} | {} | {} | {} |", r.label, md_escape(&r.scenario), r.seed, md_escape(&r.dir));
    }
    if !c.warnings.is_empty() {
        out.push('\n');
        for w in &c.warnings {
            let _ = writeln!(out, "> **warning:** {}", md_escape(w));
        }
    }
    for (title, rows) in sections(c) {
        let _ = write!(out, "\n## {}\n\n| metric |", title[..1].to_uppercase() + &title[1..]);
        for r in &c.runs {
            let _ = write!(out, " {} |", r.label);
        }
        out.push_str("\n|---|");
        out.push_str(&"---:|".repeat(c.runs.len()));
        out.push('\n');
        for m in rows {
            let _ = write!(out, "| {} |", md_escape(&m.label));
            for i in 0..c.runs.len() {
                let v = cell(m, i);
                let v = match m.vs_first[i].as_ref().map(|d| d.verdict) {
                    Some(crate::report::metrics::Verdict::Better) | Some(crate::report::metrics::Verdict::Worse) => {
                        format!("**{}**", md_escape(&v))
                    }
                    _ => md_escape(&v),
                };
                let _ = write!(out, " {v} |");
            }
            out.push('\n');
        }
    }
    out
}

/// `comparison.json`.
pub fn json(c: &Comparison) -> String {
    let mut s = serde_json::to_string_pretty(c).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::md_escape;

    #[test]
    fn cells_cannot_open_code_spans_split_columns_or_carry_html() {
        assert_eq!(md_escape("a|b`c`<i>\\"), "a\\|b\\`c\\`&lt;i&gt;\\\\");
        assert_eq!(md_escape("reports/retry-storm/2026"), "reports/retry-storm/2026");
    }
}
