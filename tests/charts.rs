//! Charts, HTML pages, `loadtest report` and `loadtest compare` as a user meets them: real runs through the CLI,
//! files checked by content (PNG header dimensions, SVG root, escaped HTML), comparisons checked by value.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn loadtest() -> Command {
    Command::cargo_bin("loadtest").unwrap()
}

const CHARTS: [&str; 5] = ["retry-storm", "throughput", "latency", "latency-distribution", "backlog"];

/// A small scenario with an outage, a downstream and retries: quick to run, every chart has something to draw.
const SMALL: &str = r#"
name = "small"
description = "A short outage"
seed = 3
messages = 600
[producers]
rate = { shape = "poisson", per_second = 20 }
[consumers]
count = 2
concurrency = 8
service_time = { dist = "fixed", value = "2ms" }
[downstream]
servers = 4
service_time = { dist = "exponential", mean = "50ms" }
timeout = "1s"
[retry]
policy = { kind = "exponential", limit = 3, base = "1s", cap = "10s" }
[redelivery]
intervals = ["20s"]
[[faults]]
kind = "outage"
at = "5s"
duration = "10s"
"#;

fn run(tmp: &TempDir, name: &str, scenario: &Path, extra: &[&str]) -> PathBuf {
    let out = tmp.path().join(name);
    loadtest().arg("run").arg(scenario).args(["-q", "--out"]).arg(&out).args(extra).assert().success();
    out
}

fn small(tmp: &TempDir, name: &str, text: &str) -> PathBuf {
    let file = tmp.path().join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    run(tmp, name, &file, &[])
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).to_string()
}

/// The embedded fonts of an SVG from `embed`, read independently of the code that wrote them: each `@font-face`
/// (family, bold?, the font file) of its `<style>`, and each `<text>` (its `font-family`, bold?, its text).
type Faces = Vec<(String, bool, Vec<u8>)>;
type Texts = Vec<(String, bool, String)>;

