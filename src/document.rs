//! Source documents: YAML or TOML text parsed once into a position-carrying tree.
//!
//! Everything later (schema validation, typed deserialization, SQL checks) works on the
//! `serde_json::Value` this module produces and asks `Document::position` for the place of a
//! JSON pointer. This is the one module that knows about the two syntaxes, so diagnostics
//! look the same whichever one a plan is written in.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::diagnostic::Diagnostic;

/// The syntax of a document, chosen by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Yaml,
    Toml,
}

impl Syntax {
    /// `.yaml`/`.yml` or `.toml`; anything else is not a plan file.
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Some(Self::Yaml),
            "toml" => Some(Self::Toml),
            _ => None,
        }
    }
}

/// A 1-based line and character column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// Byte offsets of line starts, to turn offsets into line/column.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { starts }
    }

    /// Line and character column of a byte offset (clamped to the text).
    pub fn line_col(&self, text: &str, offset: usize) -> LineCol {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        LineCol { line, column }
    }

    /// Byte offset of a line/column (inverse of `line_col`, clamped).
    pub fn offset(&self, text: &str, at: LineCol) -> usize {
        let Some(&start) = self.starts.get(at.line.saturating_sub(1)) else {
            return text.len();
        };
        text[start..]
            .char_indices()
            .nth(at.column.saturating_sub(1))
            .map_or(text.len(), |(i, _)| start + i)
    }
}

/// Where a value sits in the text: the value itself and, for map entries, its key.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub value: usize,
    pub key: Option<usize>,
}

/// A parsed document: its JSON value and the byte offset of every pointer in it.
#[derive(Debug, Clone)]
pub struct Document {
    pub text: String,
    pub value: Value,
    places: BTreeMap<String, Place>,
    lines: LineIndex,
}

impl Document {
    /// Parse text in the given syntax. Syntax errors and duplicate keys come back as
    /// diagnostics; a document with a syntax error has no value.
    pub fn parse(text: &str, syntax: Syntax) -> Result<Self, Vec<Diagnostic>> {
        let lines = LineIndex::new(text);
        let root = match syntax {
            Syntax::Yaml => parse_yaml(text, &lines)?,
            Syntax::Toml => parse_toml(text, &lines)?,
        };
        let mut doc = Self {
            text: text.to_owned(),
            value: Value::Null,
            places: BTreeMap::new(),
            lines,
        };
        let mut duplicates = Vec::new();
        doc.value = doc.flatten(root, String::new(), None, &mut duplicates);
        if duplicates.is_empty() {
            Ok(doc)
        } else {
            Err(duplicates)
        }
    }

    /// Line/column of the value at `pointer`, or of its nearest existing ancestor.
    pub fn position(&self, pointer: &str) -> LineCol {
        self.offset_of(pointer, false)
    }

    /// Line/column of the key of the entry at `pointer` (falls back to the value).
    pub fn key_position(&self, pointer: &str) -> LineCol {
        self.offset_of(pointer, true)
    }

    /// Byte offset where the value at `pointer` starts, if it exists.
    pub fn value_offset(&self, pointer: &str) -> Option<usize> {
        self.places.get(pointer).map(|p| p.value)
    }

    pub fn line_col(&self, offset: usize) -> LineCol {
        self.lines.line_col(&self.text, offset)
    }

    fn offset_of(&self, pointer: &str, key: bool) -> LineCol {
        let mut p = pointer;
        loop {
            if let Some(place) = self.places.get(p) {
                let offset = if key {
                    place.key.unwrap_or(place.value)
                } else {
                    place.value
                };
                return self.line_col(offset);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return LineCol { line: 1, column: 1 },
            }
        }
    }

    fn flatten(
        &mut self,
        node: Node,
        pointer: String,
        key: Option<usize>,
        duplicates: &mut Vec<Diagnostic>,
    ) -> Value {
        self.places.insert(
            pointer.clone(),
            Place {
                value: node.offset,
                key,
            },
        );
        match node.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(b),
            NodeKind::Int(i) => Value::from(i),
            NodeKind::Float(f) => {
                serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
            }
            NodeKind::Str(s) => Value::String(s),
            NodeKind::Seq(items) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| self.flatten(item, format!("{pointer}/{i}"), None, duplicates))
                    .collect(),
            ),
            NodeKind::Map(entries) => {
                let mut map = serde_json::Map::new();
                for (name, key_offset, child) in entries {
                    let child_pointer = format!("{pointer}/{}", escape_pointer(&name));
                    if map.contains_key(&name) {
                        let at = self.line_col(key_offset);
                        duplicates.push(
                            duplicate_key(&pointer, &name, &child_pointer).at(at.line, at.column),
                        );
                        continue;
                    }
                    let value = self.flatten(child, child_pointer, Some(key_offset), duplicates);
                    map.insert(name, value);
                }
                Value::Object(map)
            }
        }
    }
}

