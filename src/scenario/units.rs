//! Values with units in a scenario file: sizes (`"1KB"` = 1,000 bytes, `"1KiB"` = 1,024) and rates (`"200/s"`).

/// `512`, `"512B"`, `"1.5KB"`, `"1KiB"`, `"4 MiB"`: bytes, rounded to a whole byte.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(SIZE_FORMS.to_string()),
    };
    let v: f64 = num.replace('_', "").parse().map_err(|_| SIZE_FORMS.to_string())?;
    let bytes = (v * scale).round();
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        return Err(SIZE_FORMS.to_string());
    }
    Ok(bytes as u64)
}

pub const SIZE_FORMS: &str =
    "write a size in bytes like 512, or with a unit: \"512B\", \"1KB\" (1,000 bytes), \"1KiB\" (1,024), \"4MiB\"";

/// `"200/s"`, `"12000/m"` (or `/min`), `"50/h"`: messages per second.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let (num, per) = text.trim().split_once('/').ok_or_else(|| RATE_FORMS.to_string())?;
    let per_s = match per.trim() {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(RATE_FORMS.to_string()),
    };
    let v: f64 = num.trim().replace('_', "").parse().map_err(|_| RATE_FORMS.to_string())?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("the rate must be greater than 0; {RATE_FORMS}"));
    }
    Ok(v / per_s)
}

pub const RATE_FORMS: &str = "write a rate like \"200/s\", \"12000/m\" or \"50/h\" (evenly spaced), or a table like \
                              { shape = \"poisson\", per_second = 200 }";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_rates() {
        for (text, bytes) in [("512", 512), ("512B", 512), ("1KB", 1000), ("1kB", 1000), ("1KiB", 1024)] {
            assert_eq!(parse_bytes(text), Ok(bytes), "{text}");
        }
        assert_eq!(parse_bytes("1.5 KiB"), Ok(1536));
        assert_eq!(parse_bytes("4MiB"), Ok(4 << 20));
        assert_eq!(parse_bytes("1_000"), Ok(1000));
        assert!(parse_bytes("1KiBs").is_err());
        assert!(parse_bytes("KiB").is_err());
        assert_eq!(parse_rate("200/s"), Ok(200.0));
        assert_eq!(parse_rate("12000/m"), Ok(200.0));
        assert_eq!(parse_rate("7200 / h"), Ok(2.0));
        assert!(parse_rate("200").is_err());
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("200/d").is_err());
    }
}
