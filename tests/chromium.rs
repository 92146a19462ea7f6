//! The HTML report in a real browser: headless Chromium loads `index.html` and `comparison.html` from disk,
//! without errors, and shows the charts (the DOM has the expected elements, the screenshot is not blank).
//! An SVG renders the same with DejaVu Sans hidden from fontconfig (it carries its font). Runs whenever Chromium is
//! installed; fails (does not skip) when `CI` is set and Chromium is missing.

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
    browser_with(bin, profile, args, None)
}

/// `browser` with `fontconfig` as its font configuration, if given.
fn browser_with(bin: &Path, profile: &Path, args: &[String], fontconfig: Option<&Path>) -> (String, String) {
    let mut cmd = Command::new(bin);
    if let Some(conf) = fontconfig {
        cmd.env("FONTCONFIG_FILE", conf);
    }
    let out = cmd
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

/// A screenshot of `file` (1200 × 700, the charts' size) as pixels.
fn shot(bin: &Path, tmp: &TempDir, file: &Path, fontconfig: Option<&Path>, name: &str) -> Vec<u8> {
    let png = tmp.path().join(format!("{name}.png"));
    let args = [
        format!("--screenshot={}", png.display()),
        "--window-size=1200,700".into(),
        "--hide-scrollbars".into(),
        format!("file://{}", file.display()),
    ];
    browser_with(bin, &tmp.path().join(format!("profile-{name}")), &args, fontconfig);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).expect("a screenshot")));
    let mut reader = decoder.read_info().unwrap();
    let mut px = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut px).unwrap();
    px
}

/// The system's font configuration without DejaVu Sans.
fn without_dejavu(tmp: &TempDir) -> PathBuf {
    let conf = tmp.path().join("no-dejavu.conf");
    let text = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE fontconfig SYSTEM \"fonts.dtd\">\n<fontconfig>\n\
         <include ignore_missing=\"yes\">/etc/fonts/fonts.conf</include>\n<cachedir>{}</cachedir>\n\
         <selectfont><rejectfont><pattern><patelt name=\"family\"><string>DejaVu Sans</string></patelt></pattern>\
         </rejectfont></selectfont>\n</fontconfig>\n",
        tmp.path().join("fontconfig-cache").display()
    );
    std::fs::write(&conf, text).unwrap();
    conf
}

#[test]
fn an_svg_reads_the_same_without_dejavu_sans_installed() {
    let Some(bin) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI is set but Chromium is missing");
        eprintln!("skipping: Chromium is not installed (apt-get install -y chromium)");
        return;
    };
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("storm");
    Command::cargo_bin("loadtest")
        .unwrap()
        .args(["run", "scenarios/retry-storm.toml", "-q", "--out"])
        .arg(&out)
        .assert()
        .success();
    let svg = out.join("charts/throughput.svg");
    // The control: the same SVG without its embedded font, as SVGs were before they carried one.
    let text = std::fs::read_to_string(&svg).unwrap();
    let (start, end) = (text.find("<defs><style").unwrap(), text.find("</style></defs>\n").unwrap() + 16);
    let own = text[text.find("font-family=\"'").unwrap() + 13..].split_once("', ").unwrap().0.to_string();
    let bare = text[..start].to_string() + &text[end..];
    let bare_svg = tmp.path().join("bare.svg");
    std::fs::write(&bare_svg, bare.replace(&format!("{own}', "), "")).unwrap();
    assert!(!std::fs::read_to_string(&bare_svg).unwrap().contains("loadtest DejaVu Sans"));

    let conf = without_dejavu(&tmp);
    let differ = |a: &[u8], b: &[u8]| a.iter().zip(b).filter(|(x, y)| x.abs_diff(**y) > 40).count();
    let bare_with = shot(&bin, &tmp, &bare_svg, None, "bare-with");
    let bare_without = shot(&bin, &tmp, &bare_svg, Some(&conf), "bare-without");
    assert!(
        differ(&bare_with, &bare_without) > 1000,
        "hiding DejaVu Sans changed nothing in the SVG without the embedded font (is DejaVu Sans installed?)"
    );
    let with = shot(&bin, &tmp, &svg, None, "with");
    let without = shot(&bin, &tmp, &svg, Some(&conf), "without");
    assert_eq!(differ(&with, &without), 0, "the SVG reads differently without DejaVu Sans installed");
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
    // A pub/sub run's page: the backlogs on one chart, then two charts of each of the three subscriptions.
    let pubsub = run("scenarios/pub-sub.toml", "pubsub");
    check_page(&bin, &tmp, &pubsub.join("index.html"), 1 + 3 * 2, 0, "pubsub");
}
