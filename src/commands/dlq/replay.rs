//! `loadtest dlq replay`: moves dead letters back to a queue, at-least-once and never lossy (publish with a confirm,
//! then ack the dead-letter copy); filters, a limit, a rate, a dry run, a loop guard and a journal for reruns.

use crate::broker::rabbitmq::dlq::{Action, ReplayOpts, ReplayReport};
use crate::cli::DlqReplayArgs;
use crate::dlq::{parse_rate, record, Filter};
use crate::exit::Failure;
use crate::time::Dur;

/// The replay's options from the command line (bad input is exit 2, before anything connects).
pub fn options(a: &DlqReplayArgs) -> Result<ReplayOpts, Failure> {
    let mut filter = Filter::default();
    for f in &a.filters {
        filter.add(f).map_err(Failure::input)?;
    }
    if let Some(age) = &a.older_than {
        filter.older_than = Some(Dur::parse(age).map_err(|e| Failure::input(format!("--older-than: {e}")))?);
    }
    let rate = a.rate.as_deref().map(parse_rate).transpose().map_err(|e| Failure::input(format!("--rate {e}")))?;
    if a.max_replays == 0 {
        return Err(Failure::input("--max-replays 0 would refuse every message; give at least 1"));
    }
    Ok(ReplayOpts {
        from: a.from.clone().unwrap_or_default(),
        to: a.to.clone().unwrap_or_default(),
        filter,
        limit: a.limit,
        rate,
        dry_run: a.dry_run,
        max_replays: a.max_replays,
        journal: a.journal.clone(),
    })
}

pub fn replay(a: &DlqReplayArgs) -> Result<(), Failure> {
    let o = options(a)?;
    if let Some(dir) = &a.run {
        return from_run(dir, &o);
    }
    if o.from == o.to {
        return Err(Failure::input("--from and --to name the same queue: the messages would come straight back"));
    }
    let client = super::client(&a.broker, "replay")?;
    let verb = if o.dry_run { "would replay" } else { "replayed" };
    let mut each = |d: &crate::dlq::DeadLetter, action: Action| {
        if matches!(action, Action::WouldReplay | Action::Failed) || (o.dry_run && action == Action::SkippedGuard) {
            let what = match action {
                Action::WouldReplay => verb,
                Action::Failed => "FAILED (stays in the dead-letter queue)",
                _ => "skipped (--max-replays)",
            };
            crate::outln!(
                "{what}: id {} reason {} replays {}",
                d.id.as_deref().unwrap_or("-"),
                d.reason,
                d.replay_count
            );
        }
    };
    let (report, error) = client.replay(&o, &mut each);
    client.close();
    if let Some(e @ crate::broker::rabbitmq::dlq::DlqError::NoQueue(_)) = error {
        return Err(super::failure(e));
    }
    let text = if a.json { serde_json::to_string(&report).unwrap_or_default() } else { describe(&report, &o) };
    super::print(&format!("{text}\n"))?;
    if let Some(e) = error {
        let again = if o.journal.is_some() { "rerun with the same --journal to continue" } else { "rerun to continue" };
        return Err(Failure::runtime(format!("the replay stopped: {e}; {again}")));
    }
    if report.failed > 0 {
        return Err(Failure::runtime(format!(
            "{} message(s) could not be published; they stay in {}",
            report.failed, o.from
        )));
    }
    Ok(())
}

fn describe(r: &ReplayReport, o: &ReplayOpts) -> String {
    let moved = if o.dry_run {
        format!("dry run: {} would be replayed from {} to {} (nothing moved)", r.would_replay, o.from, o.to)
    } else {
        format!("replayed {} from {} to {}", r.replayed, o.from, o.to)
    };
    format!(
        "{moved}; examined {}, skipped {} by the filters and {} replayed {} times already (--max-replays), {} already \
         replayed before (journal: dead-letter copy acked), {} failed",
        r.examined, r.skipped_by_filter, r.skipped_by_guard, o.max_replays, r.already_replayed, r.failed
    )
}

/// A report folder records dead letters, not messages: show what these filters select (a dry run).
fn from_run(dir: &std::path::Path, o: &ReplayOpts) -> Result<(), Failure> {
    if !o.dry_run {
        return Err(Failure::input(
            "--run DIR holds the record of a run's dead letters, not the messages: add --dry-run to see what these \
             filters select; moving messages needs --from QUEUE on a broker",
        ));
    }
    if !o.filter.headers.is_empty() || o.filter.older_than.is_some() {
        return Err(Failure::input("--run DIR records no headers or death times: filter by reason, queue or id"));
    }
    let rows = record::read(dir).map_err(Failure::input)?;
    let mut selected = 0;
    let mut out = String::new();
    for (row, d) in &rows {
        if o.filter.matches(d, 0) && o.limit.is_none_or(|l| selected < l) {
            selected += 1;
            out.push_str(&format!("would replay: id {} reason {} at {:.3} s\n", row.id, row.reason, row.time_s));
        }
    }
    out.push_str(&format!("dry run: {selected} of {} recorded dead letters selected (nothing moved)\n", rows.len()));
    super::print(&out)
}
