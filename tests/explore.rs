//! The interactive charts of `index.html` in a real browser, driven through the DevTools protocol with real mouse
//! events: the storm's page draws its panels under its Content-Security-Policy, a drag zooms, and hovering over
//! second 186 (the first retries after the outage) shows that second's values from timeseries.csv in the legend. A screenshot of the page is kept in the
//! test's artefacts (`target/tmp/explore/storm.png`). Fails (does not skip) when `CI` is set and Chromium is missing.

use headless_chrome::protocol::cdp::Input::{DispatchMouseEvent, DispatchMouseEventTypeOption, MouseButton};
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod common;

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            if dir.join(name).is_file() {
                return Some(dir.join(name));
            }
        }
    }
    None
}

/// Evaluates `js` (an expression giving a string) in the page.
fn eval(tab: &Tab, js: &str) -> String {
    let v = tab.evaluate(js, false).expect("the expression runs").value;
    match v {
        Some(serde_json::Value::String(s)) => s,
        other => panic!("{js}: expected a string, got {other:?}"),
    }
}

/// The legend of panel `id`: label -> the value it shows.
fn legend(tab: &Tab, id: &str) -> HashMap<String, String> {
    let js = format!(
        "JSON.stringify(Array.from(document.querySelectorAll('#explore-{id} .u-legend .u-series')).map(function (r) {{ \
         return [r.querySelector('.u-label').textContent, r.querySelector('.u-value').textContent]; }}))"
    );
    let pairs: Vec<(String, String)> = serde_json::from_str(&eval(tab, &js)).unwrap();
    pairs.into_iter().collect()
}

/// A real mouse event at (x, y) in the viewport, with the left button held when `held`.
fn mouse(tab: &Tab, kind: DispatchMouseEventTypeOption, (x, y): (f64, f64), held: bool) {
    let pressing = !matches!(kind, DispatchMouseEventTypeOption::MouseMoved);
    tab.call_method(DispatchMouseEvent {
        Type: kind,
        x,
        y,
        modifiers: None,
        timestamp: None,
        button: Some(if held || pressing { MouseButton::Left } else { MouseButton::None }),
        buttons: Some(if held { 1 } else { 0 }),
        click_count: Some(if pressing { 1 } else { 0 }),
        force: None,
        tangential_pressure: None,
        tilt_x: None,
        tilt_y: None,
        twist: None,
        delta_x: None,
        delta_y: None,
        pointer_Type: None,
    })
    .expect("the mouse event is dispatched");
}

/// Where scenario second `t` of the attempts panel is on screen (viewport pixels), at the panel's current zoom.
fn screen_at(tab: &Tab, t: f64) -> (f64, f64) {
    let at = eval(
        tab,
        &format!(
            "(function () {{ var u = window.loadtestCharts.attempts; \
             var b = u.over.getBoundingClientRect(); \
             return JSON.stringify([b.left + u.valToPos({t}, 'x'), b.top + b.height / 2]); }})()"
        ),
    );
    let [x, y]: [f64; 2] = serde_json::from_str(&at).unwrap();
    (x, y)
}

