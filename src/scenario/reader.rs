//! Typed access to a node tree that records every error (with path, line and fix) instead of stopping at the first.

use super::limits::MIN_TIMER;
use super::load::ScenarioError;
use super::node::{short_key, Entry, Node, NodeValue, EMPTY_TABLE};
use crate::dist::Dist;
use crate::secret::under_broker;
use crate::time::Dur;
use serde::Serialize;
use std::cell::RefCell;

pub const POSITIVE: &str = "must be greater than 0";
pub const NOT_NEGATIVE: &str = "must not be negative";
/// The requirement of a repeating timer (see `MIN_TIMER`).
pub const TIMER_FLOOR: &str = "must be at least 1us: a timer that fires more often spends the run on its ticks";

/// The errors found so far, and the range each integer key was read with. Shared by all readers of one load.
#[derive(Default)]
pub struct Errs(RefCell<Vec<ScenarioError>>, RefCell<Vec<(String, u32, u64)>>);

/// How a value appears in a message: as written (cut), or under `[broker]`, which may hold a password, only as its
/// type and size.
pub fn shown(path: &str, node: &Node) -> String {
    let n = |count: usize, one: &str| format!("{count} {one}{}", if count == 1 { "" } else { "s" });
    match &node.value {
        _ if !under_broker(path) => node.render(),
        NodeValue::Str(s) => format!("a string of {}", n(s.chars().count(), "character")),
        NodeValue::Array(items) => format!("an array of {}", n(items.len(), "element")),
        NodeValue::Table(entries) => format!("a table of {}", n(entries.len(), "key")),
        _ => node.type_name().to_string(),
    }
}

impl Errs {
    pub fn into_vec(self) -> Vec<ScenarioError> {
        self.0.into_inner()
    }

    pub fn push(&self, error: ScenarioError) {
        self.0.borrow_mut().push(error);
    }

    /// An error located at `node` (its line, or `--set`), or at `fallback` when the node is absent.
    pub fn at(&self, path: &str, node: Option<&Node>, fallback: Option<&Node>, message: String) {
        let place = node.or(fallback);
        let (line, from_set) = (place.and_then(|n| n.line), place.is_some_and(|n| n.from_set));
        self.push(ScenarioError { path: path.to_string(), line, from_set, message });
    }

    /// An error about the value of `node`. The message starts with "`path = value`: " unless the value came from
    /// `--set` (the report names the flag's path instead). A `[broker]` value is never shown (see `shown`).
    pub fn bad_value(&self, path: &str, node: &Node, problem: &str) {
        let message = match () {
            _ if node.from_set => problem.to_string(),
            _ if under_broker(path) => format!("`{path}`: {problem} ([broker] values are never shown)"),
            _ => format!("`{path} = {}`: {problem}", node.render()),
        };
        self.at(path, Some(node), None, message);
    }

    /// The range `path` was read with (`int_in`), if it is an integer key; `max` as far as a TOML integer reaches.
    pub fn int_range(&self, path: &str) -> Option<(u32, u64)> {
        let ranges = self.1.borrow();
        ranges.iter().find(|(p, _, _)| p == path).map(|&(_, min, max)| (min, max.min(i64::MAX as u64)))
    }

    /// This very error (path, line and message) is recorded already.
    pub fn has(&self, e: &ScenarioError) -> bool {
        self.0.borrow().iter().any(|x| x == e)
    }

    /// No error recorded at any of `paths` or below them (`consumers` covers `consumers.count`).
    pub fn clean(&self, paths: &[&str]) -> bool {
        let below = |e: &str, p: &str| e.starts_with(p) && matches!(e.as_bytes().get(p.len()), Some(b'.' | b'['));
        let errors = self.0.borrow();
        !errors.iter().any(|e| paths.iter().any(|p| e.path == *p || below(&e.path, p)))
    }

    pub fn wrong_type<T>(&self, node: &Node, path: &str, expected: &str) -> Option<T> {
        let got = match node.value {
            _ if under_broker(path) => shown(path, node),
            NodeValue::Table(_) => "a table".to_string(),
            NodeValue::Array(_) if !node.from_set => "an array".to_string(),
            _ => node.render(),
        };
        self.bad_value(path, node, &format!("expected {expected}, got {got}"));
        None
    }

