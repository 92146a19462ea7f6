//! `loadtest baseline save RUN_DIR NAME`: stores a run as a baseline for `loadtest gate --baseline`.

use crate::cli::BaselineCommand;
use crate::exit::Failure;

pub fn baseline(cmd: &BaselineCommand) -> Result<(), Failure> {
    match cmd {
        BaselineCommand::Save(a) => {
            let dest = crate::gate::baseline::save(&a.run, &a.name, &a.root, a.force, a.with_timeseries)
                .map_err(Failure::input)?;
            let mut files: Vec<String> = walk(&dest).into_iter().collect();
            files.sort();
            crate::outln!("saved baseline `{}` to {} ({})", a.name, dest.display(), files.join(", "));
            crate::outln!("commit it, and say in the commit message why the baseline changed");
            Ok(())
        }
    }
}

/// Files under `dir`, relative to it.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            let sub = e.file_name().to_string_lossy().into_owned();
            out.extend(walk(&p).into_iter().map(|f| format!("{sub}/{f}")));
        } else {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out
}
