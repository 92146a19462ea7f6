//! The `index.html` of a scenario with `[[subscriptions]]`: the subscriptions side by side (a table of their
//! figures), the run as a whole, and each subscription's retry-storm and backlog charts, read from its own report
//! folder (`subscriptions/<name>/`, which has its full page too).

use super::chart::{fmt_num, fmt_tick};
use super::html::{escape, figure};
use super::latency_axis::fmt_ms;
use super::ChartError;
use crate::report::summary::Summary;
use crate::scenario::Scenario;
use std::fmt::Write as _;
use std::path::Path;

/// The charts each subscription shows on this page, by file name under its `charts/`.
const SHOWN: [(&str, &str); 2] = [("retry-storm", "attempts, failures and capacity"), ("backlog", "backlog")];

/// The chart of every subscription's backlog (`charts/subscriptions-backlog.svg`).
pub const BACKLOGS: &str = "subscriptions-backlog.svg";

/// Writes the page of the pub/sub report folder `dir` of the scenario `scn`, whose summary is `s`, and its chart;
/// returns the paths written.
pub fn write(dir: &Path, s: &Summary, scn: &Scenario) -> Result<Vec<std::path::PathBuf>, super::ExportError> {
    let svg = backlogs(dir, scn);
    let html = page(s, scn, svg.as_deref(), dir)
        .map_err(|error| super::ExportError::Render { exporter: "html".into(), error })?;
    let mut files = vec![(dir.join(super::INDEX_HTML), html.into_bytes())];
    if let Some(svg) = svg {
        files.push((dir.join(super::CHARTS_DIR).join(BACKLOGS), svg.into_bytes()));
    }
    let mut written = Vec::new();
    for (path, bytes) in files {
        let parent = path.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent)
            .and_then(|()| std::fs::write(&path, bytes))
            .map_err(|error| super::ExportError::Write { path: path.clone(), error })?;
        written.push(path);
    }
    Ok(written)
}

fn page(s: &Summary, scn: &Scenario, backlogs: Option<&str>, dir: &Path) -> Result<String, ChartError> {
    let (description, order) = (&scn.description, &scn.subscriptions);
    let mut b = String::new();
    let _ = writeln!(b, "<header>\n<h1>{}</h1>", escape(&s.scenario.name));
    if !description.is_empty() {
        let _ = writeln!(b, "<p class=\"desc\">{}</p>", escape(description));
    }
    let _ = writeln!(
        b,
        "<p class=\"meta\">seed {} · {} broker · {} clock · {} subscriptions fed by the same producers · scenario {}</p>\n</header>",
        s.seed,
        escape(&s.broker),
        escape(&s.clock),
        order.len(),
        escape(&s.scenario.hash.chars().take(19).collect::<String>())
    );
    b.push_str("<h2 id=\"subscriptions-h\">Subscriptions</h2>\n<table id=\"subscriptions\">\n<tr><th>subscription</th>\
                <th>downstream</th><th>published</th><th>completed</th><th>dead-lettered</th><th>lost</th>\
                <th>p50</th><th>p99</th><th>amplification</th><th>peak ready</th><th>recovery</th><th>report</th></tr>\n");
    for sub in order {
        let Some(sum) = s.subscriptions.get(&sub.name) else { continue };
        let downstream = sub.downstream.as_ref().map_or("-".to_string(), |d| d.name.clone());
        row(&mut b, &sub.name, &downstream, sum, Some(&format!("subscriptions/{}/index.html", sub.name)));
    }
    row(&mut b, "all (counts summed, the rest the worst)", "", s, None);
    b.push_str("</table>\n");
    b.push_str(
        "<p class=\"meta\">Every subscription receives every published message on a queue of its own; one that fails \
         builds its own backlog and dead letters while the others' figures stay as they are. In the last row, \
         counts are summed over the subscriptions and every other figure is the worst subscription's.</p>\n",
    );
    if let Some(svg) = backlogs {
        let file = format!("{}/{BACKLOGS}", super::CHARTS_DIR);
        b.push_str(&figure("subscriptions-backlog", "backlog per subscription", svg, &[(file, "SVG".into())]));
    }
    for name in order.iter().map(|o| o.name.as_str()) {
        let Some(sub) = s.subscriptions.get(name) else { continue };
        let _ = writeln!(b, "<h2 id=\"sub-{0}\">{0}</h2>", escape(name));
        let _ = writeln!(
            b,
            "<p class=\"meta\">{} completed · {} dead-lettered · p99 {} · <a href=\"subscriptions/{}/index.html\">its \
             report</a></p>",
            fmt_tick(sub.messages.completed as f64),
            fmt_tick(sub.messages.dead_lettered.total as f64),
            latency(sub),
            escape(name)
        );
        for (chart, what) in SHOWN {
            let rel = format!("subscriptions/{name}/charts/{chart}.svg");
            let Ok(svg) = std::fs::read_to_string(dir.join(&rel)) else { continue };
            let caption = format!("{name}: {what}");
            b.push_str(&figure(&format!("sub-{name}-{chart}"), &caption, &svg, &[(rel.clone(), "SVG".into())]));
        }
    }
    super::html::page(&format!("{} — loadtest report", s.scenario.name), &b)
}

