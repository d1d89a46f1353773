//! YAML documents with source locations.
//!
//! Every user-facing error in autolabs names the file, line and field. serde gives us the
//! field path of a problem (`spec.labs.students`); this module keeps, for each path in a
//! document, the line and column it came from, so a path can be turned into `file:line`.
//!
//! Documents are parsed once into a [`serde_json::Value`] (the form every engine reads) plus
//! a [`Locations`] map. A stream is split into documents first, so one malformed document
//! does not hide the others.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;

/// A line and column, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Field path → position, for one document. Paths are dotted with `[i]` for indices:
/// `spec.isolation.flows[2].ports[0]`; map keys that contain dots are quoted: `labels["a.b"]`.
///
/// Every node of every document read has a position, and only the few that end up in a
/// message are ever looked up: so a path is kept as the hash of its text (computed from its
/// parent's while parsing, no string built), in one sorted vector a document. Two paths of
/// one document with the same 64-bit hash would misplace a line in a message, nothing more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locations {
    /// (hash of the path, position), sorted by hash.
    entries: Vec<(u64, Pos)>,
}

impl Locations {
    /// The position of `path`, or of its closest ancestor that has one.
    pub fn find(&self, path: &str) -> Option<Pos> {
        let mut p = path;
        loop {
            if let Some(pos) = self.get(p) {
                return Some(pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
            if p.is_empty() {
                return self.get("");
            }
        }
    }

    /// How many fields have a position.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The exact entry for `path`.
    pub fn get(&self, path: &str) -> Option<Pos> {
        let hash = PathHash::ROOT.text(path).0;
        self.entries.binary_search_by_key(&hash, |(h, _)| *h).ok().map(|i| self.entries[i].1)
    }

    fn insert(&mut self, path: PathHash, pos: Pos) {
        self.entries.push((path.0, pos));
    }

    /// Sorts the entries for [`Locations::get`] once a document is read.
    fn seal(&mut self) {
        self.entries.sort_unstable_by_key(|(h, _)| *h);
        self.entries.dedup_by_key(|(h, _)| *h);
        self.entries.shrink_to_fit();
    }
}

/// FNV-1a (64 bit) of a path's text, fed segment by segment as [`join_key`] and
/// [`join_index`] would write it, so a child's hash comes from its parent's without the text.
#[derive(Debug, Clone, Copy)]
struct PathHash(u64);

impl PathHash {
    const ROOT: PathHash = PathHash(0xcbf2_9ce4_8422_2325);

    fn text(self, text: &str) -> PathHash {
        self.bytes(text.as_bytes())
    }

    fn bytes(self, bytes: &[u8]) -> PathHash {
        let mut h = self.0;
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        PathHash(h)
    }

    /// The hash of `join_key(path, key)`; `at_root`: `path` is empty.
    fn key(self, at_root: bool, key: &str) -> PathHash {
        if is_simple_key(key) {
            if at_root { self.text(key) } else { self.text(".").text(key) }
        } else {
            self.text(&format!("[{key:?}]"))
        }
    }

    /// The hash of `join_index(path, index)`.
    fn index(self, index: usize) -> PathHash {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut n = index;
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.text("[").bytes(&digits[at..]).text("]")
    }
}

/// One YAML document of a stream.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    pub locations: Locations,
    /// The line the document's content starts on (1-based).
    pub line: u32,
}

/// A YAML syntax error with its position in the whole stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// Appends a key to a path, quoting keys that would be ambiguous.
pub fn join_key(path: &str, key: &str) -> String {
    match (path.is_empty(), is_simple_key(key)) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}

/// A key written as is in a path; others are quoted (`["a.b"]`).
fn is_simple_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Appends an index to a path.
pub fn join_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// Parses a single-document YAML (or JSON) text.
pub fn parse_one(text: &str) -> Result<Document, YamlError> {
    let mut docs = parse_stream(text);
    match docs.len() {
        0 => Ok(Document { value: Value::Null, locations: Locations::default(), line: 1 }),
        1 => docs.remove(0),
        _ => {
            let second = docs.into_iter().nth(1).map(|d| d.map(|d| d.line).unwrap_or_else(|e| e.pos.line));
            Err(YamlError {
                pos: Pos { line: second.unwrap_or(1), column: 1 },
                message: "expected one YAML document, found several (remove the `---` separator)".into(),
            })
        }
    }
}

/// Parses a multi-document stream; each document independently, so an error in one does not
/// lose the others. Empty documents (only comments, or `---` twice) are skipped. Documents are
/// parsed in parallel (one batch of consecutive documents per core), results in stream order.
pub fn parse_stream(text: &str) -> Vec<Result<Document, YamlError>> {
    let chunks = split_stream(text);
    let weights: Vec<usize> = chunks.iter().map(|(_, c)| c.len()).collect();
    in_parallel(chunks, &weights, |batch| {
        batch.into_iter().map(|(line, chunk)| parse_document(&chunk, line)).collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

/// Runs `work` over consecutive batches of `items` (about equal total weight, one batch per
/// core) on threads whose stack holds the deepest document; the batches' results in order.
///
/// The parser recurses once per nesting level with large frames (about 40 KiB a level in
/// a debug build), so a 50-deep document overflows a 2 MiB thread (tokio's workers, the
/// test harness) and aborts the process: every parse runs on such a thread, even alone.
pub fn in_parallel<I: Send, O: Send>(
    items: Vec<I>,
    weights: &[usize],
    work: impl Fn(Vec<I>) -> O + Sync,
) -> Vec<O> {
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let total: usize = weights.iter().sum::<usize>().max(1);
    // Below this much text a second thread costs more than it saves.
    const SMALLEST_BATCH: usize = 64 << 10;
    let threads = cores.min(total.div_ceil(SMALLEST_BATCH)).clamp(1, items.len().max(1));
    let mut batches: Vec<Vec<I>> = Vec::with_capacity(threads);
    let mut current = Vec::new();
    let mut weight_so_far = 0usize;
    for (item, weight) in items.into_iter().zip(weights.iter().copied().chain(std::iter::repeat(0))) {
        current.push(item);
        weight_so_far += weight;
        if batches.len() + 1 < threads && weight_so_far * threads >= total * (batches.len() + 1) {
            batches.push(std::mem::take(&mut current));
        }
    }
    batches.push(current);
    let work = &work;
    std::thread::scope(|scope| {
        let running: Vec<_> = batches
            .into_iter()
            .map(|batch| {
                std::thread::Builder::new()
                    .name("yaml-parse".into())
                    .stack_size(PARSE_STACK_BYTES)
                    .spawn_scoped(scope, move || work(batch))
            })
            .collect();
        running
            .into_iter()
            .map(|thread| match thread {
                Ok(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(e) => panic!("cannot start a parsing thread: {e}"),
            })
            .collect()
    })
}

/// Stack of the parsing thread: MAX_DEPTH levels with room to spare (reserved, not touched).
const PARSE_STACK_BYTES: usize = 64 << 20;

/// The non-empty documents of a stream, each with the line it starts on.
pub fn split_stream(text: &str) -> Vec<(u32, String)> {
    let mut chunks = split_documents(text);
    chunks.retain(|(_, chunk)| {
        !chunk.lines().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#') || t == "..."
        })
    });
    chunks
}

/// Parses one document of [`split_stream`]. Call it on a thread of [`in_parallel`]: the
/// parser needs a deep stack.
pub fn parse_document(chunk: &str, start_line: u32) -> Result<Document, YamlError> {
    parse_chunk(chunk, start_line)
}

/// Splits on `---` lines (document markers at column 0), keeping each chunk's first line.
fn split_documents(text: &str) -> Vec<(u32, String)> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut start = 1u32;
    for (i, line) in text.lines().enumerate() {
        let is_marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if is_marker {
            chunks.push((start, std::mem::take(&mut current)));
            start = i as u32 + 1;
            // keep a trailing inline value (`--- {a: 1}`) on its own line
            let rest = line[3..].trim_start();
            current.push_str(rest);
            current.push('\n');
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    chunks.push((start, current));
    chunks
}

fn parse_chunk(chunk: &str, start_line: u32) -> Result<Document, YamlError> {
    let offset = start_line - 1;
    let spanned: Spanned<Raw> =
        serde_saphyr::from_str_with_options(chunk, options_for(chunk)).map_err(|e| {
            let pos = e
                .location()
                .map(|l| Pos { line: l.line() as u32 + offset, column: l.column() as u32 })
                .unwrap_or(Pos { line: start_line, column: 1 });
            YamlError { pos, message: message_of(&e) }
        })?;
    let mut locations = Locations::default();
    let line = spanned.referenced.line() as u32 + offset;
    let value = flatten(spanned, PathHash::ROOT, true, offset, &mut locations);
    locations.seal();
    Ok(Document { value, locations, line: line.max(start_line) })
}

/// Parser limits scaled to the input. The library's defaults (250,000 nodes and 1,000,000
/// events a document) are sized for config files; one `kubectl get pods -A -o yaml` List of a
/// large cluster is a single document with millions of nodes. A node or event takes at least
/// one byte of input, so limits of the input's length never refuse honest input, while the
/// alias/anchor limits (left at their defaults) still stop "billion laughs" expansion.
fn options_for(chunk: &str) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = budget.max_nodes.max(chunk.len() + 1);
    budget.max_events = budget.max_events.max(2 * chunk.len() + 2);
    // Parsing and `flatten` recurse per level; `parse_stream` gives them a stack that holds
    // this depth (a test parses the deepest document from a 2 MiB thread).
    budget.max_depth = MAX_DEPTH;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// Deepest nesting a document may have (YAML objects in the wild stay far below this).
const MAX_DEPTH: usize = 128;

/// The parser's message in the user's terms: no library option names or debug output.
fn message_of(error: &serde_saphyr::Error) -> String {
    match error.without_snippet() {
        serde_saphyr::Error::DuplicateMappingKey { key: Some(key), .. } => {
            format!("duplicate key {key:?} in one mapping (each key may appear once)")
        }
        serde_saphyr::Error::DuplicateMappingKey { key: None, .. } => {
            "duplicate key in one mapping (each key may appear once)".into()
        }
        serde_saphyr::Error::Budget { breach, .. } => {
            use serde_saphyr::budget::BudgetBreach as B;
            let what = match breach {
                B::Depth { .. } => format!("it nests deeper than {MAX_DEPTH} levels"),
                B::Aliases { .. } | B::Anchors { .. } | B::AliasAnchorRatio { .. } => {
                    "it expands too many YAML aliases (`*ref`): a guard against alias bombs".into()
                }
                B::Documents { .. } => "it holds too many `---` documents".into(),
                _ => "it is too large".into(),
            };
            format!("this document cannot be read: {what}")
        }
        other => first_line(&other.to_string()),
    }
}

fn first_line(msg: &str) -> String {
    msg.lines().next().unwrap_or(msg).trim().to_string()
}

/// The node as a [`Value`], each field's position recorded under its path's hash
/// (`at_root`: the path is empty).
fn flatten(node: Spanned<Raw>, path: PathHash, at_root: bool, offset: u32, locs: &mut Locations) -> Value {
    let pos = Pos { line: node.referenced.line() as u32 + offset, column: node.referenced.column() as u32 };
    let value = match node.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::I64(n) => Value::from(n),
        Raw::U64(n) => Value::from(n),
        Raw::F64(n) => serde_json::Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null),
        Raw::Str(s) => Value::String(s),
        Raw::Seq(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| flatten(item, path.index(i), false, offset, locs))
                .collect(),
        ),
        Raw::Map(entries) => {
            let mut map = serde_json::Map::with_capacity(entries.len());
            for (key, item) in entries {
                let v = flatten(item, path.key(at_root, &key), false, offset, locs);
                map.insert(key, v);
            }
            Value::Object(map)
        }
    };
    if pos.line > offset {
        locs.insert(path, pos);
    }
    value
}

/// A YAML node whose children carry their positions.
enum Raw {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(String, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::I64(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::U64(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::F64(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries: Vec<(String, Spanned<Raw>)> = Vec::new();
        while let Some(key) = map.next_key::<KeyString>()? {
            let value = map.next_value::<Spanned<Raw>>()?;
            if entries.iter().any(|(k, _)| *k == key.0) {
                return Err(de::Error::custom(format!("duplicate key {:?}", key.0)));
            }
            entries.push((key.0, value));
        }
        Ok(Raw::Map(entries))
    }
}

/// Map keys as strings, whatever scalar type YAML gave them (`80: x` → "80").
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar map key")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<KeyString, E> {
                Ok(KeyString("null".into()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_limits_are_said_in_the_users_terms() {
        let dup = parse_one("a: 1\na: 2\n").unwrap_err();
        assert_eq!(
            (dup.pos.line, dup.message.as_str()),
            (2, "duplicate key \"a\" in one mapping (each key may appear once)")
        );
        let deep = format!("{}1{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let err = parse_one(&deep).unwrap_err();
        assert!(err.message.contains("nests deeper than 128 levels"), "{err}");
        assert!(!err.message.contains("Budget") && !err.message.contains("Options"), "{err}");
    }

    #[test]
    fn large_single_documents_are_read() {
        // One List the size of a large cluster's `kubectl get -o yaml`: well past the library's
        // default of 250,000 nodes.
        let items: String =
            (0..30_000).map(|i| format!("- {{name: pod-{i}, n: {i}, x: [1, 2]}}\n")).collect();
        let doc = parse_one(&format!("items:\n{items}")).expect("read");
        assert_eq!(doc.value["items"].as_array().map(Vec::len), Some(30_000));
    }

    #[test]
    fn the_deepest_allowed_document_fits_a_small_thread_stack() {
        let depth = MAX_DEPTH - 1;
        let text = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let parsed = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || parse_one(&text).is_ok())
            .expect("thread")
            .join()
            .expect("no stack overflow");
        assert!(parsed);
    }

    #[test]
    fn keeps_positions_of_nested_fields() {
        let doc = parse_one("a:\n  b: 1\n  list:\n    - x\n    - name: y\n").unwrap();
        assert_eq!(doc.value["a"]["b"], 1);
        assert_eq!(doc.locations.get("a.b").unwrap().line, 2);
        assert_eq!(doc.locations.get("a.list[1].name").unwrap().line, 5);
        assert_eq!(doc.locations.find("a.list[1].name.missing").unwrap().line, 5);
    }

    #[test]
    fn splits_streams_and_keeps_going_after_a_bad_document() {
        let docs = parse_stream("a: 1\n---\nb: [1,\n---\n# only a comment\n---\nc:\n  d: 2\n");
        assert_eq!(docs.len(), 3);
        assert!(docs[0].is_ok());
        let err = docs[1].as_ref().unwrap_err();
        assert!(err.pos.line >= 3, "{err}");
        let third = docs[2].as_ref().unwrap();
        assert_eq!(third.locations.get("c.d").unwrap().line, 8);
    }

    /// Every path `join_key`/`join_index` write for a node is found, by its hash, at the
    /// node's position; paths that are not there are not.
    #[test]
    fn every_joined_path_is_found_at_its_node() {
        fn walk(value: &Value, path: String, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, join_key(&path, k), out)),
                Value::Array(items) => {
                    items.iter().enumerate().for_each(|(i, v)| walk(v, join_index(&path, i), out))
                }
                _ => {}
            }
            out.push(path);
        }
        let items: String = (0..12).map(|i| format!("  - {{k: {i}}}\n")).collect();
        let text = format!("a:\n  b.c: 1\n  \"x y\": [1, 2]\n  '': e\n  10: ten\nlist:\n{items}");
        let doc = parse_one(&text).unwrap();
        let mut paths = Vec::new();
        walk(&doc.value, String::new(), &mut paths);
        assert_eq!(paths.len(), doc.locations.len());
        for path in &paths {
            assert!(doc.locations.get(path).is_some(), "{path}");
        }
        assert_eq!(doc.locations.get("list[11].k").map(|p| p.line), Some(18));
        assert_eq!(doc.locations.get("a[\"b.c\"]").map(|p| p.line), Some(2));
        assert_eq!(doc.locations.get("a.b"), None);
        assert_eq!(doc.locations.find("list[11].k.deeper[3]").map(|p| p.line), Some(18));
    }

    #[test]
    fn quotes_keys_with_dots() {
        let doc = parse_one("labels:\n  app.kubernetes.io/name: x\n").unwrap();
        assert_eq!(doc.locations.get("labels[\"app.kubernetes.io/name\"]").unwrap().line, 2);
    }

    #[test]
    fn json_is_yaml() {
        let doc = parse_one("{\"kind\": \"Pod\", \"spec\": {\"x\": [1, 2]}}").unwrap();
        assert_eq!(doc.value["spec"]["x"][1], 2);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        assert!(parse_one("a: 1\na: 2\n").is_err());
    }
}
