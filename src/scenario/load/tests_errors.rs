//! Errors that name what is wrong and how to fix it: duplicate keys, integers beyond TOML's range, files that are
//! not UTF-8, keys too long to show, faults of an unknown kind, `--set KEY=null`, and `[broker]` values never shown.

use super::super::*;

use super::tests::{load, problems};

#[test]
fn a_duplicate_key_is_named_by_its_path_with_both_lines_and_the_fix() {
    let fix = "remove one of them";
    for (text, expected) in [
        (
            "messages = 1\nseed = 2\nmessages = 3\n",
            "line 3: duplicate key `messages`: set on line 1 and again on line 3",
        ),
        (
            "[consumers]\ncount = 1\n\n[queue]\n[consumers]\n",
            "line 5: duplicate key `consumers`: set on line 1 and again on line 5",
        ),
        (
            "[[faults]]\nkind = \"outage\"\n[[faults]]\nkind = \"outage\"\nat = \"1s\"\nat = \"2s\"\n",
            "line 6: duplicate key `faults[1].at`: set on line 5 and again on line 6",
        ),
        (
            "[producers]\nrate = { shape = \"poisson\",\n  shape = \"constant\" }\n",
            "line 3: duplicate key `producers.rate.shape`: set on line 2 and again on line 3",
        ),
        (
            "[thresholds]\n\"latency_ms.p99\" = \"< 5\"\n\"latency_ms.p99\" = \"< 9\"\n",
            "line 3: duplicate key `thresholds.\"latency_ms.p99\"`: set on line 2 and again on line 3",
        ),
    ] {
        assert_eq!(problems(text, &[]), [format!("{expected}; {fix}")], "{text}");
    }
}

#[test]
fn an_integer_beyond_toml_is_named_by_its_key_with_tomls_range_and_the_keys() {
    let toml = "TOML integers are -9223372036854775808..=9223372036854775807 (-2^63..2^63-1)";
    let fix = "write a number in that range";
    assert_eq!(
        problems("messages = 99999999999999999999\n", &[]),
        [format!("line 1: `messages`: the integer is out of range: {toml}, and `messages` takes 1..=9223372036854775807; {fix}")]
    );
    assert_eq!(
        problems("[consumers]\nconcurrency = 2\ncount = -99999999999999999999\n", &[]),
        [format!("line 3: `consumers.count`: the integer is out of range: {toml}, and `consumers.count` takes 0..=10000; {fix}")]
    );
    // A key that is not an integer key (per_second takes any positive number): TOML's range only.
    assert_eq!(
        problems("[producers]\nrate = { shape = \"poisson\", per_second = 1_000_000_000_000_000_000_000 }\n", &[]),
        [format!("line 2: `producers.rate.per_second`: the integer is out of range: {toml}; {fix}")]
    );
}

#[test]
fn a_file_that_is_not_utf8_is_refused_with_the_line_and_byte_offset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("latin1.toml");
    std::fs::write(&path, b"messages = 7\ndescription = \"caf\xe9\"\n").expect("write");
    let e = load_file(&path, &[]).expect_err("not UTF-8");
    assert_eq!(e.errors.len(), 1);
    assert_eq!(
        e.errors[0].message,
        format!(
            "cannot read {}: it is not UTF-8 text: line 2 has the invalid byte 0xe9 at byte offset 31 (byte 19 of \
             the line); save the file as UTF-8",
            path.display()
        )
    );
}

#[test]
fn keys_are_cut_as_values_are() {
    let long = "k".repeat(50_000);
    let cut = format!("{}...", "k".repeat(60));
    let p = problems(&format!("[consumers]\n{long} = 1\n"), &[&format!("{long}=1")]);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].starts_with(&format!("line 2: unknown key `{cut}` in [consumers]; valid keys: count")), "{}", p[0]);
    assert!(p[1].starts_with(&format!("--set {cut}: unknown key `{cut}` in the top level;")), "{}", p[1]);
    assert!(p.iter().all(|m| m.len() < 400), "{p:?}");
    let p = problems("", &[&format!("{long}.x.y")]);
    assert_eq!(p, [format!("--set {cut}: missing `=`; write --set key.path=value, e.g. --set consumers.count=8")]);
}

