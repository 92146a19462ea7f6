//! `comparison.html`: the comparison table, the overlay charts and every run's charts on shared axes, in one
//! self-contained page like `index.html` (inline SVG and CSS, no script), each per-run chart linking its SVG file
//! full size. Strings from files are escaped.

use super::{show, show_delta, Comparison};
use crate::export::chart::ChartError;
use crate::export::html::{escape, figure, page};
use crate::export::RunData;
use crate::report::metrics::Verdict;
use std::fmt::Write;

fn table(c: &Comparison) -> String {
    let mut t = String::from("<table id=\"comparison-table\">\n<tr><th>metric</th>");
    for r in &c.runs {
        let _ = write!(t, "<th>{} · {}</th>", escape(&r.label), escape(&r.scenario));
    }
    t.push_str("</tr>\n");
    let mut storm_done = false;
    for (idx, m) in c.metrics.iter().enumerate() {
        if idx == 0 && m.storm {
            let _ = writeln!(t, "<tr><th colspan=\"{}\">retry storm</th></tr>", c.runs.len() + 1);
        }
        if !m.storm && !storm_done {
            storm_done = true;
            let _ = writeln!(t, "<tr><th colspan=\"{}\">everything else</th></tr>", c.runs.len() + 1);
        }
        let _ = write!(t, "<tr><td>{}</td>", escape(&m.label));
        for (i, v) in m.values.iter().enumerate() {
            let (class, note) = match &m.vs_first[i] {
                None => ("", String::new()),
                Some(d) => {
                    let class = match d.verdict {
                        Verdict::Better => "better",
                        Verdict::Worse => "worse",
                        _ => "",
                    };
                    let word = super::verdict_word(d.verdict);
                    let change = show_delta(d);
                    (
                        class,
                        format!(
                            " <small>{}{}{}</small>",
                            escape(&change),
                            if word.is_empty() { "" } else { " " },
                            word
                        ),
                    )
                }
            };
            let _ = write!(t, "<td class=\"n {class}\">{}{note}</td>", escape(&show(&m.key, v)));
        }
        t.push_str("</tr>\n");
    }
    t.push_str("</table>\n");
    t
}

/// Where the page links each run's chart of one kind, drawn on the shared axes, full size.
pub fn run_chart_file(label: &str, chart: &str) -> String {
    format!("runs/{label}/{chart}.svg")
}

/// The whole `comparison.html` and the per-run charts it links (`run_chart_file`, SVG text): overlays first, then
/// the metric table, then every run's charts, one kind at a time, on axes shared by the runs (`runs` carry them).
/// `overlays` are the overlay charts' SVGs, in the order of `overlay::charts()` (drawn once, for their files too).
pub fn render(
    c: &Comparison,
    runs: &[RunData],
    overlays: &[String],
) -> Result<(String, Vec<(String, String)>), ChartError> {
    let mut b = String::from("<header>\n<h1>Comparison</h1>\n<ul>\n");
    for (info, run) in c.runs.iter().zip(runs) {
        let _ = writeln!(
            b,
            "<li><b>{}</b> · {} · seed {} · <code>{}</code><br><span class=\"meta\">{}</span></li>",
            escape(&info.label),
            escape(&info.scenario),
            info.seed,
            escape(&info.dir),
            escape(&run.scenario.description)
        );
    }
    b.push_str("</ul>\n</header>\n");
    for w in &c.warnings {
        let _ = writeln!(b, "<p class=\"warning\"><b>warning:</b> {}</p>", escape(w));
    }
    b.push_str("<h2>Overlays</h2>\n<div id=\"overlays\">\n");
    for (chart, svg) in super::overlay::charts().into_iter().zip(overlays) {
        let links = [
            (format!("{}.png", chart.name()), "PNG".to_string()),
            (format!("{}.svg", chart.name()), "SVG".to_string()),
        ];
        b.push_str(&figure(chart.name(), chart.title(), svg, &links));
    }
    b.push_str("</div>\n");
    b.push_str(
        "<h2>Metrics</h2>\n<p class=\"meta\">Changes against run A: x = ratio, + = difference; green is better, \
                red is worse, by each metric's direction.</p>\n",
    );
    b.push_str(&table(c));
    b.push_str(
        "<h2>Each run</h2>\n<p class=\"meta\">The runs' charts of one kind share their axes (the longest run's time, \
         the highest peak of any run). Click a chart to open it full size.</p>\n",
    );
    let mut files = Vec::new();
    for chart in crate::export::charts() {
        let _ = writeln!(b, "<h3>{}</h3>\n<div class=\"runs\">", escape(chart.title()));
        for (info, run) in c.runs.iter().zip(runs) {
            let id = format!("{}-{}", chart.name(), info.label);
            let svg = chart.svg(run)?;
            let file = run_chart_file(&info.label, chart.name());
            let bare = svg.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").trim_start();
            let linked = format!("<a href=\"{}\">{bare}</a>", escape(&file));
            let caption = format!("{} · {}", info.label, run.summary.scenario.name);
            b.push_str(&figure(&id, &caption, &linked, &[(file.clone(), "SVG".to_string())]));
            files.push((file, svg));
        }
        b.push_str("</div>\n");
    }
    Ok((page("loadtest comparison", &b)?, files))
}
