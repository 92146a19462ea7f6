//! `loadtest report RUN_DIR`: renders a run's charts and HTML page again from its recorded data, without re-running
//! (a pub/sub folder: each subscription's, then the page of all of them).

use crate::cli::ReportArgs;
use crate::exit::Failure;
use crate::export::{self, ExportError, RunData};

pub fn report(args: &ReportArgs) -> Result<(), Failure> {
    let rendered = if export::pubsub::is_pubsub(&args.run_dir) {
        export::pubsub::render_dir(&args.run_dir, !args.no_png)
    } else {
        let run = RunData::load(&args.run_dir).map_err(|e| Failure::input(e.to_string()))?;
        export::render(&run, &args.run_dir, !args.no_png)
    };
    let written = rendered.map_err(|e| match e {
        ExportError::BadReport(b) => Failure::input(b.to_string()),
        ExportError::Unwritable(why) => Failure::input(format!("{why}; nothing was written")),
        other => Failure::runtime(other.to_string()),
    })?;
    if !args.quiet {
        for p in &written {
            crate::outln!("wrote {}", p.display());
        }
    }
    crate::outln!("report: {}", args.run_dir.join(export::INDEX_HTML).display());
    Ok(())
}
