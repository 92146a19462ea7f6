//! The TOML parser's errors in the user's terms: a duplicate key by its dotted path and both of its lines, an
//! integer beyond TOML's range by its key; any other error with its column.

use super::super::load::ScenarioError;
use super::super::reader::join;
use std::ops::Range;
use toml_edit::{Document, Item, Value};

/// What a TOML integer holds (a signed 64-bit integer).
pub const TOML_INTEGERS: &str = "-9223372036854775808..=9223372036854775807 (-2^63..2^63-1)";

/// How an out-of-range integer's message ends; the loader puts the key's own range before it.
pub const OVERFLOW_FIX: &str = "; write a number in that range";

/// Stands for the duplicate key while the file is parsed again to find where the key is.
const SENTINEL: &str = "__loadtest_duplicate_key__";

/// The error of `Document::parse(text)`, located and explained. `path` is the key it is about, where known.
pub fn explain(text: &str, e: &toml_edit::TomlError) -> ScenarioError {
    let Some(span) = e.span() else {
        return error(None, String::new(), format!("invalid TOML: {}", e.message()));
    };
    let start = floor_boundary(text, span.start);
    let line = line_of(text, start);
    match e.message() {
        "duplicate key" => duplicate(text, start..floor_boundary(text, span.end.max(start))),
        "integer number overflowed" => match overflowed(text) {
            Some((path, _)) => {
                let m =
                    format!("`{path}`: the integer is out of range: TOML integers are {TOML_INTEGERS}{OVERFLOW_FIX}");
                error(Some(line), path, m)
            }
            None => {
                let m = format!("an integer is out of range: TOML integers are {TOML_INTEGERS}{OVERFLOW_FIX}");
                error(Some(line), String::new(), m)
            }
        },
        message => {
            let before = &text[..start];
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            error(Some(line), String::new(), format!("invalid TOML at column {column}: {message}"))
        }
    }
}

/// If the first error of `text` is an integer beyond TOML's range: its key's path, and `text` with that integer
/// written as 0 (which parses, so that the key's own range can be found by loading it).
pub fn overflowed(text: &str) -> Option<(String, String)> {
    let e = Document::parse(text).err()?;
    let span = e.span().filter(|_| e.message() == "integer number overflowed")?;
    let span = floor_boundary(text, span.start)..floor_boundary(text, span.end);
    let patched = format!("{}0{}", &text[..span.start], &text[span.end..]);
    let doc = Document::parse(patched.as_str()).ok()?;
    let path = value_at(doc.as_item(), "", span.start)?;
    Some((path, patched))
}

fn duplicate(text: &str, span: Range<usize>) -> ScenarioError {
    let line = line_of(text, span.start);
    let raw = text[span.clone()].trim();
    let name = raw.parse::<toml_edit::Key>().map_or_else(|_| raw.to_string(), |k| k.get().to_string());
    let fix = "remove one of them";
    let patched = format!("{}{SENTINEL}{}", &text[..span.start], &text[span.end..]);
    let Some((parent, first)) = Document::parse(patched.as_str()).ok().and_then(|d| sentinel(d.as_item(), "", &name))
    else {
        let key = join("", &name);
        return error(Some(line), key.clone(), format!("duplicate key `{key}` (again on line {line}); {fix}"));
    };
    let path = join(&parent, &name);
    let message = match first.map(|offset| line_of(&patched, offset)) {
        Some(first) => format!("duplicate key `{path}`: set on line {first} and again on line {line}; {fix}"),
        None => format!("duplicate key `{path}` (again on line {line}); {fix}"),
    };
    error(Some(line), path, message)
}

/// The path of the table that holds the sentinel key, and where that table's key `name` (the first one) starts.
fn sentinel(item: &Item, path: &str, name: &str) -> Option<(String, Option<usize>)> {
    match item {
        Item::Table(t) => sentinel_in_table(t, path, name),
        Item::ArrayOfTables(a) => {
            a.iter().enumerate().find_map(|(n, t)| sentinel_in_table(t, &format!("{path}[{n}]"), name))
        }
        Item::Value(v) => sentinel_in_value(v, path, name),
        Item::None => None,
    }
}

fn sentinel_in_table(t: &toml_edit::Table, path: &str, name: &str) -> Option<(String, Option<usize>)> {
    if t.contains_key(SENTINEL) {
        return Some((path.to_string(), t.key(name).and_then(|k| k.span()).map(|s| s.start)));
    }
    t.iter().find_map(|(k, i)| sentinel(i, &join(path, k), name))
}

fn sentinel_in_value(v: &Value, path: &str, name: &str) -> Option<(String, Option<usize>)> {
    match v {
        Value::InlineTable(t) => {
            if t.contains_key(SENTINEL) {
                return Some((path.to_string(), t.key(name).and_then(|k| k.span()).map(|s| s.start)));
            }
            t.iter().find_map(|(k, v)| sentinel_in_value(v, &join(path, k), name))
        }
        Value::Array(a) => a.iter().enumerate().find_map(|(n, v)| sentinel_in_value(v, &format!("{path}[{n}]"), name)),
        _ => None,
    }
}

/// The path of the value that starts at byte `offset`.
fn value_at(item: &Item, path: &str, offset: usize) -> Option<String> {
    match item {
        Item::Table(t) => value_in_table(t, path, offset),
        Item::ArrayOfTables(a) => {
            a.iter().enumerate().find_map(|(n, t)| value_in_table(t, &format!("{path}[{n}]"), offset))
        }
        Item::Value(v) => value_in(v, path, offset),
        Item::None => None,
    }
}

fn value_in_table(t: &toml_edit::Table, path: &str, offset: usize) -> Option<String> {
    t.iter().find_map(|(k, i)| value_at(i, &join(path, k), offset))
}

fn value_in(v: &Value, path: &str, offset: usize) -> Option<String> {
    match v {
        Value::InlineTable(t) => t.iter().find_map(|(k, v)| value_in(v, &join(path, k), offset)),
        Value::Array(a) => a.iter().enumerate().find_map(|(n, v)| value_in(v, &format!("{path}[{n}]"), offset)),
        v => (v.span().map(|s| s.start) == Some(offset)).then(|| path.to_string()),
    }
}

fn error(line: Option<usize>, path: String, message: String) -> ScenarioError {
    ScenarioError { path, line, from_set: false, message }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