fn duplicate_key(parent: &str, name: &str, pointer: &str) -> Diagnostic {
    if parent == "/register_bq" {
        Diagnostic::error(
            "duplicate_alias",
            format!("alias `{name}` is defined twice"),
        )
        .pointer(pointer)
        .hint("each register_bq alias must be unique; rename or remove one of them")
    } else {
        Diagnostic::error("duplicate_key", format!("key `{name}` appears twice"))
            .pointer(pointer)
            .hint("remove one of the two entries")
    }
}

/// Escape one JSON-pointer segment (RFC 6901).
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

// ---------------------------------------------------------------------------------------
// The position-carrying tree, deserialized through each format's own `Spanned` wrapper.

#[derive(Debug)]
struct Node {
    offset: usize,
    kind: NodeKind,
}

#[derive(Debug)]
enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order, duplicates kept so `flatten` can report them.
    Map(Vec<(String, usize, Node)>),
}

/// What differs between YAML and TOML: how a spanned value is wrapped and unwrapped.
trait Flavor: Sized {
    type Spanned<T: for<'de> Deserialize<'de>>: for<'de> Deserialize<'de>;
    fn split<T: for<'de> Deserialize<'de>>(spanned: Self::Spanned<T>) -> (T, usize);
}

struct YamlFlavor;
impl Flavor for YamlFlavor {
    type Spanned<T: for<'de> Deserialize<'de>> = serde_saphyr::Spanned<T>;
    fn split<T: for<'de> Deserialize<'de>>(s: Self::Spanned<T>) -> (T, usize) {
        let offset = s.referenced.span().byte_offset().unwrap_or(0);
        (s.value, usize::try_from(offset).unwrap_or(0))
    }
}

struct TomlFlavor;
impl Flavor for TomlFlavor {
    type Spanned<T: for<'de> Deserialize<'de>> = toml::Spanned<T>;
    fn split<T: for<'de> Deserialize<'de>>(s: Self::Spanned<T>) -> (T, usize) {
        let start = s.span().start;
        (s.into_inner(), start)
    }
}

struct Tree<F>(NodeKind, PhantomData<F>);

impl<F: Flavor> Tree<F> {
    fn node(spanned: F::Spanned<Self>) -> Node {
        let (tree, offset) = F::split(spanned);
        Node {
            offset,
            kind: tree.0,
        }
    }
}

impl<'de, F: Flavor> Deserialize<'de> for Tree<F> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(TreeVisitor::<F>(PhantomData))
            .map(|kind| Tree(kind, PhantomData))
    }
}

struct TreeVisitor<F>(PhantomData<F>);

/// The key toml uses to smuggle a datetime through serde.
const TOML_DATETIME: &str = "$__toml_private_datetime";