    pub fn str(&self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            NodeValue::Str(s) => Some(s.clone()),
            _ => self.wrong_type(node, path, "a string"),
        }
    }

    /// An integer in `min..=max`.
    pub fn int_in(&self, node: &Node, path: &str, min: u32, max: u64) -> Option<u64> {
        self.1.borrow_mut().push((path.to_string(), min, max));
        let NodeValue::Int(v) = node.value else {
            return self.wrong_type(node, path, "an integer");
        };
        let problem = match u64::try_from(v) {
            Ok(u) if u >= u64::from(min) && u <= max => return Some(u),
            Ok(u) if u > max => format!("must be at most {max}, got {u}"),
            _ if min == 0 => format!("{NOT_NEGATIVE}, got {v}"),
            _ => format!("must be at least {min}, got {v}"),
        };
        self.bad_value(path, node, &problem);
        None
    }

    /// A size: an integer number of bytes, or a string with a unit (`"1KiB"`), at most `max`.
    pub fn bytes(&self, node: &Node, path: &str, max: u64) -> Option<u64> {
        let NodeValue::Str(text) = &node.value else {
            return self.int_in(node, path, 0, max);
        };
        match super::units::parse_bytes(text) {
            Ok(b) if b <= max => Some(b),
            Ok(b) => {
                self.bad_value(path, node, &format!("must be at most {max} bytes, got {b}"));
                None
            }
            Err(why) => {
                self.bad_value(path, node, &why);
                None
            }
        }
    }

    pub fn u32(&self, node: &Node, path: &str, min: u32) -> Option<u32> {
        let v = self.int_in(node, path, min, u64::from(u32::MAX))?;
        u32::try_from(v).ok()
    }

    /// A finite number; integers are accepted.
    pub fn f64(&self, node: &Node, path: &str) -> Option<f64> {
        let v = match node.value {
            NodeValue::Float(f) => f,
            NodeValue::Int(i) => i as f64,
            _ => return self.wrong_type(node, path, "a number"),
        };
        if !v.is_finite() {
            self.bad_value(path, node, &format!("must be a finite number, got {}", shown(path, node)));
            return None;
        }
        Some(v)
    }

    pub fn bool(&self, node: &Node, path: &str) -> Option<bool> {
        match node.value {
            NodeValue::Bool(b) => Some(b),
            _ => self.wrong_type(node, path, "true or false"),
        }
    }

    pub fn dur(&self, node: &Node, path: &str) -> Option<Dur> {
        let NodeValue::Str(s) = &node.value else {
            return self.wrong_type(node, path, "a duration string like \"30s\"");
        };
        let parsed = Dur::parse(s).map_err(|e| match under_broker(path) {
            // The parser's message repeats the text.
            true => "is not a duration; write e.g. \"250ms\", \"30s\", \"5m\", \"1h30m\"".to_string(),
            false => e,
        });
        parsed.map_err(|e| self.bad_value(path, node, &e)).ok()
    }

    /// One of `all`, written as the string it serialises to (`Overflow::DropHead` is "drop-head"), so that what
    /// the loader accepts and what `Scenario::to_toml` writes cannot drift apart. `&str` choices stand for themselves.
    pub fn choice<T: Serialize + Copy>(&self, node: &Node, path: &str, all: &[T]) -> Option<T> {
        let names: Vec<String> = all.iter().map(serde_name).collect();
        let list = names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
        let NodeValue::Str(s) = &node.value else {
            return self.wrong_type(node, path, &format!("one of {list}"));
        };
        let found = names.iter().position(|n| n == s).map(|i| all[i]);
        if found.is_none() {
            self.bad_value(path, node, &format!("expected one of {list}"));
        }
        found
    }

    pub fn array<'n>(&self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        match &node.value {
            NodeValue::Array(items) => Some(items),
            _ => self.wrong_type(node, path, "an array"),
        }
    }

    /// A reader over `node` if it is a table; otherwise a type error naming `expected` ("a table like ...").
    pub fn table<'n>(&'n self, node: &'n Node, path: &str, expected: &str) -> Option<TableReader<'n>> {
        match &node.value {
            NodeValue::Table(_) => Some(TableReader::new(self, node, path)),
            _ => self.wrong_type(node, path, expected),
        }
    }

    /// An array of durations, each at least `floor` (`Dur::ZERO`: any), whose requirement is `why` ("must be ...").
    /// Every bad element is reported.
    pub fn durs(&self, node: &Node, path: &str, floor: Dur, why: &str) -> Option<Vec<Dur>> {
        let items = self.array(node, path)?;
        let mut out = Some(Vec::new());
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let d = self.dur(item, &p).filter(|d| {
                let ok = *d >= floor;
                if !ok {
                    self.bad_value(&p, item, &format!("{why}, got {}", shown(&p, item)));
                }
                ok
            });
            match (d, out.as_mut()) {
                (Some(d), Some(v)) => v.push(d),
                _ => out = None,
            }
        }
        out
    }

    /// A distribution of durations: a duration string (fixed) or a `{ dist = ... }` table.
    pub fn dist(&self, node: &Node, path: &str) -> Option<Dist> {
        if let NodeValue::Str(_) = node.value {
            return self.dur(node, path).map(Dist::fixed);
        }
        let expected = "a duration string like \"5ms\" or a table like { dist = \"exponential\", mean = \"5ms\" }";
        let mut t = self.table(node, path, expected)?;
        let dist = match t.tag("dist", &["fixed", "uniform", "exponential", "lognormal"])? {
            "fixed" => {
                t.require("value", "\"5ms\"");
                Dist::fixed(t.dur("value").unwrap_or_default())
            }
            "uniform" => {
                t.require("min", "\"5ms\"");
                t.require("max", "\"20ms\"");
                let (min, max) = (t.dur("min").unwrap_or_default(), t.dur("max").unwrap_or_default());
                if min > max {
                    t.error("max", format!("{path}: max ({max}) is below min ({min}); raise max to at least {min}"));
                }
                Dist::Uniform { min, max }
            }
            "exponential" => {
                t.require("mean", "\"5ms\"");
                let mean = t.dur_pos("mean").unwrap_or(Dur(1));
                Dist::Exponential { mean }
            }
            _ => {
                t.require("median", "\"5ms\"");
                t.require("p99", "\"50ms\"");
                let (median, p99) = (t.dur_pos("median").unwrap_or(Dur(1)), t.dur_pos("p99").unwrap_or(Dur(1)));
                if p99 < median && t.errs.clean(&[path]) {
                    let m =
                        format!("{path}: p99 ({p99}) is below the median ({median}); raise p99 to at least {median}");
                    t.error("p99", m);
                }
                Dist::Lognormal { median, p99 }
            }
        };
        t.finish();
        Some(dist)
    }
}

