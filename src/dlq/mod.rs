//! The dead-letter tools' model, whatever the source (a live queue, or a run's `dead_letters.csv`): a dead letter as
//! read back, why it died, the filters a replay selects with, and the per-reason summary `inspect` prints.

pub mod record;
pub mod render;

use crate::time::Dur;
use serde::Serialize;
use std::collections::BTreeMap;

/// One entry of RabbitMQ's `x-death` header: one per (queue, reason), newest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Death {
    pub reason: String,
    pub queue: String,
    pub count: u64,
    /// Unix seconds (the broker records whole seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<u64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub exchange: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routing_keys: Vec<String>,
}

/// A message in a dead-letter queue, as `inspect` shows it and `replay` selects it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DeadLetter {
    /// loadtest's message id (from the body), else the AMQP `message_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Why it is here: loadtest's `x-loadtest-reason`, else the newest `x-death` reason, else MassTransit's fault
    /// exception type, else `unknown`.
    pub reason: String,
    /// The queue it died in (newest `x-death` entry, or MassTransit's `MT-Fault-InputAddress`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_queue: Option<String>,
    /// When it died, unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub died_at: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deaths: Vec<Death>,
    /// Replays so far (`x-replay-count`).
    pub replay_count: u32,
    /// MassTransit-style fault headers (`MT-*`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fault: BTreeMap<String, String>,
    /// Every header, as JSON.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, serde_json::Value>,
    pub body_bytes: usize,
    /// The first bytes of the body, binary-safe (printable ASCII as is, anything else as `\xNN`).
    pub body_preview: String,
    /// What identifies the message across reads (loadtest id, `message_id`, or a digest of headers and body).
    #[serde(skip)]
    pub identity: String,
}

/// Bytes of the body `body_preview` shows.
pub const PREVIEW_BYTES: usize = 64;

/// `\xNN` for anything but printable ASCII, so that a preview is safe on any terminal and in JSON.
pub fn preview(body: &[u8]) -> String {
    let mut s = String::new();
    for &b in body.iter().take(PREVIEW_BYTES) {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    if body.len() > PREVIEW_BYTES {
        s.push('…');
    }
    s
}

/// What `replay` selects: every condition must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    pub reasons: Vec<String>,
    pub source_queues: Vec<String>,
    /// `header.NAME=VALUE`: the header rendered as text equals VALUE.
    pub headers: Vec<(String, String)>,
    pub ids: Vec<String>,
    /// Died at least this long ago.
    pub older_than: Option<Dur>,
}

impl Filter {
    /// Adds one `--filter KEY=VALUE` (`reason=`, `queue=`, `id=`, `header.NAME=`).
    pub fn add(&mut self, text: &str) -> Result<(), String> {
        let form = "write --filter reason=rejected, queue=NAME, id=42 or header.NAME=VALUE";
        let (key, value) = text.split_once('=').ok_or_else(|| format!("--filter {text:?}: missing `=`; {form}"))?;
        let (key, value) = (key.trim(), value.trim().to_string());
        if value.is_empty() {
            return Err(format!("--filter {text:?}: empty value; {form}"));
        }
        match key {
            "reason" => self.reasons.push(value),
            "queue" => self.source_queues.push(value),
            "id" => self.ids.extend(value.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty())),
            k if k.starts_with("header.") && k.len() > 7 => self.headers.push((k[7..].to_string(), value)),
            _ => return Err(format!("--filter {text:?}: unknown key `{key}`; {form}")),
        }
        Ok(())
    }

    /// Whether `d` is selected, `now` in unix seconds.
    pub fn matches(&self, d: &DeadLetter, now: u64) -> bool {
        let any = |list: &[String], v: Option<&str>| list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x == v));
        let old_enough = match (self.older_than, d.died_at) {
            (None, _) => true,
            (Some(age), Some(t)) => now.saturating_sub(t) as f64 >= age.secs_f64(),
            (Some(_), None) => false,
        };
        let header_ok = self.headers.iter().all(|(k, v)| d.headers.get(k).is_some_and(|h| header_text(h) == *v));
        any(&self.reasons, Some(&d.reason))
            && any(&self.source_queues, d.source_queue.as_deref())
            && any(&self.ids, d.id.as_deref())
            && old_enough
            && header_ok
    }
}

