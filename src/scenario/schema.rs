//! `loadtest schema`: a JSON Schema (draft 4, what Taplo / Even Better TOML read) of the scenario file, generated
//! from the reader itself. While recording, every key a `TableReader` asks for is noted with the type it is read
//! as; `generate` loads scenarios that take every tag, choice and optional table the reader meets (starting from an
//! empty file), so the schema lists the keys the reader accepts and cannot drift from it. Defaults are the values
//! the resolved scenario (scenario.toml of a run) gives an empty file.

use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// How a key is read.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// Read by a custom conversion (its shape shows in the tables read below it, if any).
    Any,
    Str,
    /// An integer in min..=max.
    Int(u64, u64),
    Num,
    Bool,
    /// A duration string ("250ms").
    Dur,
    /// A duration string or a `{ dist = ... }` table.
    Dist,
    /// An array of duration strings.
    Durs,
    /// Bytes: an integer or a string with a unit ("1KiB").
    Bytes,
    /// One of these strings.
    Choice(Vec<String>),
    Table,
}

#[derive(Default)]
struct Record {
    /// (table path with array indices as `[]`, key) -> how it is read, in the order first read.
    fields: BTreeMap<(String, String), (usize, Ty)>,
    tags: BTreeSet<(String, String)>,
}

thread_local! {
    static RECORD: RefCell<Option<Record>> = const { RefCell::new(None) };
}

/// Whether keys are being recorded (only while `generate` runs).
pub fn recording() -> bool {
    RECORD.with(|r| r.borrow().is_some())
}

/// `faults[2].x` -> `faults[].x`.
fn pattern(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            c => out.push(c),
        }
    }
    out
}

/// The reader read `key` of the table at `path` as `ty`.
pub fn note(path: &str, key: &str, ty: Ty) {
    RECORD.with(|r| {
        let mut r = r.borrow_mut();
        let Some(rec) = r.as_mut() else { return };
        let n = rec.fields.len();
        let slot = rec.fields.entry((pattern(path), key.to_string())).or_insert((n, Ty::Any));
        if slot.1 == Ty::Any {
            slot.1 = ty;
        }
    });
}

