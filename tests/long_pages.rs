//! Report pages stay bounded however long the run: the charts draw thinned series (at most ~1,100 buckets per
//! series, each keeping its min and max), so a day of scenario time makes a page about as large as a few minutes.

mod common;

use common::loadtest;
use tempfile::TempDir;

/// A steady day: one message a second for 24 hours, no faults.
const DAY: &str = r#"
name = "steady-day"
description = "24 hours at one message a second"
seed = 11
messages = 86_400
[producers]
rate = { shape = "poisson", per_second = 1 }
[consumers]
count = 2
concurrency = 4
service_time = { dist = "lognormal", median = "2ms", p99 = "20ms" }
[downstream]
servers = 4
service_time = { dist = "lognormal", median = "15ms", p99 = "80ms" }
timeout = "2s"
errors = { transient = 0.001 }
[retry]
policy = { kind = "intervals", intervals = ["100ms", "500ms", "1s"] }
"#;

/// An SVG or page without the charts' embedded fonts: no `<style>` of the SVG's own, no embedded family names.
fn without_font(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<defs><style id=\"loadtest-font\">") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("</style></defs>\n").expect("the style's end") + "</style></defs>\n".len();
        rest = &rest[start + end..];
    }
    out.push_str(rest);
    let mut plain = String::new();
    let mut rest = out.as_str();
    while let Some(at) = rest.find("font-family=\"'loadtest DejaVu Sans ") {
        plain.push_str(&rest[..at]);
        plain.push_str("font-family=\"");
        let after = &rest[at + "font-family=\"'".len()..];
        rest = &after[after.find("', ").expect("the family's end") + 3..];
    }
    plain.push_str(rest);
    plain
}

#[test]
fn a_24_hour_runs_page_stays_under_2_mb_with_every_chart() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("day.toml");
    std::fs::write(&file, DAY).unwrap();
    let out = tmp.path().join("day");
    loadtest().arg("run").arg(&file).args(["-q", "--out"]).arg(&out).assert().success();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(summary["duration_s"].as_f64().unwrap() > 86_000.0, "the run lasts a day");
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(page.len() < 2_000_000, "index.html is {} bytes", page.len());
    for chart in ["retry-storm", "throughput", "latency", "latency-distribution", "backlog"] {
        assert_eq!(page.matches(&format!("<figure id=\"chart-{chart}\"")).count(), 1, "{chart} on the page once");
        let svg = std::fs::read_to_string(out.join("charts").join(format!("{chart}.svg"))).unwrap();
        // The same drawing; the file carries its own font subset, the page one for all its charts.
        assert!(
            without_font(&page).contains(
                without_font(&svg)
                    .trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
                    .trim()
                    .split_once('>')
                    .unwrap()
                    .1
            ),
            "{chart}: the page shows the same drawing as the file"
        );
    }
    // `report` draws the same page again from the folder alone.
    loadtest().arg("report").arg(&out).assert().success();
    assert_eq!(std::fs::read_to_string(out.join("index.html")).unwrap(), page);
}

#[test]
fn the_storm_page_is_bounded() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("storm");
    loadtest().args(["run", "scenarios/retry-storm.toml", "-q", "--out"]).arg(&out).assert().success();
    let page = std::fs::metadata(out.join("index.html")).unwrap().len();
    assert!(page < 1_000_000, "index.html is {page} bytes");
}
