//! TOML text and `--set` overrides turned into a tree of values that remember where they came from.

use super::load::ScenarioError;
use toml_edit::{Document, Item, Value};

mod parse_error;
pub use parse_error::{overflowed, OVERFLOW_FIX};

/// One value of the tree, with the line it was written on (1-based) and whether a `--set` flag supplied it.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    /// `None` for values from `--set` (and the root table). A table without a header takes its key's line.
    pub line: Option<usize>,
    pub from_set: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// TOML dates and times, kept as written; no scenario key takes one.
    Datetime(String),
    Array(Vec<Node>),
    /// Entries in file order.
    Table(Vec<Entry>),
}

/// A key of a table and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    /// Line of the key itself (where an unknown key is reported).
    pub key_line: Option<usize>,
    pub node: Node,
}

/// An empty table, for sections that are absent from the file.
pub static EMPTY_TABLE: Node = Node { value: NodeValue::Table(Vec::new()), line: None, from_set: false };

impl Node {
    fn new(value: NodeValue, line: Option<usize>, from_set: bool) -> Node {
        Node { value, line, from_set }
    }

    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.value {
            NodeValue::Table(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of `key` if this node is a table that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?.iter().find(|e| e.key == key).map(|e| &e.node)
    }

    /// Follows a path of table keys (`["consumers", "count"]`).
    pub fn get_path(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    /// What kind of value this is, for messages ("a string", "an integer", ...).
    pub fn type_name(&self) -> &'static str {
        match self.value {
            NodeValue::Str(_) => "a string",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(_) => "a float",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Datetime(_) => "a date-time",
            NodeValue::Array(_) => "an array",
            NodeValue::Table(_) => "a table",
        }
    }

    /// The value written back as (shortened) TOML, for messages.
    pub fn render(&self) -> String {
        let text = match &self.value {
            NodeValue::Str(s) => quote(s),
            NodeValue::Int(i) => i.to_string(),
            NodeValue::Float(f) => render_float(*f),
            NodeValue::Bool(b) => b.to_string(),
            NodeValue::Datetime(d) => d.clone(),
            NodeValue::Array(items) => {
                format!("[{}]", items.iter().map(Node::render).collect::<Vec<_>>().join(", "))
            }
            NodeValue::Table(entries) => {
                let parts: Vec<String> =
                    entries.iter().map(|e| format!("{} = {}", render_key(&e.key), e.node.render())).collect();
                if parts.is_empty() {
                    "{}".to_string()
                } else {
                    format!("{{ {} }}", parts.join(", "))
                }
            }
        };
        shorten(text, MAX_SHOWN)
    }

    fn mark_from_set(&mut self) {
        self.from_set = true;
        self.line = None;
        match &mut self.value {
            NodeValue::Array(items) => items.iter_mut().for_each(Node::mark_from_set),
            NodeValue::Table(entries) => entries.iter_mut().for_each(|e| {
                e.key_line = None;
                e.node.mark_from_set();
            }),
            _ => {}
        }
    }
}

/// A string as a TOML basic string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A key as messages show it: written as in TOML, and cut like values (a key may be 50,000 characters of junk).
pub fn short_key(key: &str) -> String {
    shorten(render_key(key), MAX_SHOWN)
}

/// How many characters of a value or key messages show.
const MAX_SHOWN: usize = 60;

/// A key as written in TOML: bare if it can be, quoted otherwise.
pub fn render_key(key: &str) -> String {
    let bare = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_string()
    } else {
        quote(key)
    }
}

pub fn render_float(f: f64) -> String {
    if f.is_nan() {
        "nan".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.to_string()
    } else if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

pub fn shorten(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}...")
}

/// Maps byte offsets of the text to 1-based line numbers.
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
        Lines { starts }
    }
    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }
    fn span_line(&self, span: Option<std::ops::Range<usize>>) -> Option<usize> {
        span.map(|s| self.line(s.start))
    }
}

/// Parses TOML text into a node tree. Malformed TOML gives one error with its line and column (a duplicate key or
/// an integer out of range: with its key).
pub fn parse(text: &str) -> Result<Node, ScenarioError> {
    let doc = Document::parse(text).map_err(|e| parse_error::explain(text, &e))?;
    let lines = Lines::new(text);
    Ok(from_item(doc.as_item(), None, &lines))
}