fn fonts_and_texts(svg: &str) -> (Faces, Texts) {
    use base64::Engine;
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(svg);
    let (mut style, mut texts) = (String::new(), Vec::new());
    let mut current: Option<(String, bool, String)> = None;
    let mut in_style = false;
    loop {
        match reader.read_event().expect("well-formed SVG") {
            Event::Start(e) if e.name().as_ref() == b"style" => in_style = true,
            Event::End(e) if e.name().as_ref() == b"style" => in_style = false,
            Event::Start(e) if e.name().as_ref() == b"text" => {
                let attr = |name: &str| {
                    e.try_get_attribute(name).unwrap().map(|a| String::from_utf8(a.value.to_vec()).unwrap())
                };
                current =
                    Some((attr("font-family").unwrap(), attr("font-weight").as_deref() == Some("bold"), String::new()));
            }
            Event::End(e) if e.name().as_ref() == b"text" => texts.push(current.take().unwrap()),
            Event::Text(t) => {
                let t = t.decode().unwrap();
                if in_style {
                    style.push_str(&t);
                } else if let Some(c) = current.as_mut() {
                    c.2.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.decode().unwrap().as_ref() {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    "apos" => '\'',
                    other => panic!("unexpected entity &{other};"),
                };
                if let Some(cur) = current.as_mut() {
                    cur.2.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let faces = style
        .split("@font-face")
        .skip(1)
        .map(|rule| {
            let family = rule.split("font-family: \"").nth(1).unwrap().split('"').next().unwrap().to_string();
            let bold = rule.contains("font-weight: bold");
            let data = rule.split("base64,").nth(1).unwrap().split(')').next().unwrap();
            (family, bold, base64::engine::general_purpose::STANDARD.decode(data).unwrap())
        })
        .collect();
    (faces, texts)
}

/// Every text of `svg` is set first in a font the SVG embeds, which parses and has a glyph for each of its
/// characters; the subsets are small.
fn assert_carries_its_font(svg: &str, what: &str) {
    use ab_glyph::Font;
    let (faces, texts) = fonts_and_texts(svg);
    assert!(!texts.is_empty() && !faces.is_empty(), "{what}: {} texts, {} faces", texts.len(), faces.len());
    for (family, bold, text) in &texts {
        let (_, _, file) = faces
            .iter()
            .find(|(f, b, _)| family.starts_with(&format!("'{f}', ")) && b == bold)
            .unwrap_or_else(|| panic!("{what}: no embedded face for {family:?} (bold {bold}), text {text:?}"));
        assert!(family.starts_with("'loadtest DejaVu Sans "), "{what}: {family}");
        let font = ab_glyph::FontRef::try_from_slice(file).unwrap_or_else(|e| panic!("{what}: the font: {e}"));
        // Newlines and tabs around the text render as spaces (SVG's white-space handling); the rest are glyphs.
        for c in text.chars().filter(|c| !c.is_control()) {
            assert_ne!(font.glyph_id(c).0, 0, "{what}: no glyph for {c:?} in {text:?}");
        }
    }
    for (family, _, file) in &faces {
        let font = ab_glyph::FontRef::try_from_slice(file).unwrap();
        assert!(font.glyph_count() < 120, "{what}: {family} has {} glyphs", font.glyph_count());
    }
}

/// A page that inlines SVGs defines their font once, in its head, and they use it.
fn assert_page_shares_one_font(html: &str, what: &str) {
    let head = &html[..html.find("</head>").unwrap()];
    assert_eq!(html.matches("@font-face").count(), 2, "{what}: one regular and one bold face");
    assert_eq!(head.matches("@font-face").count(), 2, "{what}: the faces are in the page's stylesheet");
    let family = head.split("@font-face { font-family: \"").nth(1).unwrap().split('"').next().unwrap();
    assert!(family.starts_with("loadtest DejaVu Sans "), "{what}: {family}");
    let uses = html.matches(&format!("font-family=\"'{family}', DejaVu Sans")).count();
    assert!(uses > 50 && uses == html.matches("<text ").count(), "{what}: {uses} texts in the shared face");
    assert!(html.contains("font-src data:;"), "{what}: the policy lets the embedded font load");
}

#[test]
fn every_run_gets_svg_and_png_charts_of_the_right_size_and_an_html_page() {
    let tmp = TempDir::new().unwrap();
    let dir = small(&tmp, "run", SMALL);
    for chart in CHARTS {
        let png = std::fs::read(dir.join("charts").join(format!("{chart}.png"))).unwrap();
        assert_eq!(png_size(&png), (1200, 700), "{chart}.png");
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut pixels).unwrap();
        let ink = pixels.chunks(3).filter(|p| p.iter().any(|c| *c < 200)).count();
        assert!(ink > 8_000, "{chart}.png is nearly blank ({ink} dark pixels)");
        let svg = std::fs::read_to_string(dir.join("charts").join(format!("{chart}.svg"))).unwrap();
        let root = svg.find("<svg").unwrap_or_else(|| panic!("{chart}.svg has no <svg> root"));
        assert!(svg[root..].starts_with("<svg width=\"1200\" height=\"700\""), "{chart}.svg size");
        assert!(svg.trim_end().ends_with("</svg>"), "{chart}.svg is truncated");
        assert!(svg.contains("small, seed 3"), "{chart}.svg title names scenario and seed");
        assert_carries_its_font(&svg, &format!("{chart}.svg"));
    }
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert_page_shares_one_font(&html, "index.html");
    assert_eq!(html.matches("<figure id=\"chart-").count(), CHARTS.len());
    assert!(
        html.contains("id=\"accounting\"") && html.contains("id=\"summary-table\"") && html.contains("id=\"scenario\"")
    );
    assert!(html.contains("published <b>600</b> = completed <b>"), "message accounting line");
    // Self-contained: no stylesheet, script or image fetched from anywhere (xmlns URIs are names, not fetches), and
    // a policy that forbids any; the only scripts are the interactive charts' data block, uPlot and its caller.
    for fetch in ["<link", "src=\"http", "href=\"http", "url(http", "@import", "<script src"] {
        assert!(!html.contains(fetch), "index.html contains {fetch}");
    }
    assert!(html.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src &#39;none&#39;; script-src &#39;sha256-"
    ));
    assert_eq!(html.matches("<script").count(), 3, "the data block, uPlot, the charts' script");
    assert_eq!(html.matches("<script type=\"application/json\" id=\"loadtest-data\">").count(), 1);
    assert!(html.contains("<div id=\"explore\"></div>") && html.contains("<details id=\"charts\">"));
}

#[test]
fn user_strings_are_html_escaped() {
    let tmp = TempDir::new().unwrap();
    let evil = SMALL.replace("name = \"small\"", "name = \"<script>alert('name')</script>\"").replace(
        "description = \"A short outage\"",
        "description = \"</p><script>alert(\\\"description\\\")</script><img src=x onerror=alert(1)>\"",
    );
    let dir = small(&tmp, "evil", &evil);
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert_eq!(html.matches("<script").count(), 3, "only the page's own scripts: {}", html.matches("<script").count());
    assert_eq!(html.matches("</script").count(), 3, "no string closes a script element");
    assert!(!html.contains("<script>alert"), "raw <script> in index.html");
    assert!(!html.contains("<img"), "raw <img> in index.html");
    assert!(html.contains("&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;"), "escaped name");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "escaped description");
    // The markup characters of the strings are glyphs of the embedded font like any other.
    let svg = std::fs::read_to_string(dir.join("charts/throughput.svg")).unwrap();
    assert!(svg.contains("&lt;script&gt;alert(&apos;name&apos;)"), "escaped in the SVG");
    assert_carries_its_font(&svg, "throughput.svg");
    // The comparison page escapes them too.
    let out = tmp.path().join("cmp");
    loadtest().arg("compare").arg(&dir).arg(&dir).arg("--out").arg(&out).assert().success();
    let cmp = std::fs::read_to_string(out.join("comparison.html")).unwrap();
    assert!(!cmp.contains("<script") && !cmp.contains("<img"), "raw markup in comparison.html");
}

#[test]
fn report_rerenders_the_same_files_from_the_folder_alone() {
    let tmp = TempDir::new().unwrap();
    let dir = small(&tmp, "run", SMALL);
    let read = |rel: &str| std::fs::read(dir.join(rel)).unwrap();
    let before: Vec<Vec<u8>> =
        CHARTS.iter().flat_map(|c| [format!("charts/{c}.svg"), format!("charts/{c}.png")]).map(|p| read(&p)).collect();
    let html = read("index.html");
    std::fs::remove_dir_all(dir.join("charts")).unwrap();
    std::fs::remove_file(dir.join("index.html")).unwrap();
    loadtest().arg("report").arg(&dir).assert().success();
    let after: Vec<Vec<u8>> =
        CHARTS.iter().flat_map(|c| [format!("charts/{c}.svg"), format!("charts/{c}.png")]).map(|p| read(&p)).collect();
    assert!(before == after, "re-rendered charts differ from the run's");
    assert!(html == read("index.html"), "re-rendered index.html differs");
}

#[test]
fn no_png_writes_svgs_only_and_the_page_links_only_what_is_there() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("small.toml");
    std::fs::write(&file, SMALL).unwrap();
    let dir = run(&tmp, "svg-only", &file, &["--no-png"]);
    let png_links = |dir: &Path| std::fs::read_to_string(dir.join("index.html")).unwrap().matches(".png\"").count();
    for c in CHARTS {
        assert!(dir.join(format!("charts/{c}.svg")).is_file(), "{c}.svg written");
        assert!(!dir.join(format!("charts/{c}.png")).exists(), "{c}.png not written");
    }
    assert_eq!(png_links(&dir), 0, "no link to a PNG that is not there");
    // `report` draws them later; `report --no-png` removes them again, and the page follows each time.
    loadtest().arg("report").arg(&dir).args(["-q"]).assert().success();
    assert!(CHARTS.iter().all(|c| dir.join(format!("charts/{c}.png")).is_file()));
    assert_eq!(png_links(&dir), CHARTS.len());
    loadtest().arg("report").arg(&dir).args(["-q", "--no-png"]).assert().success();
    assert!(CHARTS.iter().all(|c| !dir.join(format!("charts/{c}.png")).exists()), "earlier PNGs removed");
    assert_eq!(png_links(&dir), 0);
    // The SVGs are the same with or without PNGs beside them.
    let full = run(&tmp, "full", &file, &[]);
    for c in CHARTS {
        let svg = |d: &Path| std::fs::read(d.join(format!("charts/{c}.svg"))).unwrap();
        assert!(svg(&dir) == svg(&full), "{c}.svg");
    }
}

#[test]
fn missing_or_corrupt_report_folders_exit_2_naming_the_file() {
    let tmp = TempDir::new().unwrap();
    let good = small(&tmp, "good", SMALL);
    let missing = tmp.path().join("nowhere");
    for args in [vec!["report"], vec!["compare", good.to_str().unwrap()]] {
        let a = loadtest().args(&args).arg(&missing).assert().code(2);
        assert!(stderr_of(&a).contains("nowhere"), "{}", stderr_of(&a));
    }
    let copy = |name: &str| {
        let d = tmp.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for f in ["summary.json", "timeseries.csv", "latency.hgrm", "scenario.toml"] {
            std::fs::copy(good.join(f), d.join(f)).unwrap();
        }
        d
    };
    let cases: [(&str, &str, Option<&str>); 4] = [
        ("corrupt-summary", "summary.json", Some("{ \"schema_version\": 1, ")),
        ("corrupt-csv", "timeseries.csv", Some("time_s,published\nx,y\n")),
        ("no-hgrm", "latency.hgrm", None),
        ("bad-scenario", "scenario.toml", Some("messages = \"many\"\n")),
    ];
    for (name, file, content) in cases {
        let d = copy(name);
        match content {
            Some(text) => std::fs::write(d.join(file), text).unwrap(),
            None => std::fs::remove_file(d.join(file)).unwrap(),
        }
        let a = loadtest().arg("compare").arg(&good).arg(&d).assert().code(2);
        let err = stderr_of(&a);
        assert!(err.contains(&d.join(file).display().to_string()), "{name}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        loadtest().arg("report").arg(&d).assert().code(2);
    }
}

#[test]
fn compare_marks_better_and_worse_and_names_what_differs() {
    let tmp = TempDir::new().unwrap();
    let storm = run(&tmp, "storm", Path::new("scenarios/retry-storm.toml"), &[]);
    let jitter = run(&tmp, "jitter", Path::new("scenarios/retry-storm-jitter.toml"), &[]);
    let out = tmp.path().join("cmp");
    let a = loadtest().arg("compare").arg(&storm).arg(&jitter).arg("--out").arg(&out).assert().success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    assert!(
        stdout.contains(
            "warning: B (retry-storm-jitter) and A (retry-storm) differ in retry.jitter: \"none\" vs \"full\""
        ),
        "{stdout}"
    );
    // Retry-storm metrics lead the table, in this order.
    let order = [
        "peak offered load / capacity",
        "overload waves",
        "recovery after the faults",
        "amplification",
        "p99 latency",
        "dead-lettered",
        "lost",
        "-- everything else --",
    ];
    let pos: Vec<usize> = order
        .iter()
        .map(|l| stdout.find(&format!("\n{l}")).unwrap_or_else(|| panic!("{l} missing:\n{stdout}")))
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{stdout}");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("comparison.json")).unwrap()).unwrap();
    let metric = |key: &str| json["metrics"].as_array().unwrap().iter().find(|m| m["key"] == key).unwrap().clone();
    let waves = metric("overload_waves");
    assert_eq!(waves["better"], "lower");
    let (a_waves, b_waves) = (waves["values"][0].as_f64().unwrap(), waves["values"][1].as_f64().unwrap());
    assert!(b_waves < a_waves, "jitter should have fewer overload waves: {waves}");
    assert_eq!(waves["vs_first"][0], serde_json::Value::Null);
    assert_eq!(waves["vs_first"][1]["verdict"], "better");
    assert!((waves["vs_first"][1]["ratio"].as_f64().unwrap() - b_waves / a_waves).abs() < 1e-9);
    assert_eq!(waves["vs_first"][1]["difference"].as_f64().unwrap(), b_waves - a_waves);
    let completed = metric("messages.completed");
    assert_eq!(
        (completed["better"].as_str(), completed["vs_first"][1]["verdict"].as_str()),
        (Some("higher"), Some("better"))
    );
    let dead = metric("messages.dead_lettered.total");
    assert_eq!((dead["better"].as_str(), dead["vs_first"][1]["verdict"].as_str()), (Some("lower"), Some("better")));
    assert_eq!(metric("messages.lost")["vs_first"][1]["verdict"], "same");
    // And the other way round: the storm is worse than the jitter run.
    let back = loadtest().arg("compare").arg(&jitter).arg(&storm).assert().success();
    let back = String::from_utf8_lossy(&back.get_output().stdout).to_string();
    let line = back.lines().find(|l| l.starts_with("overload waves")).unwrap();
    assert!(line.ends_with("worse)"), "{line}");

    let md = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(md.contains("| overload waves |") && md.contains("better)**"), "{md}");
    for chart in ["compare-retry-storm", "compare-backlog", "compare-latency", "compare-latency-distribution"] {
        assert_eq!(png_size(&std::fs::read(out.join(format!("{chart}.png"))).unwrap()), (1200, 700), "{chart}");
        let svg = std::fs::read_to_string(out.join(format!("{chart}.svg"))).unwrap();
        assert!(svg.contains("</svg>"));
        assert_carries_its_font(&svg, &format!("{chart}.svg"));
    }
    let page = std::fs::read_to_string(out.join("comparison.html")).unwrap();
    assert_page_shares_one_font(&page, "comparison.html");
    assert_eq!(page.matches("<figure id=\"retry-storm-").count(), 2, "per-run charts side by side");
    assert!(page.contains("class=\"warning\""));
}

#[test]
fn same_scenario_other_seed_warns_about_the_seed_only() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("small.toml");
    std::fs::write(&file, SMALL).unwrap();
    let a = run(&tmp, "a", &file, &[]);
    let b = run(&tmp, "b", &file, &["--seed", "9"]);
    let c = run(&tmp, "c", &file, &["--set", "retry.jitter=full"]);
    let out = loadtest().arg("compare").arg(&a).arg(&b).arg(&c).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("warning: B (small) and A (small) differ in seed: 3 vs 9\n"), "{stdout}");
    assert!(
        stdout.contains("warning: C (small) and A (small) differ in retry.jitter: \"none\" vs \"full\"\n"),
        "{stdout}"
    );
    let same = loadtest().arg("compare").arg(&a).arg(&a).assert().success();
    assert!(!String::from_utf8_lossy(&same.get_output().stdout).contains("warning"));
}

