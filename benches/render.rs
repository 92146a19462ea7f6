//! Rendering benchmarks (`cargo bench --bench render`): what the report folder costs on top of the engine.
//!
//! - render cost: the 10,000-message retry storm as a whole `loadtest run` against the engine alone (target: the
//!   whole run at most 1.5x the engine);
//! - the same run with `--no-png` (SVGs and the page only);
//! - `loadtest report` alone on that run's folder (charts, PNGs, the page);
//! - PNG encoder settings on the storm's five charts: encode time and bytes for each candidate (the pixels are the
//!   same whatever the setting; the shipped one is `chart::encode_png`).

use loadtest::export::{self, chart, RunData};
use loadtest::report::simulate;
use loadtest::scenario::load_file;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn loadtest(args: &[&str]) -> f64 {
    let t = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "loadtest {args:?}");
    t.elapsed().as_secs_f64()
}

/// The pixels of every per-run chart of `run`, as the PNG exporter draws them.
fn pixels(run: &RunData) -> Vec<Vec<u8>> {
    chart::register_font();
    let mut all = Vec::new();
    for c in export::charts() {
        // Decode the shipped PNG: the same pixels the encoder saw.
        let png = c.png(run).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        all.push(buf);
    }
    all
}

/// Where `loadtest report`'s time goes, phase by phase, in process (median of 7 each).
fn phases(dir: &Path) {
    use loadtest::export::Exporter;
    chart::register_font();
    let time = |f: &mut dyn FnMut()| {
        median(
            (0..7)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect(),
        )
    };
    let load = time(&mut || drop(std::hint::black_box(RunData::load(dir).unwrap())));
    let run = RunData::load(dir).unwrap();
    let mut svgs = Vec::new();
    let svg = time(&mut || svgs = export::charts().iter().map(|c| c.svg(&run).unwrap()).collect());
    let png = time(&mut || drop(std::hint::black_box(export::ChartFiles::png().render(&run).unwrap())));
    let page = time(&mut || drop(std::hint::black_box(export::html::index_with(&run, &svgs, true).unwrap())));
    let prom = time(&mut || drop(std::hint::black_box(loadtest::metrics::MetricsFile.render(&run).unwrap())));
    println!(
        "report phases (ms, median of 7): load {load:.1}, 5 SVGs {svg:.1}, 5 PNGs {png:.1}, index.html {page:.1}, \
         metrics.prom {prom:.1}"
    );
}

fn encode(rgb: &[u8], compression: png::DeflateCompression, filter: png::Filter) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, chart::WIDTH, chart::HEIGHT);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_deflate_compression(compression);
    enc.set_filter(filter);
    let mut w = enc.write_header().unwrap();
    w.write_image_data(rgb).unwrap();
    w.finish().unwrap();
    out
}

fn main() {
    let storm = load_file(Path::new("scenarios/retry-storm.toml"), &[]).unwrap();
    let engine = median(
        (0..7)
            .map(|_| {
                let t = Instant::now();
                simulate(&storm, 42).unwrap();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let tmp = tempfile::TempDir::new().unwrap();
    let dir = tmp.path().join("storm");
    let d = dir.to_str().unwrap();
    let whole = median((0..7).map(|_| loadtest(&["run", "scenarios/retry-storm.toml", "-q", "--out", d])).collect());
    let svg_only = median(
        (0..7).map(|_| loadtest(&["run", "scenarios/retry-storm.toml", "-q", "--no-png", "--out", d])).collect(),
    );
    let report = median((0..7).map(|_| loadtest(&["report", d])).collect());
    println!("retry-storm, 10,000 messages, engine only:    median {:.1} ms (7 runs)", engine * 1e3);
    println!(
        "retry-storm, 10,000 messages, `loadtest run`: median {:.1} ms (7 runs) = {:.2}x the engine",
        whole * 1e3,
        whole / engine
    );
    println!(
        "retry-storm, `loadtest run --no-png`:          median {:.1} ms (7 runs) = {:.2}x the engine",
        svg_only * 1e3,
        svg_only / engine
    );
    println!("`loadtest report` on its folder:              median {:.1} ms (7 runs)", report * 1e3);

    phases(&dir);
    let run = RunData::load(&dir).unwrap();
    let images = pixels(&run);
    use png::{DeflateCompression as D, Filter as F};
    let candidates: [(&str, D, F); 7] = [
        ("ultrafast, adaptive", D::FdeflateUltraFast, F::Adaptive),
        ("level 6, adaptive", D::Level(6), F::Adaptive),
        ("level 6, up", D::Level(6), F::Up),
        ("level 3, up", D::Level(3), F::Up),
        ("level 3, adaptive", D::Level(3), F::Adaptive),
        ("level 1, up", D::Level(1), F::Up),
        ("level 3, sub", D::Level(3), F::Sub),
    ];
    for (name, c, f) in candidates {
        let times: Vec<f64> = (0..7)
            .map(|_| {
                let t = Instant::now();
                for img in &images {
                    std::hint::black_box(encode(img, c, f));
                }
                t.elapsed().as_secs_f64()
            })
            .collect();
        let bytes: usize = images.iter().map(|img| encode(img, c, f).len()).sum();
        println!("png {name:<20} 5 charts: median {:5.1} ms, {:7} bytes", median(times) * 1e3, bytes);
    }
    let shipped: usize =
        images.iter().map(|img| chart::encode_png(img, chart::WIDTH, chart::HEIGHT).unwrap().len()).sum();
    println!("png as shipped (chart::encode_png): {shipped} bytes");
}