fn from_table(table: &toml_edit::Table, fallback: Option<usize>, lines: &Lines) -> Node {
    let entries = table
        .iter()
        .map(|(key, item)| {
            let key_line = lines.span_line(table.key(key).and_then(|k| k.span()));
            Entry { key: key.to_string(), key_line, node: from_item(item, key_line, lines) }
        })
        .collect();
    Node::new(NodeValue::Table(entries), lines.span_line(table.span()).or(fallback), false)
}

fn from_item(item: &Item, fallback: Option<usize>, lines: &Lines) -> Node {
    match item {
        Item::Value(v) => from_value(v, fallback, lines),
        Item::Table(t) => from_table(t, fallback, lines),
        Item::ArrayOfTables(a) => {
            let items = a.iter().map(|t| from_table(t, fallback, lines)).collect();
            Node::new(NodeValue::Array(items), lines.span_line(a.span()).or(fallback), false)
        }
        Item::None => Node::new(NodeValue::Table(Vec::new()), fallback, false),
    }
}

fn from_value(value: &Value, fallback: Option<usize>, lines: &Lines) -> Node {
    let line = lines.span_line(value.span()).or(fallback);
    let v = match value {
        Value::String(s) => NodeValue::Str(s.value().clone()),
        Value::Integer(i) => NodeValue::Int(*i.value()),
        Value::Float(f) => NodeValue::Float(*f.value()),
        Value::Boolean(b) => NodeValue::Bool(*b.value()),
        Value::Datetime(d) => NodeValue::Datetime(d.value().to_string()),
        Value::Array(a) => NodeValue::Array(a.iter().map(|v| from_value(v, line, lines)).collect()),
        Value::InlineTable(t) => NodeValue::Table(
            t.iter()
                .map(|(key, v)| {
                    let key_line = lines.span_line(t.key(key).and_then(|k| k.span())).or(line);
                    Entry { key: key.to_string(), key_line, node: from_value(v, key_line, lines) }
                })
                .collect(),
        ),
    };
    Node::new(v, line, false)
}

/// Applies one `--set key.path=value` override. The value is read as a TOML value (`8`, `"5m"`, `[1, 2]`,
/// `{ shape = "poisson", per_second = 50 }`); if it is not valid TOML it is taken as a bare string (`full`).
/// Intermediate tables are created. An array element is addressed by its index, or by its `name` in an array of
/// named tables (`subscriptions.shipping.consumers.count`). `null` (Helm's convention) removes the key or array
/// element instead, if it is there. A flag that fails leaves the tree unchanged.
pub fn apply_set(root: &mut Node, flag: &str) -> Result<(), ScenarioError> {
    let mut changed = root.clone();
    set_path(&mut changed, flag)?;
    *root = changed;
    Ok(())
}

/// The flag as its errors show it: cut like values, passwords masked; under `[broker]` only its key path, as the
/// value may hold a password that no position gives away (a token).
fn shown_flag(flag: &str) -> String {
    let path = flag.split_once('=').map_or(flag, |(p, _)| p);
    let shown = if crate::secret::under_broker(path) {
        let key = |c: &char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        flag.trim().chars().take_while(key).collect()
    } else {
        crate::secret::mask_url(flag)
    };
    shorten(shown, MAX_SHOWN)
}

