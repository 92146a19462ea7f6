//! `loadtest runs [SCENARIO]`: the runs under the reports folder with their key figures, newest last, and the
//! `latest` link that every run into the default location updates.

use crate::cli::RunsArgs;
use crate::exit::Failure;
use crate::report;
use std::path::Path;

/// Points `<reports>/<scenario>/latest` at `dir` (a sibling folder), replacing an older link in one rename.
pub fn mark_latest(dir: &Path) {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else { return };
    let link = parent.join("latest");
    if link.exists() && !link.is_symlink() {
        return; // someone's own file or folder called `latest`: leave it
    }
    let tmp = parent.join(format!(".latest.tmp-{}", std::process::id()));
    #[cfg(unix)]
    {
        let _ = std::fs::remove_file(&tmp);
        if std::os::unix::fs::symlink(name, &tmp).is_ok() && std::fs::rename(&tmp, &link).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

pub fn runs(a: &RunsArgs) -> Result<(), Failure> {
    let scenarios: Vec<std::path::PathBuf> = match &a.scenario {
        Some(name) => vec![a.reports.join(name)],
        None => {
            let mut v: Vec<_> = std::fs::read_dir(&a.reports)
                .map_err(|e| Failure::input(format!("cannot read {}: {e}", a.reports.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "baselines"))
                .collect();
            v.sort();
            v
        }
    };
    let mut shown = 0;
    for folder in &scenarios {
        let Ok(entries) = std::fs::read_dir(folder) else {
            return Err(Failure::input(format!("no runs of that scenario: {} does not exist", folder.display())));
        };
        let latest = std::fs::read_link(folder.join("latest")).ok();
        let mut dirs: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| !p.is_symlink() && p.join(report::SUMMARY).is_file())
            .collect();
        dirs.sort();
        for dir in dirs {
            let Ok(s) = report::read_summary(&dir) else { continue };
            let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let mark = if latest.as_deref() == Some(Path::new(&name)) { "  (latest)" } else { "" };
            let m = &s.messages;
            let p99 = if s.latency_ms.count == 0 { "-".to_string() } else { report::table::human_ms(s.latency_ms.p99) };
            let recovery = match (s.faults_end_s, s.recovery_s) {
                (None, _) => "-".to_string(),
                (Some(_), Some(r)) => format!("{r:.0} s"),
                (Some(_), None) => "never".to_string(),
            };
            crate::outln!(
                "{}  published {}  completed {}  dead-lettered {}  lost {}  p99 {p99}  recovery {recovery}{mark}",
                dir.display(),
                m.published,
                m.completed,
                m.dead_lettered.total,
                m.lost
            );
            shown += 1;
        }
    }
    if shown == 0 {
        crate::outln!("no runs under {}", a.reports.display());
    }
    Ok(())
}
