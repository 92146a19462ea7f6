//! The progress bar of `loadtest run` (indicatif): messages done, rate, ETA. Shown only for runs that last more
//! than a moment, on a terminal, without `NO_COLOR` or `--quiet`.

use crate::sim::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Runs shorter than this never show a bar.
const SHOW_AFTER: Duration = Duration::from_millis(300);

/// Whether a bar may be drawn at all: stdout is a terminal, `NO_COLOR` is unset and the user did not ask for quiet.
pub fn wanted(quiet: bool) -> bool {
    !quiet && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// A bar that stays hidden until the run has taken `SHOW_AFTER`, then draws on stderr.
pub struct Bar {
    bar: Option<ProgressBar>,
    started: Instant,
    visible: bool,
}

impl Bar {
    pub fn new(enabled: bool, total: u64) -> Bar {
        let bar = enabled.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} messages  {rate}  ETA {eta}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("rate", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} msg/s", s.per_sec());
            });
            bar.set_style(style);
            bar
        });
        Bar { bar, started: Instant::now(), visible: false }
    }

    /// The callback for `sim::run_with_progress`.
    pub fn update(&mut self, p: Progress) {
        let Some(bar) = &self.bar else { return };
        if !self.visible && self.started.elapsed() >= SHOW_AFTER {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            self.visible = true;
        }
        bar.set_length(p.total);
        bar.set_position(p.done.min(p.total));
        if self.visible {
            bar.set_message(format!("scenario time {:.0} s", p.now as f64 / crate::time::NS_PER_SEC as f64));
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