/// The texts of an SVG, in drawing order.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| Some(t[t.find('>')? + 1..t.find("</text>")?].trim().to_string()))
        .collect()
}

/// The tick labels of an SVG: short texts that are numbers, durations or percentiles (titles, legends and axis
/// descriptions are words).
fn ticks(svg: &str) -> Vec<String> {
    let tick = |t: &String| {
        let t = t.trim_start_matches('-');
        let unit = t.split_once(' ').is_none_or(|(_, u)| ["µs", "ms", "s", "min", "h"].contains(&u));
        t.len() <= 12 && t.starts_with(|c: char| c.is_ascii_digit()) && unit
    };
    svg_texts(svg).into_iter().filter(tick).collect()
}

/// The inline SVG of `<figure id="{id}">` in a page.
fn figure_svg<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page.find(&format!("<figure id=\"{id}\"")).unwrap_or_else(|| panic!("no figure {id}"));
    let from = at + page[at..].find("<svg").unwrap();
    &page[from..from + page[from..].find("</svg>").unwrap()]
}

#[test]
fn compare_draws_each_kind_of_chart_on_axes_shared_by_the_runs_two_to_a_row_at_most() {
    let tmp = TempDir::new().unwrap();
    // A 77-minute storm with a zoom panel and thousands of attempts a second; a 50 s steady run without faults.
    let storm = run(&tmp, "storm", Path::new("scenarios/retry-storm.toml"), &[]);
    let steady = run(&tmp, "steady", Path::new("scenarios/steady-state.toml"), &[]);
    let out = tmp.path().join("cmp");
    loadtest().arg("compare").arg(&storm).arg(&steady).arg("--out").arg(&out).assert().success();
    let page = std::fs::read_to_string(out.join("comparison.html")).unwrap();
    for chart in CHARTS {
        let (a, b) = (figure_svg(&page, &format!("{chart}-A")), figure_svg(&page, &format!("{chart}-B")));
        let (ta, tb) = (ticks(a), ticks(b));
        assert!(ta.len() >= 8, "{chart}: too few tick labels found: {ta:?}");
        assert_eq!(ta, tb, "{chart}: the runs' panels have different axes");
        // Each links its file, drawn on the same axes, full size.
        let file = format!("runs/B/{chart}.svg");
        assert!(page.contains(&format!("<a href=\"{file}\"><svg")), "{chart}: the figure opens {file}");
        let full = std::fs::read_to_string(out.join(&file)).unwrap();
        assert!(full.contains("<svg width=\"1200\" height=\"700\""), "{file}");
        assert_eq!(ticks(&full), tb, "{file}");
    }
    // The steady run alone keeps its own axes: 50 s and tens of messages, not the storm's 77 min and thousands.
    for chart in ["retry-storm", "throughput", "backlog"] {
        let own = std::fs::read_to_string(steady.join("charts").join(format!("{chart}.svg"))).unwrap();
        assert_ne!(ticks(&own), ticks(figure_svg(&page, &format!("{chart}-B"))), "{chart}: no axes shared");
    }
    // The steady run gets the storm's zoom panel too, empty, so the two pictures have the same layout.
    assert!(figure_svg(&page, "retry-storm-B").contains("no fault ended in this run"));
    // Layout: one grid per kind of chart, the rule that makes it at most two to a row and no narrower than 880 px,
    // no fixed column count.
    assert_eq!(page.matches("<div class=\"runs\">").count(), CHARTS.len());
    assert!(
        page.contains("grid-template-columns: repeat(auto-fit, minmax(min(100%, max(880px, calc(50% - 6px))), 1fr))")
    );
    assert!(!page.contains("repeat(3") && !page.contains("repeat(2"), "a fixed column count");
}

