//! `producers.keys`, `producers.key_distribution` and `consumers.ordering`: message keys and keyed consumption,
//! their defaults (no keys, uniform, competing consumers) and the rules between them.

use super::super::keys::MAX_KEYS;
use super::super::node::{Node, NodeValue};
use super::super::reader::{Errs, TableReader};
use super::super::*;

/// `keys` and `key_distribution` of `[producers]`.
pub(super) fn keys(r: &mut TableReader) -> (Option<u64>, KeyDistribution) {
    // read from 0 so that 0 gets its own message; the schema says 1..
    super::super::schema::note(&r.path, "keys", super::super::schema::Ty::Int(1, MAX_KEYS));
    let keys = r.u64_in("keys", 0, MAX_KEYS);
    if let (Some(0), Some(node)) = (keys, r.peek("keys")) {
        let fix = "0 keys leaves the messages no key to carry; set the number of partition / session keys (at least \
                   1, e.g. 100), or remove producers.keys for messages without keys";
        r.errs.bad_value(&r.child("keys"), node, fix);
    }
    let dist = r.with("key_distribution", key_distribution);
    if let (Some(_), None, true) = (dist, keys, r.errs.clean(&["producers.keys"])) {
        let m = "producers.key_distribution says how message keys are drawn, but producers.keys is not set, so the \
                 messages carry none; set producers.keys (e.g. 100) or remove key_distribution";
        r.error("key_distribution", m.to_string());
    }
    (keys.filter(|&k| k > 0), dist.unwrap_or_default())
}

fn key_distribution(errs: &Errs, node: &Node, path: &str) -> Option<KeyDistribution> {
    let expected = "\"uniform\" or a table like { zipf = 1.1 }";
    match &node.value {
        NodeValue::Str(s) if s == "uniform" => return Some(KeyDistribution::Uniform),
        NodeValue::Str(_) => return errs.wrong_type(node, path, expected),
        _ => {}
    }
    let mut t = errs.table(node, path, expected)?;
    t.require("zipf", "1.1");
    let range = "must be greater than 0 and at most 100 (the Zipf exponent: 1 is the classic law, higher is hotter)";
    let s = t.f64_where("zipf", |v| v > 0.0 && v <= 100.0, range);
    t.finish();
    s.map(KeyDistribution::Zipf)
}

/// `consumers.ordering = "keyed"` needs keys to order by.
pub(super) fn rules(errs: &Errs, tree: &Node, producers: &ProducerCfg, consumers: &ConsumerCfg) {
    if consumers.ordering == KeyOrdering::Keyed && producers.keys.is_none() && errs.clean(&["producers.keys"]) {
        let m = "consumers.ordering = \"keyed\" handles one message of a key at a time, but the messages carry no \
                 key; set producers.keys (e.g. 100), or remove consumers.ordering for competing consumers";
        let at = tree.get_path(&["consumers", "ordering"]);
        errs.at("consumers.ordering", at, tree.get("consumers"), m.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{load, problems};
    use super::*;

    #[test]
    fn keys_take_their_defaults_and_read_back_from_the_resolved_scenario() {
        let s = load("", &[]).expect("loads");
        assert_eq!((s.producers.keys, s.producers.key_distribution), (None, KeyDistribution::Uniform));
        assert_eq!(s.consumers.ordering, KeyOrdering::Competing);
        let toml = s.to_toml();
        assert!(!toml.contains("keys") && !toml.contains("ordering"), "{toml}");
        let text = "[producers]\nkeys = 100\nkey_distribution = { zipf = 1.1 }\n[consumers]\nordering = \"keyed\"\n";
        let s = load(text, &[]).expect("loads");
        assert_eq!((s.producers.keys, s.producers.key_distribution), (Some(100), KeyDistribution::Zipf(1.1)));
        assert_eq!(s.consumers.ordering, KeyOrdering::Keyed);
        let toml = s.to_toml();
        assert_eq!(load(&toml, &[]).expect("the resolved scenario loads back"), s, "{toml}");
        let s = load("[producers]\nkeys = 8\nkey_distribution = \"uniform\"\n", &[]).expect("loads");
        assert_eq!(load(&s.to_toml(), &[]).unwrap(), s);
    }

    #[test]
    fn bad_keys_name_the_key_the_line_and_the_fix() {
        assert_eq!(
            problems("[producers]\nkeys = 0\n", &[]),
            ["line 2: `producers.keys = 0`: 0 keys leaves the messages no key to carry; set the number of partition \
              / session keys (at least 1, e.g. 100), or remove producers.keys for messages without keys"]
        );
        assert_eq!(
            problems(
                "[producers]\nkeys = 10\nkey_distribution = { zipf = 0 }\n[consumers]\nordering = \"fifo\"\n",
                &[]
            ),
            [
                "line 3: `producers.key_distribution.zipf = 0`: must be greater than 0 and at most 100 (the Zipf \
                 exponent: 1 is the classic law, higher is hotter), got 0",
                "line 5: `consumers.ordering = \"fifo\"`: expected one of \"competing\", \"keyed\"",
            ]
        );
        assert_eq!(
            problems("[producers]\nkey_distribution = \"zipf\"\n", &[]),
            ["line 2: `producers.key_distribution = \"zipf\"`: expected \"uniform\" or a table like { zipf = 1.1 }, \
              got \"zipf\""]
        );
        assert_eq!(
            problems("[producers]\nkey_distribution = { zipf = 1.5 }\n", &[]),
            ["line 2: producers.key_distribution says how message keys are drawn, but producers.keys is not set, so \
              the messages carry none; set producers.keys (e.g. 100) or remove key_distribution"]
        );
        assert_eq!(
            problems("[consumers]\ncount = 2\nordering = \"keyed\"\n", &[]),
            ["line 3: consumers.ordering = \"keyed\" handles one message of a key at a time, but the messages carry \
              no key; set producers.keys (e.g. 100), or remove consumers.ordering for competing consumers"]
        );
    }
}
