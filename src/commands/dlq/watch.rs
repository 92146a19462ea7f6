//! `loadtest dlq watch`: polls a dead-letter queue's depth and oldest message; alerts above a depth or a growth
//! rate with a log line, and optionally a command (`--exec`) or exit 1 (`--exit-on-alert`, for cron and CI).

use crate::broker::rabbitmq::dlq;
use crate::cli::DlqWatchArgs;
use crate::dlq::{parse_rate, unix_now};
use crate::exit::Failure;
use crate::time::Dur;
use std::time::{Duration, Instant};

pub fn watch(a: &DlqWatchArgs) -> Result<(), Failure> {
    let interval = Dur::parse(&a.interval).map_err(|e| Failure::input(format!("--interval: {e}")))?;
    if interval.ns() < 100_000_000 {
        return Err(Failure::input("--interval: poll at most every 100ms (e.g. --interval 10s)"));
    }
    let growth = a
        .alert_growth
        .as_deref()
        .map(parse_rate)
        .transpose()
        .map_err(|e| Failure::input(format!("--alert-growth {e}")))?;
    if a.count == Some(0) {
        return Err(Failure::input("--count 0 would poll nothing; give at least 1"));
    }
    let client = super::client(&a.broker, "watch")?;
    let mut previous: Option<(Instant, u64)> = None;
    let mut polls = 0;
    loop {
        let now = Instant::now();
        let depth = client.depth(&a.queue).map_err(super::failure)?;
        let oldest = client.rt.block_on(dlq::oldest(&client.read, &a.queue, unix_now())).map_err(super::failure)?;
        let per_min =
            previous.map(|(t, d)| (depth as f64 - d as f64) / now.duration_since(t).as_secs_f64().max(1e-3) * 60.0);
        let mut alerts = Vec::new();
        if let Some(max) = a.alert_above.filter(|&m| depth > m) {
            alerts.push(format!("depth {depth} > {max}"));
        }
        if let (Some(limit), Some(rate)) = (growth, per_min) {
            if rate > limit * 60.0 {
                alerts.push(format!("growing {rate:.1}/min > {:.1}/min", limit * 60.0));
            }
        }
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
        let age = oldest.map_or("-".to_string(), |s| humantime::format_duration(Duration::from_secs(s)).to_string());
        let rate = per_min.map_or("-".to_string(), |r| format!("{r:+.1}/min"));
        let alert = if alerts.is_empty() { String::new() } else { format!("  ALERT {}", alerts.join(", ")) };
        super::print(&format!("{stamp} {} depth {depth} ({rate}) oldest {age}{alert}\n", a.queue))?;
        if !alerts.is_empty() {
            if let Some(cmd) = &a.exec {
                let status = std::process::Command::new("sh")
                    .args(["-c", cmd])
                    .env("LOADTEST_DLQ_QUEUE", &a.queue)
                    .env("LOADTEST_DLQ_DEPTH", depth.to_string())
                    .env("LOADTEST_DLQ_ALERT", alerts.join(", "))
                    .status();
                if let Err(e) = status {
                    crate::errln!("warning: --exec {cmd:?} did not run: {e}");
                }
            }
            if a.exit_on_alert {
                client.close();
                return Err(Failure::gate(format!("{}: {}", a.queue, alerts.join(", "))));
            }
        }
        previous = Some((now, depth));
        polls += 1;
        if a.count.is_some_and(|c| polls >= c) {
            break;
        }
        std::thread::sleep(Duration::from_nanos(interval.ns()).saturating_sub(now.elapsed()));
    }
    client.close();
    Ok(())
}