fn set_path(root: &mut Node, flag: &str) -> Result<(), ScenarioError> {
    let fail = |path: &str, message: String| ScenarioError {
        path: shorten(path.to_string(), MAX_SHOWN),
        line: None,
        from_set: true,
        message,
    };
    let cut = |s: &str| shorten(s.to_string(), MAX_SHOWN);
    let Some((path, raw)) = flag.split_once('=') else {
        let hidden = if crate::secret::under_broker(flag) {
            " (the rest of the flag is not shown: a [broker] value may hold a password)"
        } else {
            ""
        };
        let m = format!("missing `=`{hidden}; write --set key.path=value, e.g. --set consumers.count=8");
        return Err(fail(&shown_flag(flag), m));
    };
    let path = path.trim();
    let segments: Vec<&str> = path.split('.').map(str::trim).collect();
    if segments.iter().any(|s| s.is_empty()) {
        let message = if path.is_empty() {
            "empty key path; write --set key.path=value, e.g. --set consumers.count=8"
        } else {
            "empty part in the key path; separate keys with single dots, e.g. --set producers.rate.per_second=50"
        };
        return Err(fail(&shown_flag(flag), message.to_string()));
    }
    let raw = raw.trim();
    if raw == "null" {
        return remove_path(root, &segments, path);
    }
    let mut value = match raw.parse::<Value>() {
        Ok(v) => from_value(&v, None, &Lines::new(raw)),
        Err(_) => Node::new(NodeValue::Str(raw.to_string()), None, true),
    };
    value.mark_from_set();

    let mut node = root;
    let mut walked = String::new();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let here = if walked.is_empty() { seg.to_string() } else { format!("{walked}.{seg}") };
        let type_name = node.type_name();
        node = match &mut node.value {
            NodeValue::Table(entries) => {
                let pos = match entries.iter().position(|e| e.key == *seg) {
                    Some(pos) => pos,
                    None => {
                        if let Some(index) = segments.get(i + 1).and_then(|s| s.parse::<usize>().ok()) {
                            let why = "--set can change elements that exist, not add them";
                            return Err(fail(
                                path,
                                format!("index {index} is out of range: there is no `{}`; {why}", cut(&here)),
                            ));
                        }
                        let fresh = Node::new(NodeValue::Table(Vec::new()), None, true);
                        entries.push(Entry { key: seg.to_string(), key_line: None, node: fresh });
                        entries.len() - 1
                    }
                };
                &mut entries[pos].node
            }
            NodeValue::Array(items) => {
                let len = items.len();
                // An element of an array of named tables (`subscriptions.shipping`) may be addressed by its name.
                let index = match (seg.parse::<usize>(), named(items, seg)) {
                    (Ok(index), _) => index,
                    (Err(_), Some(index)) => index,
                    (Err(_), None) => {
                        let walked = cut(&walked);
                        let m = format!("`{walked}` is an array; address its elements by index, e.g. {walked}.0");
                        return Err(fail(path, m));
                    }
                };
                if index >= len {
                    let range = if len == 0 { "it is empty".to_string() } else { format!("valid: 0..={}", len - 1) };
                    return Err(fail(
                        path,
                        format!("index {index} is out of range: `{}` has {len} element(s) ({range})", cut(&walked)),
                    ));
                }
                &mut items[index]
            }
            _ => {
                let (walked, seg) = (cut(&walked), cut(seg));
                return Err(fail(path, format!("`{walked}` is {type_name}, so it has no key `{seg}`")));
            }
        };
        if last {
            *node = value;
            return Ok(());
        }
        walked = here;
    }
    Ok(())
}

/// The element of an array of tables whose `name` is `name`.
fn named(items: &[Node], name: &str) -> Option<usize> {
    items.iter().position(|n| matches!(n.get("name").map(|v| &v.value), Some(NodeValue::Str(s)) if s == name))
}