impl<'de, F: Flavor> Visitor<'de> for TreeVisitor<F> {
    type Value = NodeKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_unit<E>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Null)
    }
    fn visit_none<E>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeKind, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> Result<NodeKind, E> {
        Ok(NodeKind::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<NodeKind, E> {
        Ok(NodeKind::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<NodeKind, E> {
        // Integers past i64 are kept as floats: no plan field needs them exactly.
        #[allow(clippy::cast_precision_loss)]
        Ok(i64::try_from(v).map_or(NodeKind::Float(v as f64), NodeKind::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<NodeKind, E> {
        Ok(NodeKind::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<NodeKind, E> {
        Ok(NodeKind::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<NodeKind, E> {
        Ok(NodeKind::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeKind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<F::Spanned<Tree<F>>>()? {
            items.push(Tree::<F>::node(item));
        }
        Ok(NodeKind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeKind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<F::Spanned<String>>()? {
            let (name, key_offset) = F::split(key);
            if name == TOML_DATETIME {
                let text: String = map.next_value()?;
                return Ok(NodeKind::Str(text));
            }
            let value = Tree::<F>::node(map.next_value::<F::Spanned<Tree<F>>>()?);
            entries.push((name, key_offset, value));
        }
        Ok(NodeKind::Map(entries))
    }
}

fn parse_yaml(text: &str, lines: &LineIndex) -> Result<Node, Vec<Diagnostic>> {
    check_yaml_tags(text, lines)?;
    // Duplicates reach our visitor, which reports them as `duplicate_key`/`duplicate_alias`.
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::PassThrough,
        // YAML 1.1 read `y`, `no`, `on` as booleans (the "Norway problem"): only true/false are.
        strict_booleans: true,
    };
    match serde_saphyr::from_str_with_options::<Option<serde_saphyr::Spanned<Tree<YamlFlavor>>>>(
        text, options,
    ) {
        Ok(Some(root)) => Ok(Tree::<YamlFlavor>::node(root)),
        Ok(None) => Ok(Node {
            offset: 0,
            kind: NodeKind::Null,
        }),
        Err(err) => {
            let mut diag = Diagnostic::error("yaml_syntax", yaml_message(&err))
                .hint("fix the YAML syntax at this position");
            if let Some(loc) = err.location() {
                let line = usize::try_from(loc.line()).unwrap_or(1);
                let column = usize::try_from(loc.column()).unwrap_or(1);
                diag = diag.at(line.max(1), column.max(1));
            } else {
                let end = lines.line_col(text, text.len());
                diag = diag.at(end.line, end.column);
            }
            Err(vec![diag])
        }
    }
}

/// Refuses every YAML tag (`!!binary`, `!!str`, `!custom`, `%TAG` shorthands, verbatim).
///
/// A tag changes what a value is (`!!binary` decodes base64, `!!str` turns `1` into `"1"`,
/// a custom tag selects an enum variant), and what a plan means must be visible in its text.
/// The parser's own event stream finds them, so tags inside quoted or block scalars are not
/// mistaken for tags. A syntax error ends the scan; the full parse reports it.
fn check_yaml_tags(text: &str, lines: &LineIndex) -> Result<(), Vec<Diagnostic>> {
    let mut found = Vec::new();
    for event in serde_saphyr::granit_parser::Parser::new_from_str(text) {
        let Ok((event, span)) = event else { break };
        let Some(tag) = event.tag() else { continue };
        let marker = span.tag_start.unwrap_or(span.start);
        let at = match marker.byte_offset() {
            Some(offset) => lines.line_col(text, offset),
            None => LineCol {
                line: marker.line().max(1),
                column: marker.col() + 1,
            },
        };
        found.push(
            Diagnostic::error(
                "yaml_tag",
                format!("YAML tag `{}` is not allowed in a plan", tag.original()),
            )
            .at(at.line, at.column)
            .hint(
                "remove the tag and write the value as plain YAML (quote it to make it a string)",
            ),
        );
    }
    if found.is_empty() { Ok(()) } else { Err(found) }
}

/// serde-saphyr's message without its own snippet and position suffix: we render those.
fn yaml_message(err: &serde_saphyr::Error) -> String {
    let text = err.without_snippet().to_string();
    let first = text.lines().next().unwrap_or("invalid YAML").trim();
    match first.find(" at line ") {
        Some(i) => first[..i].to_owned(),
        None => first.to_owned(),
    }
}

fn parse_toml(text: &str, lines: &LineIndex) -> Result<Node, Vec<Diagnostic>> {
    match toml::from_str::<toml::Spanned<Tree<TomlFlavor>>>(text) {
        Ok(root) => {
            let mut node = Tree::<TomlFlavor>::node(root);
            // The root table's span covers the whole file; point at its start.
            node.offset = 0;
            Ok(node)
        }
        Err(err) => {
            let at = lines.line_col(text, err.span().map_or(text.len(), |s| s.start));
            // toml's spans do not reach inside its own datetime values; say what to do instead.
            let (message, hint) = if err.message().contains(TOML_DATETIME) {
                (
                    "TOML date and time values are not supported in plans".to_owned(),
                    "quote it: `default = \"2026-01-01\"`",
                )
            } else {
                (
                    err.message().trim().to_owned(),
                    "fix the TOML syntax at this position",
                )
            };
            Err(vec![
                Diagnostic::error("toml_syntax", message)
                    .at(at.line, at.column)
                    .hint(hint),
            ])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_values_keep_their_positions() {
        let doc = Document::parse(
            "a: 1\nb:\n  c: [x, y]\n  d: |\n    SELECT 1\n",
            Syntax::Yaml,
        )
        .unwrap();
        assert_eq!(doc.value["b"]["c"][1], "y");
        assert_eq!(doc.position("/a"), LineCol { line: 1, column: 4 });
        assert_eq!(doc.key_position("/b/c"), LineCol { line: 3, column: 3 });
        assert_eq!(
            doc.position("/b/d").line,
            5,
            "block scalars point at their first line"
        );
        assert_eq!(
            doc.position("/b/c/1"),
            LineCol {
                line: 3,
                column: 10
            }
        );
    }

    #[test]
    fn toml_values_keep_their_positions() {
        let doc = Document::parse("a = 1\n[b]\nc = [\"x\", \"y\"]\n", Syntax::Toml).unwrap();
        assert_eq!(doc.value["b"]["c"][0], "x");
        assert_eq!(doc.position("/a"), LineCol { line: 1, column: 5 });
        assert_eq!(doc.key_position("/b/c"), LineCol { line: 3, column: 1 });
    }

    #[test]
    fn toml_datetimes_are_refused_with_a_hint_to_quote_them() {
        let errs = Document::parse("d = 2026-01-01\n", Syntax::Toml).unwrap_err();
        assert_eq!(errs[0].code, "toml_syntax");
        assert!(errs[0].hint.as_deref().unwrap().contains("quote"));
    }

    #[test]
    fn yaml_booleans_are_only_true_and_false() {
        let doc = Document::parse("a: [y, no, on, true]\n", Syntax::Yaml).unwrap();
        assert_eq!(doc.value["a"], serde_json::json!(["y", "no", "on", true]));
    }

    #[test]
    fn duplicate_yaml_keys_are_reported_at_the_second_key() {
        let errs = Document::parse("a: 1\nb: 2\na: 3\n", Syntax::Yaml).unwrap_err();
        assert_eq!(errs[0].code, "duplicate_key");
        assert_eq!((errs[0].line, errs[0].column), (Some(3), Some(1)));
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let errs = Document::parse("a: [1, 2\nb: 3\n", Syntax::Yaml).unwrap_err();
        assert_eq!(errs[0].code, "yaml_syntax");
        assert!(errs[0].line.is_some());
        let errs = Document::parse("a = \n", Syntax::Toml).unwrap_err();
        assert_eq!(errs[0].code, "toml_syntax");
        assert_eq!(errs[0].line, Some(1));
    }

    #[test]
    fn yaml_tags_are_refused_where_they_are_written_and_nowhere_else() {
        let text = "a: !!binary aGk=\nb: [x, !!str 1]\nc: !custom {k: v}\nd: !<tag:x.org,1:y> z\n";
        let errs = Document::parse(text, Syntax::Yaml).unwrap_err();
        let found: Vec<_> = errs
            .iter()
            .map(|d| (d.code, d.line.unwrap(), d.column.unwrap()))
            .collect();
        assert_eq!(
            found,
            [
                ("yaml_tag", 1, 4),
                ("yaml_tag", 2, 8),
                ("yaml_tag", 3, 4),
                ("yaml_tag", 4, 4)
            ]
        );
        assert!(errs[0].message.contains("!!binary"), "{}", errs[0].message);
        assert!(errs[2].message.contains("!custom"), "{}", errs[2].message);

        // An exclamation mark inside a quoted or block scalar is text, not a tag.
        let text = "a: 'x !!binary y'\nb: |\n  !!str in a block\nc: \"!c\"\nd: x!y\n";
        let doc = Document::parse(text, Syntax::Yaml).unwrap();
        assert_eq!(doc.value["b"], "!!str in a block\n");
        assert_eq!(doc.value["d"], "x!y");
    }

    #[test]
    fn line_index_counts_characters_not_bytes() {
        let text = "é: x\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_col(text, 2), LineCol { line: 1, column: 2 });
        assert_eq!(idx.line_col(text, 3), LineCol { line: 1, column: 3 });
        assert_eq!(idx.offset(text, LineCol { line: 1, column: 2 }), 2);
    }
}
