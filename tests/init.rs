//! `loadtest init`, `completions` and `man`: every starter validates and the embedded ones run to a complete
//! report; init never overwrites; the completion scripts and the man page come out of the command line itself.

use predicates::prelude::*;
use tempfile::TempDir;

mod common;
use common::loadtest;

fn summary(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn every_starter_validates_and_the_embedded_ones_run_with_every_message_accounted_for() {
    let tmp = TempDir::new().unwrap();
    for name in ["steady", "retry-storm", "breaker", "autoscale", "produce-only"] {
        loadtest()
            .current_dir(tmp.path())
            .args(["init", name])
            .assert()
            .success()
            .stdout(predicate::str::contains(format!("wrote {name}.toml")));
        let file = tmp.path().join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&file).unwrap();
        // The editor's schema line, then the comments.
        assert!(text.starts_with("#:schema ./loadtest.schema.json\n# "), "{name}: a starter opens with comments");
        loadtest().arg("validate").arg(&file).assert().success();
    }
    // produce-only needs a real broker: the rest run here, to the end, with every message accounted for.
    for (name, messages) in [("breaker", 20_000), ("autoscale", 30_000)] {
        let out = tmp.path().join(format!("run-{name}"));
        loadtest()
            .arg("run")
            .arg(tmp.path().join(format!("{name}.toml")))
            .arg("-q")
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let s = summary(&out);
        let m = &s["messages"];
        assert_eq!(m["published"], messages, "{name}");
        assert_eq!(m["accounted"], true, "{name}: {m}");
        assert_eq!(m["lost"], 0, "{name}");
        match name {
            "breaker" => assert!(s["downstream"]["circuit_breaker_opened"].as_u64().unwrap() > 0, "the spike trips it"),
            _ => assert!(
                s["consumers"]["peak"].as_u64().unwrap() > 1,
                "the burst scales the pool out: {}",
                s["consumers"]
            ),
        }
    }
}

#[test]
fn init_never_overwrites_and_names_the_templates_it_has() {
    let tmp = TempDir::new().unwrap();
    std::fs::write(tmp.path().join("steady.toml"), "mine").unwrap();
    loadtest()
        .current_dir(tmp.path())
        .arg("init")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("steady.toml exists; init never overwrites"));
    assert_eq!(std::fs::read_to_string(tmp.path().join("steady.toml")).unwrap(), "mine");
    loadtest().current_dir(tmp.path()).args(["init", "breaker", "--out", "mine.toml"]).assert().success();
    assert!(std::fs::read_to_string(tmp.path().join("mine.toml")).unwrap().contains("name = \"breaker\""));
    loadtest()
        .current_dir(tmp.path())
        .args(["init", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("steady, retry-storm, breaker, autoscale, produce-only"));
}

#[test]
fn completions_and_the_man_page_cover_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = loadtest().args(["completions", shell]).assert().success().get_output().stdout.clone();
        let text = String::from_utf8(out).unwrap();
        for sub in ["run", "validate", "compare", "gate", "baseline", "dlq", "init"] {
            assert!(text.contains(sub), "{shell} completions lack {sub}");
        }
    }
    // The bash script parses, and sourcing it registers the completion.
    let tmp = TempDir::new().unwrap();
    let script = tmp.path().join("loadtest.bash");
    std::fs::write(&script, loadtest().args(["completions", "bash"]).assert().success().get_output().stdout.clone())
        .unwrap();
    let syntax = std::process::Command::new("bash").arg("-n").arg(&script).output().unwrap();
    assert!(syntax.status.success(), "bash -n: {}", String::from_utf8_lossy(&syntax.stderr));
    let check = format!("source '{}' && complete -p loadtest", script.display());
    let registered = std::process::Command::new("bash").args(["-c", &check]).output().unwrap();
    let line = String::from_utf8_lossy(&registered.stdout);
    assert!(registered.status.success() && line.contains("loadtest"), "complete -p: {line}");
    let out = loadtest().arg("man").assert().success().get_output().stdout.clone();
    let page = String::from_utf8(out).unwrap();
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "roff: {}", &page[..40.min(page.len())]);
    assert!(page.contains(".TH loadtest 1"), "the page's title line");
    loadtest().args(["completions", "tcsh"]).assert().code(2);
}
