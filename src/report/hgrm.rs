//! `latency.hgrm`: HdrHistogram's percentile-distribution text format (what HistogramLogProcessor and the
//! HdrHistogram plotter read), values in milliseconds.

use hdrhistogram::Histogram;
use std::fmt::Write;

/// Renders a microsecond histogram as a percentile distribution in milliseconds (5 ticks per half distance).
pub fn percentile_distribution(h: &Histogram<u64>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{:>12} {:>14} {:>10} {:>14}\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
    let scale = 1000.0;
    if !h.is_empty() {
        let mut total = 0u64;
        for v in h.iter_quantiles(5) {
            let q = v.quantile_iterated_to();
            let value = h.highest_equivalent(v.value_iterated_to()) as f64 / scale;
            total += v.count_since_last_iteration();
            if q < 1.0 {
                let _ = writeln!(s, "{value:12.3} {q:2.12} {total:10} {:14.2}", 1.0 / (1.0 - q));
            } else {
                let _ = writeln!(s, "{value:12.3} {q:2.12} {total:10}");
            }
        }
    }
    let (mean, sd, max) =
        if h.is_empty() { (0.0, 0.0, 0.0) } else { (h.mean() / scale, h.stdev() / scale, h.max() as f64 / scale) };
    let _ = writeln!(s, "#[Mean    = {mean:12.3}, StdDeviation   = {sd:12.3}]");
    let _ = writeln!(s, "#[Max     = {max:12.3}, Total count    = {:12}]", h.len());
    let sub_buckets = 1u64 << (2.0 * 10f64.powi(h.sigfig() as i32)).log2().ceil() as u32;
    let _ = writeln!(s, "#[Buckets = {:12}, SubBuckets     = {:12}]", h.buckets(), sub_buckets);
    s
}

/// One line of a percentile distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub value_ms: f64,
    /// 0.0 ..= 1.0.
    pub percentile: f64,
    pub total_count: u64,
}

/// Parses the percentile-distribution text (`Value Percentile TotalCount 1/(1-Percentile)` lines, a header, `#`
/// footer lines). Errors name the line.
pub fn parse(text: &str) -> Result<Vec<Point>, String> {
    let mut points = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with("Value") {
            continue;
        }
        let cols: Vec<&str> = t.split_whitespace().collect();
        let bad = || format!("line {}: expected `Value Percentile TotalCount [1/(1-Percentile)]`, found `{t}`", i + 1);
        if cols.len() < 3 || cols.len() > 4 {
            return Err(bad());
        }
        let value_ms: f64 = cols[0].parse().map_err(|_| bad())?;
        let percentile: f64 = cols[1].parse().map_err(|_| bad())?;
        let total_count: u64 = cols[2].parse().map_err(|_| bad())?;
        if !(0.0..=1.0).contains(&percentile) || !value_ms.is_finite() || value_ms < 0.0 {
            return Err(bad());
        }
        points.push(Point { value_ms, percentile, total_count });
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_writes() {
        let mut h = crate::record::new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let points = parse(&percentile_distribution(&h)).unwrap();
        assert_eq!(points.first().unwrap().total_count, 1);
        assert_eq!(points.last().unwrap().percentile, 1.0);
        assert_eq!(points.last().unwrap().total_count, 1000);
        assert!(points.windows(2).all(|w| w[0].percentile <= w[1].percentile && w[0].value_ms <= w[1].value_ms));
        assert!(parse(&percentile_distribution(&crate::record::new_histogram())).unwrap().is_empty());
        let err = parse("Value Percentile\n\n  1.0 0.5 oops\n").unwrap_err();
        assert!(err.starts_with("line 3:"), "{err}");
    }

    #[test]
    fn renders_the_percentile_table_with_a_footer() {
        let mut h = crate::record::new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap(); // 1..1000 ms
        }
        let text = percentile_distribution(&h);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("Percentile") && lines[0].contains("1/(1-Percentile)"));
        let first: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(first[0], "1.000");
        assert_eq!(first[2], "1");
        let median = lines.iter().find(|l| l.contains(" 0.500000000000 ")).expect("a 50th percentile line");
        let m: Vec<&str> = median.split_whitespace().collect();
        assert!((m[0].parse::<f64>().unwrap() - 500.0).abs() < 1.0, "{median}");
        assert_eq!(m[2], "500");
        let last_data = lines.iter().rev().find(|l| !l.starts_with('#')).unwrap();
        assert!(last_data.contains("1.000000000000"), "{last_data}");
        assert_eq!(last_data.split_whitespace().nth(2), Some("1000"));
        assert!(text.contains("#[Max     =      999.935") || text.contains("#[Max     =     1000.447"), "{text}");
        assert!(text.contains("Total count    =         1000"));
    }
}