#[test]
fn a_fault_of_unknown_kind_still_has_its_shared_keys_checked() {
    let text = "[[faults]]\nkind = \"outag\"\nat = 5\nduration = \"-1s\"\n[[faults]]\nduration = \"0s\"\n";
    let p = problems(text, &[]);
    assert_eq!(p.len(), 6, "{p:#?}");
    assert!(p[0].starts_with("line 2: `faults[0].kind = \"outag\"`: expected one of \"outage\""), "{}", p[0]);
    assert_eq!(p[1], "line 3: `faults[0].at = 5`: expected a duration string like \"30s\", got 5");
    assert!(p[2].starts_with("line 4: `faults[0].duration = \"-1s\"`: `-1s` is not a duration"), "{}", p[2]);
    assert_eq!(p[3], "line 5: faults[1] is missing the required key `kind`; add e.g. kind = \"outage\"");
    assert_eq!(p[4], "line 5: faults[1] is missing the required key `at`; add e.g. at = \"1m\"");
    assert_eq!(p[5], "line 6: `faults[1].duration = \"0s\"`: must be greater than 0, got \"0s\"");
}

const WITH_DOWNSTREAM: &str = "[downstream]\ntimeout = \"2s\"\nqueue_limit = 10\n[retry]\njitter = \"full\"\n\
                               [[faults]]\nkind = \"outage\"\nat = \"1s\"\nduration = \"1s\"\n\
                               [[faults]]\nkind = \"latency-spike\"\nat = \"5s\"\nduration = \"1s\"\nfactor = 3\n";

#[test]
fn set_null_removes_a_key_and_a_key_with_a_default_takes_it() {
    let s = load(WITH_DOWNSTREAM, &[]).expect("loads");
    let d = s.downstream.as_ref().expect("downstream");
    assert_eq!(
        (d.timeout, d.queue_limit, s.retry.jitter, s.faults.len()),
        (Some(Dur::from_secs(2)), Some(10), Jitter::Full, 2)
    );
    let s = load(WITH_DOWNSTREAM, &["downstream.timeout=null", "downstream.queue_limit = null ", "retry.jitter=null"])
        .expect("loads");
    let d = s.downstream.as_ref().expect("downstream");
    assert_eq!((d.timeout, d.queue_limit, s.retry.jitter), (None, None, Jitter::None));
    // An array element goes, and the next takes its index; a whole table goes.
    let s = load(WITH_DOWNSTREAM, &["faults.0=null", "faults.0.factor=5"]).expect("loads");
    assert_eq!(s.faults.len(), 1);
    assert!(matches!(s.faults[0], Fault::LatencySpike { factor, .. } if factor == 5.0), "{:?}", s.faults);
    let s = load(WITH_DOWNSTREAM, &["faults=null", "downstream=null"]).expect("loads");
    assert_eq!((s.faults.len(), s.downstream.is_none()), (0, true));
    // Nothing there: nothing changes, and no table is made on the way.
    assert_eq!(load(WITH_DOWNSTREAM, &["circuit_breaker.break=null", "faults.7=null"]), load(WITH_DOWNSTREAM, &[]));
    assert!(load(WITH_DOWNSTREAM, &["circuit_breaker.break=null"]).expect("loads").circuit_breaker.is_none());
    // Quoted, it is the string "null".
    assert_eq!(
        problems(WITH_DOWNSTREAM, &["retry.jitter=\"null\""]),
        ["--set retry.jitter: expected one of \"none\", \"full\", \"equal\", \"decorrelated\", \"proportional\""]
    );
}

