//! `loadtest report RUN_DIR`: renders a run's charts and HTML page again from its recorded data, without re-running.

use crate::cli::ReportArgs;
use crate::exit::Failure;
use crate::export::{self, ExportError, RunData};

pub fn report(args: &ReportArgs) -> Result<(), Failure> {
    let run = RunData::load(&args.run_dir).map_err(|e| Failure::input(e.to_string()))?;
    let written = export::render(&run, &args.run_dir, !args.no_png).map_err(|e| match e {
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
