//! Reads `[[subscriptions]]`: each one's sections are merged over the top level's (tables key by key, arrays
//! replaced) and that tree is loaded like a scenario of its own, so a subscription is checked by the same rules.

use super::super::node::{Entry, Node, NodeValue};
use super::super::reader::Errs;
use super::super::subscription::{Subscription, SECTIONS};
use super::{scenario, ScenarioError};
use crate::scenario::{BrokerCfg, BrokerKind, Fault, Overflow, QueueCfg};

/// A subscription's name becomes a folder and a metric path (`subscriptions.<name>.latency_ms.p99`).
const NAME_RULE: &str = "must be 1 to 64 letters, digits, `_` or `-` (it names a report folder and the gate's \
                         `subscriptions.<name>.` metrics)";

/// The subscriptions of the scenario `tree` (none without the key), with the rules that bind them to the top level.
pub(super) fn checked(errs: &Errs, tree: &Node, broker: &BrokerCfg, queue: &QueueCfg) -> Vec<Subscription> {
    let Some(node) = tree.get("subscriptions") else { return Vec::new() };
    if broker.kind == BrokerKind::Servicebus {
        let message = "[[subscriptions]] runs on the embedded broker and on RabbitMQ; on Service Bus (broker.kind = \
                       \"servicebus\") it is not built yet; run it with broker.kind = \"embedded\" (add \
                       broker.semantics = \"servicebus\" for peek-lock) or \"rabbitmq\""
            .to_string();
        errs.at("subscriptions", Some(node), None, message);
        return Vec::new();
    }
    let subs = read(errs, node, "subscriptions", tree, &queue.name).unwrap_or_default();
    for (i, s) in subs.iter().enumerate() {
        if s.queue.overflow == Overflow::Block {
            let message = format!(
                "subscriptions[{i}] (`{}`): queue.overflow = \"block\" would hold the producers back for every \
                 subscription, so one queue would change the others' figures; use \"reject-publish\" or \
                 \"drop-head\" with [[subscriptions]]",
                s.name
            );
            let at = tree.get_path(&["queue", "overflow"]);
            errs.at(&format!("subscriptions[{i}].queue.overflow"), at, Some(node), message);
        }
    }
    // A broker-wide fault run by several subscriptions would stop the broker (or raise its alarm) once per
    // subscription, at the same time.
    let wide = |f: &Fault| matches!(f, Fault::MemoryAlarm { .. } | Fault::BrokerRestart { .. });
    let with: Vec<&str> = subs.iter().filter(|s| s.faults.iter().any(wide)).map(|s| s.name.as_str()).collect();
    if with.len() > 1 {
        let message = format!(
            "subscriptions {} each have a memory-alarm or broker-restart fault (from the top level's [[faults]] if \
             they write none): such a fault acts on the whole broker and hits every subscription, so give it to one \
             subscription only (its [[subscriptions.faults]]) and write `faults = []` in the others",
            with.join(", ")
        );
        errs.at("subscriptions", Some(node), None, message);
    }
    subs
}

/// The subscriptions of `root`, each checked; errors go to `errs` under `subscriptions[i]`.
pub(super) fn read(errs: &Errs, node: &Node, path: &str, root: &Node, base_queue: &str) -> Option<Vec<Subscription>> {
    let items = errs.array(node, path)?;
    if items.is_empty() {
        errs.bad_value(path, node, "needs at least one subscription; add [[subscriptions]] with name = \"payment\"");
    }
    let mut subs: Vec<Subscription> = Vec::new();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(mut t) = errs.table(item, &p, "a table like { name = \"payment\" }") else {
            continue;
        };
        t.require("name", "\"payment\"");
        let name = t.str("name");
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
        let named = name.as_deref().is_some_and(|n| !n.is_empty() && n.len() <= 64 && n.chars().all(valid));
        t.check("name", named, NAME_RULE);
        for key in SECTIONS {
            t.get(key);
        }
        t.finish();
        let Some(name) = name.filter(|_| named) else { continue };
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            let message = format!(
                "subscriptions[{first}] and subscriptions[{i}] are both named `{name}`; give each subscription a \
                 name of its own"
            );
            errs.at(&format!("{p}.name"), item.get("name"), Some(item), message);
            continue;
        }
        seen.push((name.clone(), i));
        let merged = merged_tree(root, item, &format!("{base_queue}.{name}"));
        let sub_errs = Errs::default();
        let scn = scenario(&sub_errs, &merged, "subscription");
        let mut clean = true;
        for e in sub_errs.into_vec() {
            // An error in a key the subscription took from the top level is reported once, there.
            if errs.has(&e) {
                continue;
            }
            clean = false;
            errs.push(ScenarioError {
                path: format!("{p}.{}", e.path),
                message: format!("subscriptions[{i}] (`{name}`): {}", e.message),
                ..e
            });
        }
        if clean {
            subs.push(Subscription::from_scenario(name, scn));
        }
    }
    Some(subs)
}

/// The top level without `subscriptions`, with the subscription's sections merged over it and its queue named
/// `<queue>.<subscription>` unless it names one.
fn merged_tree(root: &Node, sub: &Node, queue_name: &str) -> Node {
    let mut tree = root.clone();
    if let NodeValue::Table(entries) = &mut tree.value {
        entries.retain(|e| e.key != "subscriptions");
    }
    // Only the sections a subscription takes: another key is reported once, as unknown in the subscription.
    for e in sub.entries().unwrap_or(&[]).iter().filter(|e| SECTIONS.contains(&e.key.as_str())) {
        merge_entry(&mut tree, e);
    }
    if sub.get_path(&["queue", "name"]).is_none() {
        let node = |value| Node { value, line: None, from_set: false };
        let name = Entry { key: "name".into(), key_line: None, node: node(NodeValue::Str(queue_name.to_string())) };
        let queue = Entry { key: "queue".into(), key_line: None, node: node(NodeValue::Table(vec![name])) };
        merge_entry(&mut tree, &queue);
    }
    tree
}

/// Puts `over` into the table `into`: a table over a table merges key by key; anything else replaces.
fn merge_entry(into: &mut Node, over: &Entry) {
    let NodeValue::Table(entries) = &mut into.value else { return };
    match entries.iter_mut().find(|e| e.key == over.key) {
        Some(existing) if is_table(&existing.node) && is_table(&over.node) => {
            for child in over.node.entries().unwrap_or(&[]) {
                merge_entry(&mut existing.node, child);
            }
        }
        Some(existing) => *existing = over.clone(),
        None => entries.push(over.clone()),
    }
}

fn is_table(n: &Node) -> bool {
    matches!(n.value, NodeValue::Table(_))
}