/// The string a unit enum variant (or a `&str`) serialises to.
fn serde_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// `parent.key`, or `key` at the top level; keys that are not bare are quoted, and long ones cut.
pub fn join(parent: &str, key: &str) -> String {
    match parent {
        "" => short_key(key),
        _ => format!("{parent}.{}", short_key(key)),
    }
}

/// Reads the keys of one table, remembering which were read so that the rest can be reported as unknown.
pub struct TableReader<'a> {
    pub errs: &'a Errs,
    pub node: &'a Node,
    pub path: String,
    /// How the table is named in messages: "the top level", "[consumers]", "faults[1] (kind = \"outage\")".
    label: String,
    entries: &'a [Entry],
    used: Vec<bool>,
    /// Keys asked for: the valid keys, for suggestions.
    known: Vec<&'static str>,
}

impl<'a> TableReader<'a> {
    pub fn new(errs: &'a Errs, node: &'a Node, path: &str) -> TableReader<'a> {
        let entries = node.entries().unwrap_or(&[]);
        let label = match path {
            "" => "the top level".to_string(),
            p if p.contains('[') => p.to_string(),
            p => format!("[{p}]"),
        };
        let (path, used, known) = (path.to_string(), vec![false; entries.len()], vec![]);
        TableReader { errs, node, path, label, entries, used, known }
    }

    /// A reader of an absent table: every getter gives its default.
    pub fn empty(errs: &'a Errs, path: &str) -> TableReader<'a> {
        TableReader::new(errs, &EMPTY_TABLE, path)
    }

    pub fn child(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The value of `key`, marked as read.
    pub fn get(&mut self, key: &'static str) -> Option<&'a Node> {
        super::schema::note(&self.path, key, super::schema::Ty::Any);
        if !self.known.contains(&key) {
            self.known.push(key);
        }
        let i = self.entries.iter().position(|e| e.key == key)?;
        self.used[i] = true;
        Some(&self.entries[i].node)
    }

    /// The value of `key` without marking it read.
    pub fn peek(&self, key: &str) -> Option<&'a Node> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.node)
    }

    pub fn has(&self, key: &str) -> bool {
        self.peek(key).is_some()
    }

    /// Reports `key` as missing unless present.
    pub fn require(&mut self, key: &'static str, example: &str) {
        if !self.has(key) {
            let message = format!("{} is missing the required key `{key}`; add e.g. {key} = {example}", self.label);
            self.errs.at(&self.child(key), None, Some(self.node), message);
        }
    }

    /// An error about `key` (at its line if present, else at the table's).
    pub fn error(&self, key: &str, message: String) {
        self.errs.at(&self.child(key), self.peek(key), Some(self.node), message);
    }

    /// Converts the value of `key`, if present, with one of the `Errs` conversions.
    pub fn with<T>(&mut self, key: &'static str, f: impl FnOnce(&'a Errs, &'a Node, &str) -> Option<T>) -> Option<T> {
        let node = self.get(key)?;
        f(self.errs, node, &self.child(key))
    }

    pub fn str(&mut self, key: &'static str) -> Option<String> {
        super::schema::note(&self.path, key, super::schema::Ty::Str);
        self.with(key, |e, n, p| e.str(n, p))
    }
    pub fn u32(&mut self, key: &'static str, min: u32) -> Option<u32> {
        super::schema::note(&self.path, key, super::schema::Ty::Int(u64::from(min), u64::from(u32::MAX)));
        self.with(key, |e, n, p| e.u32(n, p, min))
    }
    /// An integer in `min..=max` (`scenario::limits` has the bounds).
    pub fn u32_in(&mut self, key: &'static str, min: u32, max: u32) -> Option<u32> {
        super::schema::note(&self.path, key, super::schema::Ty::Int(u64::from(min), u64::from(max)));
        self.with(key, |e, n, p| e.int_in(n, p, min, u64::from(max)).and_then(|v| u32::try_from(v).ok()))
    }
    pub fn u64_in(&mut self, key: &'static str, min: u32, max: u64) -> Option<u64> {
        super::schema::note(&self.path, key, super::schema::Ty::Int(u64::from(min), max));
        self.with(key, |e, n, p| e.int_in(n, p, min, max))
    }
    pub fn u64(&mut self, key: &'static str, min: u32) -> Option<u64> {
        super::schema::note(&self.path, key, super::schema::Ty::Int(u64::from(min), i64::MAX as u64));
        self.with(key, |e, n, p| e.int_in(n, p, min, u64::MAX))
    }
    pub fn f64(&mut self, key: &'static str) -> Option<f64> {
        super::schema::note(&self.path, key, super::schema::Ty::Num);
        self.with(key, |e, n, p| e.f64(n, p))
    }
    pub fn bytes(&mut self, key: &'static str, max: u64) -> Option<u64> {
        super::schema::note(&self.path, key, super::schema::Ty::Bytes);
        self.with(key, |e, n, p| e.bytes(n, p, max))
    }
    pub fn bool(&mut self, key: &'static str) -> Option<bool> {
        super::schema::note(&self.path, key, super::schema::Ty::Bool);
        self.with(key, |e, n, p| e.bool(n, p))
    }
    pub fn dur(&mut self, key: &'static str) -> Option<Dur> {
        super::schema::note(&self.path, key, super::schema::Ty::Dur);
        self.with(key, |e, n, p| e.dur(n, p))
    }
    pub fn dist(&mut self, key: &'static str) -> Option<Dist> {
        super::schema::note(&self.path, key, super::schema::Ty::Dist);
        self.with(key, |e, n, p| e.dist(n, p))
    }
    pub fn durs(&mut self, key: &'static str, floor: Dur, why: &str) -> Option<Vec<Dur>> {
        super::schema::note(&self.path, key, super::schema::Ty::Durs);
        self.with(key, |e, n, p| e.durs(n, p, floor, why))
    }
    pub fn choice<T: Serialize + Copy>(&mut self, key: &'static str, all: &[T]) -> Option<T> {
        if super::schema::recording() {
            super::schema::note(&self.path, key, super::schema::Ty::Choice(all.iter().map(serde_name).collect()));
        }
        self.with(key, |e, n, p| e.choice(n, p, all))
    }
    pub fn table(&mut self, key: &'static str) -> Option<TableReader<'a>> {
        super::schema::note(&self.path, key, super::schema::Ty::Table);
        self.with(key, |e, n, p| e.table(n, p, "a table"))
    }

    /// A number that must satisfy `ok`; otherwise `requirement` ("must be greater than 0") is reported.
    pub fn f64_where(&mut self, key: &'static str, ok: impl Fn(f64) -> bool, requirement: &str) -> Option<f64> {
        let v = self.f64(key)?;
        self.check(key, ok(v), requirement).then_some(v)
    }

    /// A fraction in [0, 1].
    pub fn fraction(&mut self, key: &'static str) -> Option<f64> {
        self.f64_where(key, |v| (0.0..=1.0).contains(&v), "must be between 0 and 1")
    }

    /// A duration greater than zero.
    pub fn dur_pos(&mut self, key: &'static str) -> Option<Dur> {
        let v = self.dur(key)?;
        self.check(key, v > Dur::ZERO, POSITIVE).then_some(v)
    }

    /// The interval of a timer that repeats or re-arms: at least `scenario::limits::MIN_TIMER`.
    pub fn timer(&mut self, key: &'static str) -> Option<Dur> {
        let v = self.dur(key)?;
        self.check(key, v >= MIN_TIMER, TIMER_FLOOR).then_some(v)
    }

    /// Reports "`requirement`, got <value>" for `key` unless `ok`; returns `ok`.
    pub fn check(&self, key: &str, ok: bool, requirement: &str) -> bool {
        if let Some(node) = self.peek(key).filter(|_| !ok) {
            let path = self.child(key);
            self.errs.bad_value(&path, node, &format!("{requirement}, got {}", shown(&path, node)));
        }
        ok
    }

    /// Reads the required discriminator `key` of a tagged table (`shape`, `kind`, `dist`). If it is missing or
    /// invalid, the other keys are left unjudged (which keys are valid depends on it).
    pub fn tag(&mut self, key: &'static str, names: &[&'static str]) -> Option<&'static str> {
        self.require(key, &format!("\"{}\"", names.first().copied().unwrap_or_default()));
        super::schema::note_tag(&self.path, key);
        let found = self.choice(key, names);
        match found {
            Some(name) => self.label = format!("{} ({key} = \"{name}\")", self.path),
            None => self.used.iter_mut().for_each(|u| *u = true),
        }
        found
    }

    /// Reports every key that was not read, with a suggestion among the keys this table accepts.
    pub fn finish(self) {
        for (entry, _) in self.entries.iter().zip(&self.used).filter(|(_, used)| !**used) {
            let hint = match suggest(&entry.key, &self.known) {
                Some(s) => format!("did you mean `{s}`?"),
                None if self.known.is_empty() => format!("{} takes no keys", self.label),
                None => format!("valid keys: {}", self.known.join(", ")),
            };
            self.errs.push(ScenarioError {
                path: self.child(&entry.key),
                line: entry.key_line.or(entry.node.line),
                from_set: entry.node.from_set,
                message: format!("unknown key `{}` in {}; {hint}", cut(&entry.key), self.label),
            });
        }
    }
}

