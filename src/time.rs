//! Scenario time: nanoseconds since the start of a run, and human-readable durations ("250ms", "5m", "1h30m").

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A point in scenario time, in nanoseconds since the run started.
pub type Nanos = u64;

pub const NS_PER_MS: u64 = 1_000_000;
pub const NS_PER_SEC: u64 = 1_000_000_000;

/// A span of scenario time. Parsed from and printed as strings such as `"100ms"`, `"30s"`, `"5m"`, `"1h 30m"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub Nanos);

impl Dur {
    pub const ZERO: Dur = Dur(0);

    /// For `skip_serializing_if`: a zero duration that means "not set".
    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }

    pub fn from_secs_f64(s: f64) -> Dur {
        Dur((s * NS_PER_SEC as f64).round().max(0.0) as u64)
    }
    pub fn from_millis(ms: u64) -> Dur {
        Dur(ms * NS_PER_MS)
    }
    pub fn from_secs(s: u64) -> Dur {
        Dur(s * NS_PER_SEC)
    }
    pub fn ns(self) -> Nanos {
        self.0
    }
    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_SEC as f64
    }
    pub fn millis_f64(self) -> f64 {
        self.0 as f64 / NS_PER_MS as f64
    }

    /// Parses `"250ms"`, `"1.5s"`, `"5m"`, `"1h 30m"`, `"2d"`; a bare `0` is accepted.
    pub fn parse(text: &str) -> Result<Dur, String> {
        let t = text.trim();
        if t == "0" {
            return Ok(Dur::ZERO);
        }
        // Fractional single-unit values ("1.5s", "0.25ms") are common in load-test configs; humantime rejects them.
        if let Some(d) = parse_fractional(t) {
            return Ok(d);
        }
        humantime::parse_duration(t)
            .map(|d| Dur(d.as_nanos().min(u64::MAX as u128) as u64))
            .map_err(|e| format!("`{text}` is not a duration ({e}); write e.g. \"250ms\", \"30s\", \"5m\", \"1h30m\""))
    }
}

fn parse_fractional(t: &str) -> Option<Dur> {
    let split = t.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = t.split_at(split);
    if !num.contains('.') {
        return None;
    }
    let v: f64 = num.trim().parse().ok()?;
    if !(v.is_finite() && v >= 0.0) {
        return None;
    }
    let scale = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" | "sec" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        _ => return None,
    };
    Some(Dur((v * scale).round() as u64))
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let text = humantime::format_duration(std::time::Duration::from_nanos(self.0)).to_string();
        f.write_str(&text.replace(' ', ""))
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Dur::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for (text, ns) in [
            ("250ms", 250 * NS_PER_MS),
            ("30s", 30 * NS_PER_SEC),
            ("5m", 300 * NS_PER_SEC),
            ("1h30m", 5400 * NS_PER_SEC),
            ("1.5s", 1_500 * NS_PER_MS),
            ("0", 0),
        ] {
            let d = Dur::parse(text).unwrap();
            assert_eq!(d.ns(), ns, "{text}");
            assert_eq!(Dur::parse(&d.to_string()).unwrap(), d, "{text} -> {d}");
        }
        assert_eq!(Dur::parse("1h30m").unwrap().to_string(), "1h30m");
    }

    #[test]
    fn rejects_garbage() {
        assert!(Dur::parse("5 parsecs").is_err());
        assert!(Dur::parse("fast").is_err());
        assert!(Dur::parse("-1s").is_err());
    }
}
