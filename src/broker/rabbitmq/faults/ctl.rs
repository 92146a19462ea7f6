//! `rabbitmqctl`, run for a fault: found on the PATH (or where Debian puts it), bounded in time (a stuck CLI is
//! killed), its output summarised in one line without anything secret (the CLI never sees the run's password).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A CLI call that has not ended after this is killed and reported as failed (each call takes 1.4-4.5 s here,
/// `stop_app` up to 8 s).
const LIMIT: Duration = Duration::from_secs(90);

pub use crate::broker::real::CommandRun;

#[derive(Clone, Debug)]
pub struct Ctl {
    bin: PathBuf,
}

impl Ctl {
    /// `rabbitmqctl` from `--rabbitmqctl`, else the PATH, else the usual install places.
    pub fn find(given: Option<&Path>) -> Ctl {
        if let Some(p) = given {
            return Ctl { bin: p.to_path_buf() };
        }
        let on_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).map(|d| d.join("rabbitmqctl")).collect::<Vec<_>>())
            .unwrap_or_default();
        let usual = ["/usr/sbin/rabbitmqctl", "/usr/lib/rabbitmq/bin/rabbitmqctl", "/opt/rabbitmq/sbin/rabbitmqctl"];
        let bin = on_path
            .into_iter()
            .chain(usual.iter().map(PathBuf::from))
            .find(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from("rabbitmqctl"));
        Ctl { bin }
    }

    pub fn program(&self) -> String {
        self.bin.display().to_string()
    }

    /// Runs `rabbitmqctl args...`; stdout when it succeeded.
    pub fn run(&self, args: &[&str], log: &mut Vec<CommandRun>) -> Result<String, String> {
        let command = format!("rabbitmqctl {}", args.join(" "));
        let start = Instant::now();
        let result = self.call(args);
        let wall_ms = start.elapsed().as_millis() as u64;
        let (ok, error) = match &result {
            Ok(_) => (true, String::new()),
            Err(e) => (false, e.clone()),
        };
        log.push(CommandRun { command, ok, wall_ms, error });
        result
    }

    fn call(&self, args: &[&str]) -> Result<String, String> {
        let mut child = Command::new(&self.bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e} (pass --rabbitmqctl PATH)", self.bin.display()))?;
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if start.elapsed() > LIMIT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("did not end within {} s and was killed", LIMIT.as_secs()));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("waiting for it failed: {e}")),
            }
        }
        let out = child.wait_with_output().map_err(|e| format!("reading its output failed: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        if out.status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr.lines().chain(stdout.lines()).map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
        Err(format!("exited with {}: {}", out.status, line.chars().take(300).collect::<String>()))
    }
}
