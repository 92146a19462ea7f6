//! `index.html`: one self-contained page per run (inline CSS, SVG charts and the interactive charts' script; no
//! network, which its Content-Security-Policy forbids) with the key figures, the message accounting, the charts, the
//! summary table and the resolved scenario. Every string that came from a file is HTML-escaped.

use super::{Exporter, RunData};
use crate::export::chart::{fmt_ms, fmt_num, fmt_tick, ChartError};
use crate::report::{flat, metrics};
use std::fmt::Write;
use std::path::PathBuf;

pub struct Html;

impl Exporter for Html {
    fn name(&self) -> &str {
        "html"
    }
    fn render(&self, run: &RunData) -> Result<Vec<(PathBuf, Vec<u8>)>, ChartError> {
        Ok(vec![(PathBuf::from(super::INDEX_HTML), index(run)?.into_bytes())])
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", Verdana, system-ui, sans-serif; color: #222; background: #fafafa; margin: 0; }
main { max-width: 1240px; margin: 0 auto; padding: 24px; }
h1 { font-size: 28px; margin: 8px 0 4px; } h2 { font-size: 20px; margin: 32px 0 12px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.desc { color: #444; margin: 4px 0; } .meta { color: #666; font-size: 14px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 10px; }
.card { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 10px 12px; }
.card .v { font-size: 22px; font-weight: bold; } .card .k { color: #666; font-size: 13px; }
.ok { color: #2e7d32; } .bad { color: #c62828; font-weight: bold; }
.accounting { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 12px; font-size: 16px; }
figure { margin: 0 0 24px; background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: 14px; padding: 6px 4px 0; }
table { border-collapse: collapse; background: #fff; font-size: 14px; }
th, td { border: 1px solid #e3e3e3; padding: 4px 10px; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 12px; overflow-x: auto; font-size: 13px; }
.grid { display: grid; gap: 12px; } .better { color: #2e7d32; } .worse { color: #c62828; }
.verdict { font-size: 18px; } nav#toc { margin: 12px 0; font-size: 14px; } .u-legend { font-size: 13px; }
figure.interactive { overflow: hidden; }
.warning { background: #fff4e5; border: 1px solid #f0c36d; border-radius: 6px; padding: 10px 14px; }
/* compare's per-run charts: at most two to a row, none narrower than 880 px (or the window) */
.runs { display: grid; gap: 12px; width: calc(100vw - 64px); margin-left: calc(50% - 50vw + 32px);
  grid-template-columns: repeat(auto-fit, minmax(min(100%, max(880px, calc(50% - 6px))), 1fr)); }
.runs figure { width: 100%; max-width: 1320px; justify-self: center; box-sizing: border-box; } .runs figure > a { display: block; }
"#;

/// The policy of a page without scripts: nothing from the network, no script at all.
pub const CSP_STATIC: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; base-uri 'none'; form-action 'none'";

/// A whole page without scripts: doctype, head with the policy and the inline stylesheet, the body.
pub fn page(title: &str, body: &str) -> Result<String, ChartError> {
    page_with(title, body, CSP_STATIC)
}

/// A whole page under the Content-Security-Policy `csp`. The SVGs inlined in `body` share one embedded font subset,
/// defined in the page's stylesheet (`svg_font::share`).
pub fn page_with(title: &str, body: &str, csp: &str) -> Result<String, ChartError> {
    let (fonts, body) = super::svg_font::share(body)?;
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n<meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}{fonts}</style>\n</head>\n\
         <body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        escape(csp),
        escape(title)
    ))
}

/// A chart as a figure: the inline SVG (labelled for screen readers), a caption, links to the files.
pub fn figure(id: &str, caption: &str, svg: &str, links: &[(String, String)]) -> String {
    let svg = svg.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").trim_start();
    let svg = svg.replacen("<svg ", &format!("<svg role=\"img\" aria-label=\"{}\" ", escape(caption)), 1);
    let links: Vec<String> =
        links.iter().map(|(href, text)| format!("<a href=\"{}\">{}</a>", escape(href), escape(text))).collect();
    format!(
        "<figure id=\"{}\" class=\"chart\">\n{svg}\n<figcaption>{}{}{}</figcaption>\n</figure>\n",
        escape(id),
        escape(caption),
        if links.is_empty() { "" } else { " · " },
        links.join(" · ")
    )
}

fn card(out: &mut String, key: &str, value: &str, class: &str) {
    let _ = write!(
        out,
        "<div class=\"card\"><div class=\"v {class}\">{}</div><div class=\"k\">{}</div></div>",
        escape(value),
        escape(key)
    );
}

/// Key figures of the patterns a scenario configures (breaker, kill switch, retry budget, throttling, autoscaler);
/// none for a scenario without them.
fn resilience_cards(b: &mut String, s: &crate::report::summary::Summary) {
    let d = &s.downstream;
    if let Some(open) = d.circuit_breaker_open_s {
        card(b, "circuit breaker openings", &d.circuit_breaker_opened.to_string(), "");
        card(b, "breaker time open (summed)", &seconds(open), "");
    }
    let c = &s.consumers;
    if let (Some(trips), Some(stopped)) = (c.kill_switch_trips, c.kill_switch_stopped_s) {
        card(b, "kill switch trips", &trips.to_string(), "");
        card(b, "consumers stopped by the kill switch", &seconds(stopped), "");
    }
    if let Some(n) = s.attempts.budget_rejected {
        card(b, "retries refused by the budget", &fmt_tick(n as f64), "");
    }
    if let Some(n) = d.throttled {
        card(b, "calls throttled locally", &fmt_tick(n as f64), "");
    }
    if let (Some(ups), Some(downs)) = (c.scale_ups, c.scale_downs) {
        card(b, "replicas min – peak", &format!("{} – {}", c.min, c.peak), "");
        card(b, "scale events (up / down)", &format!("{ups} / {downs}"), "");
    }
}

/// A time in seconds for a card: one decimal under 100 s, whole seconds above.
fn seconds(s: f64) -> String {
    if s < 100.0 {
        format!("{} s", fmt_num((s * 10.0).round() / 10.0))
    } else {
        format!("{} s", fmt_tick(s.round()))
    }
}

/// The message accounting line: published = completed + dead-lettered + expired + lost + in flight.
pub fn accounting(run: &RunData) -> String {
    let m = &run.summary.messages;
    let status = if m.accounted && m.lost == 0 {
        "<span class=\"ok\">✓ every message accounted for</span>".to_string()
    } else {
        format!("<span class=\"bad\">✗ {} message(s) lost</span>", m.lost)
    };
    format!(
        "<p class=\"accounting\" id=\"accounting\">published <b>{}</b> = completed <b>{}</b> + dead-lettered <b>{}</b> \
         + expired <b>{}</b> + lost <b>{}</b> + in flight <b>{}</b> &nbsp; {status}{}</p>\n",
        m.published,
        m.completed,
        m.dead_lettered.total,
        m.expired,
        m.lost,
        m.in_flight_at_end,
        if m.rejected_at_publish > 0 {
            format!(" &nbsp; ({} refused at publish, not counted as published)", m.rejected_at_publish)
        } else {
            String::new()
        }
    )
}

/// The section of a run on a real broker: where it ran, how it ended, publishing, outages, the reconciliation.
pub fn real_broker(r: &crate::broker::real::RealReport) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("broker", format!("{} at {}{}", r.server, r.url, if r.tls { " (TLS)" } else { "" })),
        ("work queue", format!("{} ({})", r.topology.first().map_or("", String::as_str), r.queue_type)),
        (
            "topology",
            format!("{} ({})", r.topology.join(", "), if r.topology_kept { "kept" } else { "deleted at the end" }),
        ),
        ("run id", r.run_id.clone()),
        ("ended", r.ended_by.clone()),
        ("time scale", r.time_scale_note.clone()),
    ];
    let p = &r.publishing;
    let confirms = if p.confirms {
        format!(
            "{} confirmed (window {}), {} refused, {} republished after a lost connection, {} unconfirmed at the end",
            p.confirmed, p.confirm_window, p.nacked, p.republished, p.unconfirmed_at_end
        )
    } else {
        "confirms off (producers.confirm_window = 0): nothing proves the broker took a message".to_string()
    };
    rows.push(("publishing", confirms));
    rows.push((
        "producer lag",
        format!("p50 {} · p99 {} · max {}", fmt_ms(p.lag_ms.p50), fmt_ms(p.lag_ms.p99), fmt_ms(p.lag_ms.max)),
    ));
    let c = &r.consuming;
    rows.push(("consuming", format!(
        "{} deliveries, {} redelivered, {} acks after their channel was gone, {} requeued by outages, {} duplicate dead letters",
        c.deliveries, c.redelivered, c.stale_acks, c.requeued_by_outages, c.duplicate_dead_letters)));
    let h = &r.handoff_us;
    rows.push((
        "delivery → loop",
        format!("p50 {} µs · p99 {} µs · max {} µs (wall clock)", fmt_num(h.p50), fmt_num(h.p99), fmt_num(h.max)),
    ));
    for o in r.outages.iter().chain(&p.blocked) {
        let len = o.duration_s.map_or("until the end".to_string(), |d| format!("for {} s", fmt_num(d)));
        rows.push(("outage", format!("{} at {} s {len}", o.what, fmt_num(o.start_s))));
    }
    for d in &r.delays {
        rows.push((
            "delay queue",
            format!(
                "{} ({} ms): {} returned; at a consumer again p50 {} ms · max {} ms after their due time (wall clock; \
                 includes any wait behind the work queue's backlog)",
                d.queue,
                d.ttl_ms,
                d.returned,
                fmt_num(d.late_ms.p50),
                fmt_num(d.late_ms.max)
            ),
        ));
    }
    let l = &r.ledger;
    rows.push((
        "reconciliation",
        format!(
        "{}: {} held at the end, {} lost{}, {} never accepted (publish outcome unknown, never seen), {} finished again",
        l.method, l.held_at_end, l.lost,
        if l.lost_ids.is_empty() { String::new() } else { format!(" (ids {:?})", l.lost_ids) },
        l.unconfirmed_unseen, l.finished_again),
    ));
    if let Some(po) = &r.produce_only {
        rows.push((
            "produce-only",
            format!(
                "published {}/s, peak backlog {}, drained {}, consumers on the queue {}–{} ({})",
                fmt_num(po.published_per_s),
                po.peak_backlog,
                po.drain_s.map_or("never".to_string(), |t| format!("{} s after the last publish", fmt_num(t))),
                po.consumers_min,
                po.consumers_max,
                po.consumers_source
            ),
        ));
    }
    for d in &r.depth_sources {
        rows.push(("depth source", d.clone()));
    }
    let mut t = String::from("<h2>Real broker</h2>\n<table id=\"real-broker\">\n");
    for (k, v) in rows {
        let _ = writeln!(t, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(&v));
    }
    t.push_str("</table>\n");
    if !r.faults.is_empty() {
        t.push_str(&faults(&r.faults));
    }
    t
}

/// Service Bus semantics: the lock settings and what the locks did.
fn peek_lock(p: &crate::report::summary::PeekLockStats) -> String {
    let dlq: u64 = p.dead_lettered_by_servicebus_reason.values().sum();
    let reasons: Vec<String> = p.dead_lettered_by_servicebus_reason.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let rows = [
        (
            "lock",
            format!(
                "{} s, renewed until {} s after a handler starts, MaxDeliveryCount {}",
                fmt_num(p.lock_duration_s),
                fmt_num(p.max_auto_lock_renewal_s),
                p.max_delivery_count
            ),
        ),
        ("locks that ran out", format!("{} ({} in the prefetch buffer)", p.locks_expired, p.locks_expired_in_buffer)),
        (
            "settles that failed (MessageLockLost)",
            format!("{} ({} after the work succeeded)", p.settles_failed_lock_lost, p.completed_after_lock_lost),
        ),
        ("dead-lettered after the side effect", p.dead_lettered_after_side_effect.to_string()),
        (
            "dead-lettered by the broker",
            format!(
                "{dlq} to {} {}",
                p.dead_letter_queue,
                if reasons.is_empty() { String::new() } else { format!("({})", reasons.join(", ")) }
            ),
        ),
    ];
    let mut t = String::from("<h2>Service Bus peek-lock</h2>\n<table id=\"peek-lock\">\n");
    for (k, v) in rows {
        let _ = writeln!(t, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(&v));
    }
    t.push_str("</table>\n");
    t
}

/// Each network or broker fault: when it acted, what ran, what it cost.
fn faults(faults: &[crate::broker::real::FaultRun]) -> String {
    let mut t = String::from(
        "<h2>Faults and what they cost</h2>\n<table id=\"fault-costs\">\n<tr><th>fault</th><th>in effect</th>\
         <th>commands</th><th>cost (the window against the seconds before the first fault)</th></tr>\n",
    );
    for f in faults {
        let mut commands: Vec<String> = f
            .commands
            .iter()
            .map(|c| format!("{} ({}, {} ms)", c.command, if c.ok { "ok" } else { "FAILED" }, c.wall_ms))
            .collect();
        if let Some(x) = &f.toxic {
            commands.push(format!(
                "proxy: {} connection(s) affected, {} chunks delayed, {} reset, {} closed, {} held",
                x.connections_affected, x.chunks_delayed, x.connections_reset, x.connections_closed, x.bytes_held
            ));
        }
        let mut cost = f.cost_line();
        if let Some(e) = &f.error {
            cost.push_str(&format!(" · error: {e}"));
        }
        if !f.restored {
            cost.push_str(" · the broker was NOT put back as it was found");
        }
        let _ = writeln!(
            t,
            "<tr><td>faults[{}] {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            f.index,
            escape(&f.kind),
            escape(&f.when()),
            escape(&commands.join("; ")),
            escape(&cost)
        );
    }
    t.push_str("</table>\n");
    t
}

/// Header line: seed, broker, clock, duration.
pub fn meta_line(run: &RunData) -> String {
    let s = &run.summary;
    let mut clock = format!("{} clock", s.clock);
    if s.clock == "real" && s.time_scale != 1.0 {
        clock.push_str(&format!(" ×{}", fmt_num(s.time_scale)));
    }
    format!(
        "seed {} · {} broker · {clock} · {} s of scenario time{} · scenario {}",
        s.seed,
        s.broker,
        fmt_num(s.duration_s),
        match (&s.stopped_by, s.stopped_by_duration_limit) {
            (Some(stop), _) => format!(" (stopped early: {})", escape(&stop.message)),
            (None, true) => " (stopped by the duration limit)".to_string(),
            (None, false) => String::new(),
        },
        &s.scenario.hash.chars().take(19).collect::<String>()
    )
}

fn summary_table(run: &RunData) -> String {
    let mut t = String::from("<table id=\"summary-table\">\n<tr><th>metric</th><th>key</th><th>value</th></tr>\n");
    for (k, v) in metrics::ordered(&flat::flatten(&run.summary)) {
        let _ = writeln!(
            t,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td></tr>",
            escape(&metrics::label(&k)),
            escape(&k),
            escape(&crate::compare::show(&k, &v))
        );
    }
    t.push_str("</table>\n");
    t
}

/// The page's table of contents (the sections every run page has).
const TOC: &str = "<nav id=\"toc\"><a href=\"#key-figures-h\">Key figures</a> · <a href=\"#accounting\">Message \
                   accounting</a> · <a href=\"#interactive\">Charts</a> · <a href=\"#static-charts\">Static charts</a> · \
                   <a href=\"#summary\">Summary</a> · <a href=\"#scenario-toml\">Scenario</a></nav>\n";

/// The gate's verdict, when the run was gated (`gate.json`, written by `loadtest gate` or `run --baseline`): the
/// failed checks first, then every check.
fn gate_verdict(run: &RunData) -> Option<String> {
    let text = std::fs::read_to_string(run.dir.join(crate::commands::gate::GATE_JSON)).ok()?;
    let o: crate::gate::Outcome = serde_json::from_str(&text).ok()?;
    let failed = o.failed();
    let (class, word) = if failed.is_empty() { ("ok", "passed") } else { ("bad", "failed") };
    let mut b = format!(
        "<section id=\"gate\">\n<h2>Gate</h2>\n<p class=\"verdict {class}\">Gate {word}: {} of {} checks failed{}</p>\n",
        failed.len(),
        o.checks.len(),
        o.baseline.as_ref().map_or(String::new(), |b| format!(" (against baseline {})", escape(b)))
    );
    if !failed.is_empty() {
        b.push_str("<ul>\n");
        for c in &failed {
            let _ = writeln!(b, "<li>{}</li>", escape(&c.message()));
        }
        b.push_str("</ul>\n");
    }
    b.push_str(
        "<details><summary>Every check</summary>\n<table id=\"gate-checks\">\n<tr><th></th><th>check</th>\
                <th>metric</th><th>value</th><th>limit / baseline</th><th>note</th></tr>\n",
    );
    for c in &o.checks {
        let _ = writeln!(
            b,
            "<tr><td class=\"{}\">{}</td><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td>{}</td>\
             <td>{}</td></tr>",
            if c.passed { "ok" } else { "bad" },
            if c.passed { "pass" } else { "FAIL" },
            c.kind.as_str(),
            escape(&c.metric),
            escape(&c.value),
            escape(&c.limit),
            escape(&c.note)
        );
    }
    b.push_str("</table>\n</details>\n</section>\n");
    Some(b)
}

/// The whole `index.html`.
pub fn index(run: &RunData) -> Result<String, ChartError> {
    let svgs = super::charts().iter().map(|c| c.svg(run)).collect::<Result<Vec<String>, _>>()?;
    let png =
        |c: &&dyn super::Chart<RunData>| run.dir.join(super::CHARTS_DIR).join(format!("{}.png", c.name())).exists();
    index_with(run, &svgs, super::charts().iter().all(png))
}

/// `index` with the charts' SVGs already drawn (`svgs`, in the order of `charts()`); `pngs`: the folder holds their
/// PNG copies too, and the page links them.
pub fn index_with(run: &RunData, svgs: &[String], pngs: bool) -> Result<String, ChartError> {
    let s = &run.summary;
    let mut b = String::new();
    let _ = writeln!(b, "<header>\n<h1>{}</h1>", escape(&s.scenario.name));
    if !run.scenario.description.is_empty() {
        let _ = writeln!(b, "<p class=\"desc\">{}</p>", escape(&run.scenario.description));
    }
    let _ = writeln!(b, "<p class=\"meta\">{}</p>\n</header>", escape(&meta_line(run)));

    let warnings = s.warnings();
    if !warnings.is_empty() {
        b.push_str("<ul id=\"warnings\">\n");
        for w in warnings {
            let _ = writeln!(b, "<li><b>Warning:</b> {}</li>", escape(&w));
        }
        b.push_str("</ul>\n");
    }
    b.push_str(TOC);
    if let Some(g) = gate_verdict(run) {
        b.push_str(&g);
    }
    b.push_str("<h2 id=\"key-figures-h\">Key figures</h2>\n<div class=\"cards\" id=\"key-figures\">");
    let d = &s.downstream;
    if d.capacity_per_s > 0.0 {
        card(&mut b, "peak offered load / capacity", &format!("{}×", fmt_num(d.peak_offered_ratio)), "");
        card(&mut b, "overload waves", &s.overload_waves.to_string(), "");
        card(&mut b, "downstream crashes", &d.crashes.to_string(), if d.crashes > 0 { "bad" } else { "" });
    }
    if let Some(end) = s.faults_end_s {
        let rec = match s.recovery_s {
            _ if end > s.duration_s => "- (a fault was still on at the end)".to_string(),
            None => "never".to_string(),
            Some(r) => format!("{} s", fmt_num(r)),
        };
        card(&mut b, "recovery after the faults", &rec, if s.recovery_s.is_none() { "bad" } else { "" });
    }
    card(&mut b, "amplification (attempts per message)", &fmt_num(s.amplification), "");
    let p99 = if s.latency_ms.count == 0 { "-".to_string() } else { fmt_ms(s.latency_ms.p99) };
    card(&mut b, "p99 latency", &p99, "");
    card(&mut b, "completed", &fmt_tick(s.messages.completed as f64), "");
    let dl = s.messages.dead_lettered.total;
    card(&mut b, "dead-lettered", &fmt_tick(dl as f64), if dl > 0 { "bad" } else { "" });
    card(&mut b, "lost", &s.messages.lost.to_string(), if s.messages.lost > 0 { "bad" } else { "ok" });
    if let Some(o) = &s.ordering {
        let key = format!("ordering violations ({} keys, {} consumers)", o.keys, o.mode);
        card(&mut b, &key, &fmt_tick(o.violations as f64), if o.violations > 0 { "bad" } else { "ok" });
        card(&mut b, "peak key backlog (per-key lag)", &o.peak_key_backlog.to_string(), "");
    }
    resilience_cards(&mut b, s);
    b.push_str("</div>\n");

    b.push_str("<h2 id=\"accounting\">Message accounting</h2>\n");
    b.push_str(&accounting(run));
    if let Some(p) = &s.servicebus {
        b.push_str(&peek_lock(p));
    }
    if let Some(r) = &s.real_broker {
        b.push_str(&real_broker(r));
    }

    let _ = write!(
        b,
        "<h2 id=\"interactive\">Charts</h2>\n<p class=\"meta\">Hover for the values at a time (the raw metric \
         values, in the unit the legend names); drag to zoom, double-click to reset; click a legend entry to hide it. \
         Amber bands: the scenario's faults; grey: the service was down.{} Exact per-second data: \
         <a href=\"timeseries.csv\">timeseries.csv</a>.</p>\n",
        if s.downstream.circuit_breaker_opened > 0 {
            " Teal strip along the top: a circuit breaker was open or half-open."
        } else {
            ""
        }
    );
    let faults = super::chart::fault_windows(run);
    b.push_str(&super::explore::section(&run.explore.clone().finish(&faults)));

    let _ = writeln!(
        b,
        "<h2 id=\"static-charts\">Static charts</h2>\n<details id=\"charts\">\n<summary>The exported {} charts \
         (for READMEs and tickets)</summary>",
        if pngs { "SVG and PNG" } else { "SVG" }
    );
    for (c, svg) in super::charts().into_iter().zip(svgs) {
        let mut links = vec![(format!("{}/{}.svg", super::CHARTS_DIR, c.name()), "SVG".to_string())];
        if pngs {
            links.push((format!("{}/{}.png", super::CHARTS_DIR, c.name()), "PNG".to_string()));
        }
        b.push_str(&figure(&format!("chart-{}", c.name()), c.title(), svg, &links));
    }
    b.push_str("</details>\n");

    b.push_str("<h2 id=\"summary\">Summary</h2>\n");
    b.push_str(&summary_table(run));
    b.push_str("<h2 id=\"scenario-toml\">Scenario (resolved configuration)</h2>\n");
    let _ = writeln!(b, "<pre id=\"scenario\">{}</pre>", escape(&run.scenario_toml));
    let _ = writeln!(
        b,
        "<p class=\"meta\">Rendered by loadtest {} from the report folder's summary.json, timeseries.csv, latency.hgrm \
         and scenario.toml (<code>loadtest report DIR</code> renders it again).</p>",
        env!("CARGO_PKG_VERSION")
    );
    page_with(&format!("loadtest · {} · seed {}", s.scenario.name, s.seed), &b, &super::explore::csp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }
}