/// `--set key.path=null`: removes the key (or the array element) if it is there, so that an optional key is unset
/// and a key with a default takes it; a path that is not there changes nothing, as in Helm. A path through a value
/// that is not a table or an array is an error, as for any `--set`.
fn remove_path(root: &mut Node, segments: &[&str], path: &str) -> Result<(), ScenarioError> {
    let mut node = root;
    let mut walked = String::new();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let type_name = node.type_name();
        let next = match &mut node.value {
            NodeValue::Table(entries) if last => {
                entries.retain(|e| e.key != *seg);
                return Ok(());
            }
            NodeValue::Array(items) if last => {
                if let Some(index) = seg.parse::<usize>().ok().or(named(items, seg)).filter(|i| *i < items.len()) {
                    items.remove(index);
                }
                return Ok(());
            }
            NodeValue::Table(entries) => entries.iter_mut().find(|e| e.key == *seg).map(|e| &mut e.node),
            NodeValue::Array(items) => {
                let by_name = named(items, seg);
                seg.parse::<usize>().ok().or(by_name).and_then(|i| items.get_mut(i))
            }
            _ => {
                let (walked, seg) = (shorten(walked, MAX_SHOWN), shorten(seg.to_string(), MAX_SHOWN));
                return Err(ScenarioError {
                    path: shorten(path.to_string(), MAX_SHOWN),
                    line: None,
                    from_set: true,
                    message: format!("`{walked}` is {type_name}, so it has no key `{seg}` to remove"),
                });
            }
        };
        let Some(next) = next else {
            return Ok(());
        };
        node = next;
        walked = if walked.is_empty() { seg.to_string() } else { format!("{walked}.{seg}") };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Node {
        parse(text).expect("valid TOML")
    }

    #[test]
    fn lines_of_keys_values_and_tables() {
        let t = tree("messages = 5\n\n[consumers]\ncount = 2\nrate = { shape = \"poisson\",\n per_second = 3 }\n");
        assert_eq!(t.get("messages").and_then(|n| n.line), Some(1));
        let consumers = t.get("consumers").expect("consumers");
        assert_eq!(consumers.line, Some(3));
        assert_eq!(consumers.get("count").map(|n| (&n.value, n.line)), Some((&NodeValue::Int(2), Some(4))));
        let rate = consumers.get("rate").expect("rate");
        assert_eq!(rate.get("per_second").and_then(|n| n.line), Some(6));
        let entries = consumers.entries().expect("table");
        assert_eq!(entries[1].key_line, Some(5));
    }

    #[test]
    fn array_of_tables_keeps_order_and_lines() {
        let t = tree("[[faults]]\nkind = \"outage\"\n\n[[faults]]\nkind = \"latency-spike\"\n");
        let NodeValue::Array(items) = &t.get("faults").expect("faults").value else { panic!("not an array") };
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].line, Some(4));
        assert_eq!(items[1].get("kind").map(|n| n.render()), Some("\"latency-spike\"".to_string()));
    }

    #[test]
    fn malformed_toml_is_one_error_with_line() {
        let e = parse("messages = 5\n[consumers\ncount = 2\n").expect_err("malformed");
        assert_eq!(e.line, Some(2));
        assert!(e.message.starts_with("invalid TOML at column"), "{}", e.message);
    }

    #[test]
    fn set_scalar_bare_string_table_and_index() {
        let mut t = tree("[consumers]\ncount = 2\n[[faults]]\nat = \"1m\"\n");
        apply_set(&mut t, "consumers.count=8").expect("set");
        apply_set(&mut t, "retry.jitter=full").expect("set");
        apply_set(&mut t, "producers.rate={ shape = \"poisson\", per_second = 50 }").expect("set");
        apply_set(&mut t, "faults.0.at=\"5m\"").expect("set");
        let count = t.get_path(&["consumers", "count"]).expect("count");
        assert_eq!((&count.value, count.line, count.from_set), (&NodeValue::Int(8), None, true));
        assert_eq!(t.get_path(&["retry", "jitter"]).map(|n| &n.value), Some(&NodeValue::Str("full".into())));
        assert_eq!(t.get_path(&["producers", "rate", "per_second"]).map(|n| &n.value), Some(&NodeValue::Int(50)));
        let NodeValue::Array(faults) = &t.get("faults").expect("faults").value else { panic!("not an array") };
        assert_eq!(faults[0].get("at").map(|n| &n.value), Some(&NodeValue::Str("5m".into())));
    }

    #[test]
    fn bad_sets_name_the_flag() {
        let mut t = tree("[[faults]]\nat = \"1m\"\nname = \"x\"\n");
        let e = apply_set(&mut t, "consumers.count").expect_err("no =");
        assert!(e.from_set && e.path == "consumers.count" && e.message.starts_with("missing `=`"), "{e:?}");
        let e = apply_set(&mut t, "=5").expect_err("empty path");
        assert!(e.path == "=5" && e.message.starts_with("empty key path"), "{e:?}");
        let e = apply_set(&mut t, "a..b=5").expect_err("empty part");
        assert!(e.path == "a..b=5" && e.message.starts_with("empty part"), "{e:?}");
        let e = apply_set(&mut t, "faults.3.at=\"1s\"").expect_err("out of range");
        assert_eq!(e.path, "faults.3.at");
        assert!(
            e.message.contains("index 3 is out of range: `faults` has 1 element(s) (valid: 0..=0)"),
            "{}",
            e.message
        );
        let before = t.clone();
        let e = apply_set(&mut t, "retry.policy.intervals.0=\"1s\"").expect_err("no such array");
        assert_eq!(t, before, "a failed --set leaves no half-made tables behind");
        assert_eq!(e.path, "retry.policy.intervals.0");
        assert!(e.message.starts_with("index 0 is out of range: there is no `retry.policy.intervals`"), "{e:?}");
        let e = apply_set(&mut t, "faults.y=1").expect_err("neither an index nor a name");
        assert!(e.message.contains("address its elements by index"), "{}", e.message);
        // An element of an array of named tables, by its name.
        apply_set(&mut t, "faults.x.at=\"2m\"").expect("by name");
        let NodeValue::Array(faults) = &t.get("faults").expect("faults").value else { panic!("not an array") };
        assert_eq!(faults[0].get("at").map(|n| &n.value), Some(&NodeValue::Str("2m".into())));
        let e = apply_set(&mut t, "faults.0.name.first=1").expect_err("scalar");
        assert!(e.message.contains("`faults.0.name` is a string"), "{}", e.message);
    }
}
