//! The HTML report in a real browser: headless Chromium loads `index.html` and `comparison.html` from disk,
//! without errors, and shows the charts (the DOM has the expected elements, the screenshot is not blank).
//! Runs whenever Chromium is installed; fails (does not skip) when `CI` is set and Chromium is missing.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

fn chromium() -> Option<PathBuf> {
    let candidates = ["chromium", "chromium-browser", "google-chrome"];
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
        for name in candidates {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn browser(bin: &Path, profile: &Path, args: &[String]) -> (String, String) {
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .timeout(Duration::from_secs(180))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
}

/// Console errors and failed loads that Chromium logs for a page.
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Failed to load resource"))
        .collect()
}

/// Loads a page: no errors (a script blocked by the page's policy is one), at least `figures` figures with an inline
/// SVG each, and `canvases` interactive charts drawn (a page without them has no script at all).
fn check_page(bin: &Path, tmp: &TempDir, html: &Path, figures: usize, canvases: usize, name: &str) {
    let url = format!("file://{}", html.display());
    let (dom, err) = browser(bin, &tmp.path().join(format!("profile-dom-{name}")), &["--dump-dom".into(), url.clone()]);
    assert!(page_errors(&err).is_empty(), "{name}: page errors: {:?}", page_errors(&err));
    assert!(dom.matches("<figure").count() >= figures, "{name}: expected {figures} figures in the DOM");
    assert!(dom.matches("<svg").count() >= figures, "{name}: expected {figures} inline SVGs in the DOM");
    if canvases == 0 {
        assert!(!dom.contains("<script"), "{name}: a script element appeared");
    } else {
        assert_eq!(dom.matches("<canvas").count(), canvases, "{name}: the interactive charts are drawn");
        assert_eq!(dom.matches("<script").count(), 3, "{name}: only the page's own scripts");
    }

    let shot = tmp.path().join(format!("{name}.png"));
    let (_, err) = browser(
        bin,
        &tmp.path().join(format!("profile-shot-{name}")),
        &[format!("--screenshot={}", shot.display()), "--window-size=1200,2000".into(), url],
    );
    assert!(page_errors(&err).is_empty(), "{name}: page errors: {:?}", page_errors(&err));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).expect("a screenshot")));
    let mut reader = decoder.read_info().unwrap();
    let mut px = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut px).unwrap();
    assert_eq!((info.width, info.height), (1200, 2000));
    let channels = info.color_type.samples();
    let colourful = px.chunks(channels).filter(|p| {
        let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
        (r - g).abs() > 40 || (g - b).abs() > 40 || (r - b).abs() > 40
    });
    // Chart colours (blue, orange, purple areas and lines) cover a good part of the first screen.
    assert!(colourful.count() > 20_000, "{name}: the screenshot shows no charts");
}

#[test]
fn reports_render_in_headless_chromium() {
    let Some(bin) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but Chromium is missing: install it (`apt-get install -y chromium`; .ci/run does)");
        }
        eprintln!("skipping: Chromium is not installed (apt-get install -y chromium)");
        return;
    };
    let tmp = TempDir::new().unwrap();
    let run = |scenario: &str, name: &str| {
        let out = tmp.path().join(name);
        Command::cargo_bin("loadtest").unwrap().args(["run", scenario, "-q", "--out"]).arg(&out).assert().success();
        out
    };
    let storm = run("scenarios/retry-storm.toml", "storm");
    let jitter = run("scenarios/retry-storm-jitter.toml", "jitter");
    check_page(&bin, &tmp, &storm.join("index.html"), 5, 5, "index");
    let cmp = tmp.path().join("cmp");
    Command::cargo_bin("loadtest")
        .unwrap()
        .arg("compare")
        .arg(&storm)
        .arg(&jitter)
        .arg("--out")
        .arg(&cmp)
        .assert()
        .success();
    check_page(&bin, &tmp, &cmp.join("comparison.html"), 4 + 2 * 5, 0, "comparison");
}