/// A key as written, cut like values.
fn cut(key: &str) -> String {
    super::node::shorten(key.to_string(), 60)
}

/// The valid key closest to `key`, if close enough to be a likely typo.
pub fn suggest<'k>(key: &str, valid: &[&'k str]) -> Option<&'k str> {
    let key = key.to_ascii_lowercase();
    let scored = valid.iter().map(|&v| (v, strsim::jaro_winkler(&key, v), strsim::levenshtein(&key, v)));
    let close = scored.filter(|&(_, jw, lev)| jw > 0.8 || lev <= 2);
    close.max_by(|a, b| a.1.total_cmp(&b.1)).map(|(v, _, _)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::node::parse;
    use crate::scenario::Overflow;

    #[test]
    fn suggestions() {
        assert_eq!(suggest("consumer", &["producers", "consumers", "queue"]), Some("consumers"));
        assert_eq!(suggest("concurency", &["count", "concurrency", "prefetch"]), Some("concurrency"));
        assert_eq!(suggest("zzzzzz", &["count", "concurrency"]), None);
    }

    #[test]
    fn getters_collect_errors_and_unknown_keys() {
        let text = "a = -3\nb = 30\nc = \"ful\"\nd = 1.5\nextra = 1\nconut = 2\ne = 5000000000\nf = \"drop-head\"\n";
        let tree = parse(text).expect("toml");
        let errs = Errs::default();
        let mut r = TableReader::new(&errs, &tree, "t");
        assert_eq!(r.u32("a", 1), None);
        assert_eq!(r.dur("b"), None);
        assert_eq!(r.choice("c", &["none", "full"]), None);
        assert_eq!(r.f64("d"), Some(1.5));
        assert_eq!(r.u32("count", 1), None);
        assert_eq!(r.u32("e", 0), None);
        assert_eq!(r.choice("f", &[Overflow::DropHead, Overflow::RejectPublish]), Some(Overflow::DropHead));
        r.finish();
        let errors = errs.into_vec();
        let got: Vec<(Option<usize>, &str)> = errors.iter().map(|e| (e.line, e.message.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (Some(1), "`t.a = -3`: must be at least 1, got -3"),
                (Some(2), "`t.b = 30`: expected a duration string like \"30s\", got 30"),
                (Some(3), "`t.c = \"ful\"`: expected one of \"none\", \"full\""),
                (Some(7), "`t.e = 5000000000`: must be at most 4294967295, got 5000000000"),
                (Some(5), "unknown key `extra` in [t]; valid keys: a, b, c, d, count, e, f"),
                (Some(6), "unknown key `conut` in [t]; did you mean `count`?"),
            ]
        );
    }

    #[test]
    fn dist_forms() {
        let text =
            "a = \"5ms\"\nb = { dist = \"uniform\", min = \"9ms\", max = \"2ms\" }\nc = { dist = \"gauss\", x = 1 }\n\
                    d = { dist = \"exponential\", mean = \"2ms\", median = \"1ms\" }\ne = 5\n";
        let tree = parse(text).expect("toml");
        let errs = Errs::default();
        let mut r = TableReader::new(&errs, &tree, "");
        assert_eq!(r.dist("a"), Some(Dist::fixed(Dur::from_millis(5))));
        r.dist("b");
        assert_eq!(r.dist("c"), None);
        r.dist("d");
        assert_eq!(r.dist("e"), None);
        let errors = errs.into_vec();
        let got: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(got.len(), 4, "{got:#?}");
        assert_eq!(got[0], "b: max (2ms) is below min (9ms); raise max to at least 9ms");
        assert!(got[1].starts_with("`c.dist = \"gauss\"`: expected one of \"fixed\", \"uniform\""), "{}", got[1]);
        assert_eq!(got[2], "unknown key `median` in d (dist = \"exponential\"); did you mean `mean`?");
        assert!(got[3].starts_with("`e = 5`: expected a duration string like \"5ms\" or a table"), "{}", got[3]);
    }

    #[test]
    fn clean_matches_path_prefixes() {
        let errs = Errs::default();
        errs.at("faults[1].at", None, None, "x".into());
        assert!(!errs.clean(&["faults[1]"]));
        assert!(!errs.clean(&["faults"]));
        assert!(errs.clean(&["faults[1].a"]));
        assert!(errs.clean(&["fault"]));
    }
}