/// The subscriptions' backlogs on one chart, from their folders (none if a folder cannot be read back).
fn backlogs(dir: &Path, scn: &Scenario) -> Option<String> {
    let runs: Vec<super::RunData> = scn
        .subscriptions
        .iter()
        .map(|s| super::RunData::load(&dir.join(crate::report::SUBSCRIPTIONS).join(&s.name)))
        .collect::<Result<_, _>>()
        .ok()?;
    use super::Chart as _;
    crate::compare::overlay::SubscriptionBacklog.svg(runs.as_slice()).ok()
}

fn latency(s: &Summary) -> String {
    if s.latency_ms.count == 0 {
        "-".to_string()
    } else {
        fmt_ms(s.latency_ms.p99)
    }
}

fn row(b: &mut String, name: &str, downstream: &str, s: &Summary, link: Option<&str>) {
    let m = &s.messages;
    let n = |v: u64| format!("<td class=\"n\">{}</td>", fmt_tick(v as f64));
    let p50 = if s.latency_ms.count == 0 { "-".to_string() } else { fmt_ms(s.latency_ms.p50) };
    let recovery = match (s.faults_end_s, s.recovery_s) {
        (None, _) => "-".to_string(),
        (Some(_), None) => "never".to_string(),
        (Some(_), Some(r)) => format!("{} s", fmt_num(r)),
    };
    let bad = |v: u64| if v > 0 { " class=\"n bad\"" } else { " class=\"n\"" };
    let _ = writeln!(
        b,
        "<tr><td>{}</td><td>{}</td>{}{}<td{}>{}</td><td{}>{}</td><td class=\"n\">{p50}</td><td class=\"n\">{}</td>\
         <td class=\"n\">{}</td>{}<td class=\"n\">{recovery}</td><td>{}</td></tr>",
        escape(name),
        escape(downstream),
        n(m.published),
        n(m.completed),
        bad(m.dead_lettered.total),
        fmt_tick(m.dead_lettered.total as f64),
        bad(m.lost),
        m.lost,
        latency(s),
        fmt_num(s.amplification),
        n(s.queue.peak_ready),
        link.map_or_else(String::new, |l| format!("<a href=\"{}\">open</a>", escape(l))),
    );
}

/// `loadtest report DIR` of a pub/sub folder: every subscription's folder rendered again, then this page.
pub fn render_dir(dir: &Path, pngs: bool) -> Result<Vec<std::path::PathBuf>, super::ExportError> {
    use super::data::BadReport;
    let bad = |path: &Path, problem: String| BadReport { path: path.to_path_buf(), problem };
    let summary = crate::report::read_summary(dir).map_err(|e| bad(dir, e))?;
    let scn_path = dir.join(crate::report::SCENARIO);
    let text = std::fs::read_to_string(&scn_path).map_err(|e| bad(&scn_path, format!("cannot read: {e}")))?;
    let scn = crate::scenario::load_str(&crate::secret::mask_scenario_toml(&text), "scenario.toml", &[])
        .map_err(|e| bad(&scn_path, format!("not a valid scenario: {e}")))?;
    let mut written = Vec::new();
    for sub in &scn.subscriptions {
        written.extend(super::render_dir(&dir.join(crate::report::SUBSCRIPTIONS).join(&sub.name), pngs)?);
    }
    written.extend(write(dir, &summary, &scn)?);
    Ok(written)
}

/// Whether `dir` holds the report of a scenario with `[[subscriptions]]`.
pub fn is_pubsub(dir: &Path) -> bool {
    crate::report::read_summary(dir).is_ok_and(|s| !s.subscriptions.is_empty())
}