/// `key` of the table at `path` is the discriminator of a tagged table (`shape`, `kind`, `dist`).
pub fn note_tag(path: &str, key: &str) {
    RECORD.with(|r| {
        if let Some(rec) = r.borrow_mut().as_mut() {
            rec.tags.insert((pattern(path), key.to_string()));
        }
    });
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// A `--set` path for a table pattern: `faults[].x` -> `faults.0.x`.
fn set_path(p: &str) -> String {
    p.replace("[]", ".0")
}

/// Loads the empty file with every combination of overrides needed to reach each tag value, choice and optional
/// table once, recording what the reader reads.
fn explore() -> Record {
    RECORD.with(|r| *r.borrow_mut() = Some(Record::default()));
    let mut queue: Vec<Vec<String>> = vec![Vec::new()];
    let mut expanded: BTreeSet<(String, String)> = BTreeSet::new();
    let mut loads = 0;
    while let Some(sets) = queue.pop() {
        loads += 1;
        if loads > 5000 {
            break;
        }
        drop(super::load::load_str("", "schema", &sets));
        let found: Vec<((String, String), Ty, bool)> = RECORD.with(|r| {
            let r = r.borrow();
            let Some(rec) = r.as_ref() else { return Vec::new() };
            rec.fields.iter().map(|(k, (_, ty))| (k.clone(), ty.clone(), rec.tags.contains(k))).collect()
        });
        for ((table, key), ty, tag) in found {
            if !expanded.insert((table.clone(), key.clone())) {
                continue;
            }
            let at = set_path(&join(&table, &key));
            let values: Vec<String> = match ty {
                Ty::Choice(names) if tag || names.len() > 1 => names.iter().map(|n| format!("{n:?}")).collect(),
                Ty::Table => vec!["{}".into()],
                Ty::Dist => vec!["{ dist = \"fixed\" }".into()],
                Ty::Any => vec!["{}".into(), "[{}]".into()],
                _ => continue,
            };
            for v in values {
                let mut next = sets.clone();
                next.push(format!("{at}={v}"));
                queue.push(next);
            }
        }
    }
    RECORD.with(|r| r.borrow_mut().take()).unwrap_or_default()
}

/// The JSON Schema of the scenario file.
pub fn generate() -> Value {
    let rec = explore();
    let defaults = super::load::load_str("", "schema", &[])
        .ok()
        .and_then(|s| toml::from_str::<toml::Value>(&s.to_toml()).ok())
        .and_then(|t| serde_json::to_value(t).ok())
        .unwrap_or(Value::Null);
    let mut tables: BTreeMap<&str, Vec<(usize, &str, &Ty)>> = BTreeMap::new();
    for ((table, key), (order, ty)) in &rec.fields {
        tables.entry(table.as_str()).or_default().push((*order, key.as_str(), ty));
    }
    for fields in tables.values_mut() {
        fields.sort_by_key(|f| f.0);
    }
    let mut root = object(&tables, "", Some(&defaults));
    refer_subscription_sections(&mut root);
    let Value::Object(m) = &mut root else { return root };
    let mut top = Map::new();
    top.insert("$schema".into(), json!("http://json-schema.org/draft-04/schema#"));
    top.insert("title".into(), json!("loadtest scenario"));
    top.insert(
        "description".into(),
        json!("A loadtest scenario file (TOML). Generated by `loadtest schema` from the scenario reader."),
    );
    top.append(m);
    Value::Object(top)
}

/// A subscription's sections are the top level's (`[[subscriptions]]` merges them over it): each refers to the
/// top level's definition (whose defaults a subscription takes from the top level as written).
fn refer_subscription_sections(root: &mut Value) {
    let Some(props) = root.pointer_mut("/properties/subscriptions/items/properties").and_then(Value::as_object_mut)
    else {
        return;
    };
    for key in crate::scenario::subscription::SECTIONS {
        if let Some(v) = props.get_mut(key) {
            *v = json!({ "$ref": format!("#/properties/{key}") });
        }
    }
}

type Tables<'a> = BTreeMap<&'a str, Vec<(usize, &'a str, &'a Ty)>>;

fn object(tables: &Tables, path: &str, defaults: Option<&Value>) -> Value {
    let mut props = Map::new();
    for (_, key, ty) in tables.get(path).map(Vec::as_slice).unwrap_or_default() {
        let child = join(path, key);
        let default = defaults.and_then(|d| d.get(*key));
        let mut s = field(tables, &child, ty, default);
        if let (Some(d), Value::Object(m)) = (default, &mut s) {
            if !d.is_object() && !d.is_array() {
                m.insert("default".into(), d.clone());
            }
        }
        props.insert((*key).to_string(), s);
    }
    json!({ "type": "object", "properties": props, "additionalProperties": false })
}

fn field(tables: &Tables, child: &str, ty: &Ty, default: Option<&Value>) -> Value {
    let items = format!("{child}[]");
    let sub = |d| object(tables, child, d);
    match ty {
        Ty::Str => json!({ "type": "string" }),
        Ty::Int(min, max) => json!({ "type": "integer", "minimum": min, "maximum": max }),
        Ty::Num => json!({ "type": "number" }),
        Ty::Bool => json!({ "type": "boolean" }),
        Ty::Dur => json!({ "type": "string", "description": "a duration: \"250ms\", \"1.5s\", \"5m\", \"1h30m\"" }),
        Ty::Durs => json!({ "type": "array", "items": { "type": "string" } }),
        Ty::Bytes => {
            json!({ "type": ["integer", "string"], "description": "bytes, or a size with a unit: \"1KB\", \"1KiB\"" })
        }
        Ty::Choice(names) => json!({ "type": "string", "enum": names }),
        Ty::Table => sub(default),
        Ty::Dist if tables.contains_key(child) => json!({
            "description": "a duration (fixed), or a table like { dist = \"exponential\", mean = \"5ms\" }",
            "anyOf": [{ "type": "string" }, sub(None)]
        }),
        Ty::Dist => json!({ "type": "string" }),
        Ty::Any if tables.contains_key(items.as_str()) => {
            json!({ "type": "array", "items": object(tables, &items, None) })
        }
        Ty::Any if tables.contains_key(child) => {
            json!({ "anyOf": [sub(None), { "type": ["string", "number", "boolean", "array"] }] })
        }
        Ty::Any => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_set_paths() {
        assert_eq!(pattern("faults[12].at"), "faults[].at");
        assert_eq!(set_path("faults[].kind"), "faults.0.kind");
        assert!(!recording());
    }
}