/// The highest of these columns of timeseries.csv in any second (summed across `cols` within a row).
fn csv_peak(dir: &Path, cols: &[&str], sum: bool) -> f64 {
    let mut r = csv::Reader::from_path(dir.join("timeseries.csv")).unwrap();
    let head = r.headers().unwrap().clone();
    let idx: Vec<usize> = cols.iter().map(|c| head.iter().position(|h| h == *c).unwrap()).collect();
    let mut peak = 0.0f64;
    for row in r.records() {
        let row = row.unwrap();
        let vals = idx.iter().map(|i| row[*i].parse::<f64>().unwrap());
        peak = peak.max(if sum { vals.sum() } else { vals.fold(0.0, f64::max) });
    }
    peak
}

#[test]
fn throughput_puts_failed_attempts_in_a_panel_of_their_own() {
    let tmp = TempDir::new().unwrap();
    let storm = run(&tmp, "storm", Path::new("scenarios/retry-storm.toml"), &[]);
    let svg = std::fs::read_to_string(storm.join("charts/throughput.svg")).unwrap();
    let texts = svg_texts(&svg);
    assert!(texts.iter().any(|t| t == "failed attempts / s"), "no axis for failed attempts: {texts:?}");
    assert!(texts.iter().any(|t| t == "messages / s"));
    let messages = csv_peak(&storm, &["published", "completed", "dead_lettered"], false);
    let failed = csv_peak(
        &storm,
        &["failed_transient", "failed_timeout", "failed_validation", "failed_poison", "failed_circuit_open"],
        true,
    );
    // Shared with the failed attempts, the messages' axis would end above 1.12 x their peak.
    assert!(failed > 1.5 * messages, "the storm fails {failed}/s at its peak, {messages} messages/s");
    // The y tick labels (right-aligned), top panel first: the messages' axis ends between the message peak and its
    // headroom, the failed attempts' axis above the failed peak's half.
    let y: Vec<f64> = svg
        .split("<text")
        .filter(|t| t.contains("text-anchor=\"end\""))
        .filter_map(|t| t[t.find('>')? + 1..t.find("</text>")?].trim().replace(',', "").parse().ok())
        .collect();
    let split = y.windows(2).position(|w| w[1] < w[0]).expect("two y axes") + 1;
    let (top, lower) = (&y[..split], &y[split..]);
    let top_max = top.iter().copied().fold(0.0, f64::max);
    assert!(top_max <= messages * 1.12 && top_max >= messages * 0.5, "messages axis {top:?}, peak {messages}");
    let lower_max = lower.iter().copied().fold(0.0, f64::max);
    assert!(lower_max >= failed * 0.5 && lower_max <= failed * 1.12, "failed axis {lower:?}, peak {failed}");
}