fn header_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `100/s`, `30/min`, `5/h` (or a bare number: per second) as messages per second.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let (n, unit) = text.trim().split_once('/').unwrap_or((text.trim(), "s"));
    let per = match unit.trim() {
        "s" | "sec" => 1.0,
        "min" | "m" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("{text:?}: unknown unit `{other}`; write e.g. 100/s or 10/min")),
    };
    let n: f64 = n.trim().parse().map_err(|_| format!("{text:?} is not a rate; write e.g. 100/s or 10/min"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("{text:?}: the rate must be greater than 0"));
    }
    Ok(n / per)
}

/// The per-reason summary of a set of dead letters.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ByReason {
    pub count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_died_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_died_at: Option<u64>,
    pub source_queues: Vec<String>,
}

pub fn by_reason<'a>(letters: impl IntoIterator<Item = &'a DeadLetter>) -> BTreeMap<String, ByReason> {
    let mut out: BTreeMap<String, ByReason> = BTreeMap::new();
    for d in letters {
        let r = out.entry(d.reason.clone()).or_default();
        r.count += 1;
        if let Some(t) = d.died_at {
            r.first_died_at = Some(r.first_died_at.map_or(t, |f| f.min(t)));
            r.last_died_at = Some(r.last_died_at.map_or(t, |l| l.max(t)));
        }
        if let Some(q) = &d.source_queue {
            if !r.source_queues.contains(q) {
                r.source_queues.push(q.clone());
                r.source_queues.sort();
            }
        }
    }
    out
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(id: &str, reason: &str, died: u64) -> DeadLetter {
        DeadLetter {
            id: Some(id.into()),
            reason: reason.into(),
            source_queue: Some("orders".into()),
            died_at: Some(died),
            ..Default::default()
        }
    }

    #[test]
    fn filters_select_by_reason_queue_id_header_and_age() {
        let mut f = Filter::default();
        f.add("reason=rejected").unwrap();
        f.add("id=1,2").unwrap();
        let mut d = letter("1", "rejected", 1_000);
        assert!(f.matches(&d, 2_000));
        assert!(!f.matches(&letter("3", "rejected", 1_000), 2_000));
        assert!(!f.matches(&letter("1", "expired", 1_000), 2_000));
        f.older_than = Some(Dur::from_secs(600));
        assert!(f.matches(&d, 1_700) && !f.matches(&d, 1_500));
        f.add("header.tenant=acme").unwrap();
        assert!(!f.matches(&d, 2_000));
        d.headers.insert("tenant".into(), serde_json::json!("acme"));
        assert!(f.matches(&d, 2_000));
        for bad in ["reason", "reason=", "colour=red", "header.=x"] {
            assert!(Filter::default().add(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_previews_and_the_summary() {
        assert_eq!(parse_rate("100/s"), Ok(100.0));
        assert_eq!(parse_rate("30/min"), Ok(0.5));
        assert_eq!(parse_rate("7"), Ok(7.0));
        assert!(parse_rate("0/s").is_err() && parse_rate("fast").is_err() && parse_rate("1/fortnight").is_err());
        assert_eq!(preview(b"ok\x00\xff\\"), "ok\\x00\\xff\\x5c");
        assert!(preview(&[b'a'; 100]).ends_with('…'));
        let all = [letter("1", "rejected", 10), letter("2", "rejected", 5), letter("3", "expired", 7)];
        let s = by_reason(&all);
        assert_eq!(s["rejected"].count, 2);
        assert_eq!((s["rejected"].first_died_at, s["rejected"].last_died_at), (Some(5), Some(10)));
        assert_eq!(s["expired"].source_queues, ["orders"]);
    }
}