fn csv_row(dir: &Path, second: u64) -> HashMap<String, String> {
    let mut r = csv::Reader::from_path(dir.join("timeseries.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    let row = r.records().map(|x| x.unwrap()).find(|x| x[0] == *second.to_string()).expect("the row of that second");
    headers.iter().zip(row.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()
}

#[test]
fn hovering_a_second_of_the_storm_shows_its_values() {
    let Some(bin) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but Chromium is missing: install it (`apt-get install -y chromium`; .ci/run does)");
        }
        eprintln!("skipping: Chromium is not installed (apt-get install -y chromium)");
        return;
    };
    let tmp = tempfile::TempDir::new().unwrap();
    let out = tmp.path().join("storm");
    common::loadtest().args(["run", "scenarios/retry-storm.toml", "-q", "--out"]).arg(&out).assert().success();
    let row = csv_row(&out, 186);

    let browser = Browser::new(LaunchOptions {
        path: Some(bin),
        headless: true,
        sandbox: false,
        window_size: Some((1280, 1400)),
        user_data_dir: Some(tmp.path().join("profile")),
        idle_browser_timeout: Duration::from_secs(120),
        ..LaunchOptions::default()
    })
    .expect("Chromium starts");
    let tab = browser.new_tab().unwrap();
    tab.navigate_to(&format!("file://{}", out.join("index.html").display())).unwrap();
    tab.wait_until_navigated().unwrap();
    tab.wait_for_element("#explore-attempts .u-over").expect("the attempts panel is drawn");
    let panels = eval(&tab, "Object.keys(window.loadtestCharts || {}).join(',')");
    assert_eq!(panels, "attempts,throughput,failures,backlog,latency");

    eval(&tab, "(window.loadtestCharts.attempts.root.scrollIntoView(), '')");

    // A click on a legend entry hides its series.
    let label = eval(
        &tab,
        "(function () { var b = document.querySelectorAll('#explore-attempts .u-legend .u-series .u-label')[6]\
         .getBoundingClientRect(); return JSON.stringify([b.left + b.width / 2, b.top + b.height / 2]); })()",
    );
    let [lx, ly]: [f64; 2] = serde_json::from_str(&label).unwrap();
    let click = || {
        mouse(&tab, DispatchMouseEventTypeOption::MouseMoved, (lx, ly), false);
        mouse(&tab, DispatchMouseEventTypeOption::MousePressed, (lx, ly), true);
        mouse(&tab, DispatchMouseEventTypeOption::MouseReleased, (lx, ly), false);
        eval(
            &tab,
            "(function () { var s = window.loadtestCharts.attempts.series[6]; return s.label + ':' + s.show; })()",
        )
    };
    assert_eq!(click(), "retry 4+:false", "the first click hides it");
    assert_eq!(click(), "retry 4+:true", "the second shows it again");

    // Drag over 150..250 s to zoom (at the whole run's scale a pixel is about 4 s), then hover over second 186.
    let (from, to) = (screen_at(&tab, 150.0), screen_at(&tab, 250.0));
    mouse(&tab, DispatchMouseEventTypeOption::MouseMoved, from, false);
    mouse(&tab, DispatchMouseEventTypeOption::MousePressed, from, true);
    for i in 1..=10 {
        let x = from.0 + (to.0 - from.0) * i as f64 / 10.0;
        mouse(&tab, DispatchMouseEventTypeOption::MouseMoved, (x, from.1), true);
    }
    mouse(&tab, DispatchMouseEventTypeOption::MouseReleased, to, false);
    let scale = eval(
        &tab,
        "(function () { var s = window.loadtestCharts.attempts.scales.x; return JSON.stringify([s.min, s.max]); })()",
    );
    let [min, max]: [f64; 2] = serde_json::from_str(&scale).unwrap();
    assert!((145.0..=155.0).contains(&min) && (245.0..=255.0).contains(&max), "zoomed to {min}..{max}");

    let at = screen_at(&tab, 186.0);
    mouse(&tab, DispatchMouseEventTypeOption::MouseMoved, at, false);
    std::thread::sleep(Duration::from_millis(300));

    let shown = legend(&tab, "attempts");
    assert_eq!(shown["time"], "second 186", "{shown:?}");
    assert_eq!(row["attempts_first"], "20");
    assert_eq!(shown["first attempts"], format!("{}/s", row["attempts_first"]), "{shown:?}");
    assert_eq!(shown["retry 1"], format!("{}/s", row["attempts_retry1"]), "{shown:?}");
    assert_eq!(shown["calls offered to the service"], format!("{}/s", row["offered"]), "{shown:?}");
    assert_eq!(shown["service capacity"], "0/s", "the service is down in that second: {shown:?}");
    // Every panel follows the same cursor.
    let backlog = legend(&tab, "backlog");
    assert_eq!(backlog["ready"], row["ready"], "{backlog:?}");

    let png = tab.capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true).unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("explore");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("storm.png"), &png).unwrap();
    assert!(png.len() > 10_000, "a screenshot with content");
}