#[test]
fn set_null_on_a_required_key_gives_the_missing_key_error() {
    assert_eq!(
        problems(WITH_DOWNSTREAM, &["faults.1.factor=null", "faults.0.at=null"]),
        [
            "line 6: faults[0] (kind = \"outage\") is missing the required key `at`; add e.g. at = \"1m\"",
            "line 10: faults[1] (kind = \"latency-spike\") is missing the required key `factor`; add e.g. factor = 10",
        ]
    );
    assert_eq!(
        problems(WITH_DOWNSTREAM, &["downstream.timeout.x=null"]),
        ["--set downstream.timeout.x: `downstream.timeout` is a string, so it has no key `x` to remove"]
    );
}

const SECRET: &str = "s3cr3t";

#[test]
fn broker_values_are_never_shown_in_errors() {
    let url = format!("amqp://u:{SECRET}@h");
    let text = format!(
        "[broker]\nkind = \"{url}\"\ntls = \"{url}\"\nconnect_timeout = \"{url}\"\nurl = [\"{url}\"]\n\
         time_scale = 1e9\nsemantics = [\"{url}\"]\n"
    );
    let never = "([broker] values are never shown)";
    assert_eq!(
        problems(&text, &[]),
        [
            format!("line 2: `broker.kind`: expected one of \"embedded\", \"rabbitmq\", \"servicebus\" {never}"),
            format!("line 3: `broker.tls`: expected a table, got a string of 17 characters {never}"),
            format!("line 4: `broker.connect_timeout`: is not a duration; write e.g. \"250ms\", \"30s\", \"5m\", \"1h30m\" {never}"),
            "line 5: broker.url must be a string like \"amqp://host:5672/%2f\"".to_string(),
            format!("line 6: `broker.time_scale`: must be greater than 0 and at most 1000000, got a float {never}"),
            format!("line 7: `broker.semantics`: expected one of \"rabbitmq\", \"servicebus\", got an array of 1 element {never}"),
        ]
    );
    assert_eq!(
        problems(&format!("broker = \"{url}\"\n"), &[]),
        [format!("line 1: `broker`: expected a table, got a string of 17 characters {never}")]
    );
    let sets = [
        format!("broker.url:{url}"),
        format!("broker.url:{SECRET}"),
        format!("broker..url={url}"),
        format!("broker.tls={url}"),
        format!("broker.kind={SECRET}"),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let hidden = "(the rest of the flag is not shown: a [broker] value may hold a password)";
    assert_eq!(
        problems("", &sets),
        [
            format!("--set broker.url: missing `=` {hidden}; write --set key.path=value, e.g. --set consumers.count=8"),
            format!("--set broker.url: missing `=` {hidden}; write --set key.path=value, e.g. --set consumers.count=8"),
            "--set broker..url: empty part in the key path; separate keys with single dots, e.g. --set \
             producers.rate.per_second=50"
                .to_string(),
            "--set broker.kind: expected one of \"embedded\", \"rabbitmq\", \"servicebus\"".to_string(),
            "--set broker.tls: expected a table, got a string of 17 characters".to_string(),
        ]
    );
}

#[test]
fn the_resolved_scenario_masks_every_secret_form() {
    for (url, masked) in [
        ("user:s3cr3t@host:5672", "user:****@host:5672"),
        ("amqp://s3cr3t@host/", "amqp://****@host/"),
        ("amqps://u:s3cr3t@host/v", "amqps://u:****@host/v"),
        (
            "Endpoint=sb://n.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s3cr3t",
            "Endpoint=sb://n.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=****",
        ),
        (
            "Endpoint=sb://n/;SharedAccessSignature=SharedAccessSignature sr=n&sig=s3cr3t",
            "Endpoint=sb://n/;SharedAccessSignature=****",
        ),
    ] {
        let s = load(&format!("[broker]\nurl = \"{url}\"\n"), &[]).expect("the embedded broker takes any url");
        assert_eq!(s.broker.url.as_deref(), Some(url), "the run itself has the secret");
        let toml = s.to_toml();
        assert!(toml.contains(&format!("url = \"{masked}\"")) && !toml.contains(SECRET), "{toml}");
        let back = load(&toml, &[]).expect("the resolved scenario loads back");
        assert_eq!(back.to_toml(), toml);
    }
}
