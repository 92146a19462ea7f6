//! `loadtest schema`: the committed scenarios/loadtest.schema.json is its output, every shipped scenario and
//! starter carries the `#:schema` line and validates against it (TOML read as JSON), and a file with an unknown
//! key or a value of the wrong type does not.

mod common;

use common::loadtest;
use serde_json::Value;
use std::path::PathBuf;

fn schema_text() -> String {
    let o = loadtest().arg("schema").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&schema_text()).unwrap();
    jsonschema::draft4::new(&schema).expect("a valid draft-4 schema")
}

fn as_json(toml_text: &str) -> Value {
    serde_json::to_value(toml::from_str::<toml::Value>(toml_text).unwrap()).unwrap()
}

/// The shipped scenarios and the `init` starters.
fn shipped() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["scenarios", "templates"] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 12, "{files:?}");
    files
}

#[test]
fn the_committed_schema_is_what_loadtest_schema_prints() {
    let committed = std::fs::read_to_string("scenarios/loadtest.schema.json").unwrap();
    assert_eq!(committed, schema_text(), "run `loadtest schema > scenarios/loadtest.schema.json`");
    let s: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(s["$schema"], "http://json-schema.org/draft-04/schema#");
    // Keys from every corner of the reader, with the reader's defaults and choices.
    let p = &s["properties"];
    assert_eq!(p["consumers"]["properties"]["prefetch"]["default"], 1);
    assert_eq!(p["broker"]["properties"]["kind"]["default"], "embedded");
    assert!(p["retry"]["properties"]["jitter"]["enum"].as_array().unwrap().contains(&"decorrelated".into()));
    assert!(p["faults"]["items"]["properties"]["kind"]["enum"].as_array().unwrap().contains(&"outage".into()));
    assert!(p["producers"]["properties"]["rate"]["anyOf"][0]["properties"]["steps"]["items"]["properties"]
        .get("per_second")
        .is_some());
}

#[test]
fn every_shipped_scenario_and_starter_carries_the_directive_and_validates() {
    let v = validator();
    for f in shipped() {
        let text = std::fs::read_to_string(&f).unwrap();
        let first = text.lines().next().unwrap();
        let want = if f.starts_with("scenarios") { "./" } else { "../scenarios/" };
        assert_eq!(first, format!("#:schema {want}loadtest.schema.json"), "{}", f.display());
        let errors: Vec<String> = v.iter_errors(&as_json(&text)).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", f.display());
        // The directive line is a comment to the loader too.
        let o = loadtest().arg("validate").arg(&f).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}: {}", f.display(), String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn a_starter_written_by_init_points_at_a_schema_in_its_own_folder() {
    let tmp = tempfile::TempDir::new().unwrap();
    let o = loadtest().current_dir(tmp.path()).args(["init", "breaker"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(tmp.path().join("breaker.toml")).unwrap();
    assert!(text.starts_with("#:schema ./loadtest.schema.json\n# A starter scenario"), "{text}");
}

#[test]
fn an_unknown_key_or_a_wrong_type_fails_the_schema() {
    let v = validator();
    let good = std::fs::read_to_string("scenarios/retry-storm.toml").unwrap();
    assert!(v.is_valid(&as_json(&good)));
    for (bad, why) in [
        (good.replacen("[consumers]", "[consumers]\nconcurency = 4", 1), "unknown key in a table"),
        (format!("consumer = 4\n{good}"), "unknown key at the top level"),
        (good.replacen("seed = 42", "seed = \"42\"", 1), "a string for an integer"),
        (good.replacen("seed = 42", "seed = -1", 1), "below the reader's range"),
        (format!("{good}\n[[faults]]\nkind = \"outage\"\nat = 5\n"), "a number for a duration"),
        (good.replacen("jitter = \"none\"", "jitter = \"ful\"", 1), "not one of the choices"),
    ] {
        let json = as_json(&bad);
        assert!(!v.is_valid(&json), "{why}: the schema accepted it");
    }
}
